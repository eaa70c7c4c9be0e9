"""GPU discovery from CUDA_VISIBLE_DEVICES, the workers plan, and GPU slots across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
import uuid

import pytest

from kubric_gen import gpus


@pytest.mark.parametrize("listed, expected", [
    ("0,1", ["0", "1"]),
    (" 2 , 3 ", ["2", "3"]),
    ("GPU-8a2b,GPU-77c1", ["GPU-8a2b", "GPU-77c1"]),
    ("", []),
    ("-1", []),
    ("0,-1,1", ["0"]),  # CUDA stops at the first invalid entry
])
def test_visible_gpus_follow_cuda_visible_devices(monkeypatch, listed, expected):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", listed)
    assert gpus.visible_gpus() == expected


@pytest.mark.parametrize("n_gpus, cores, per_gpu, expected", [
    (1, 16, None, 8),   # the measured default
    (2, 16, None, 8),   # 2 cores per worker at most 8 workers
    (8, 16, None, 8),
    (1, 2, None, 1),
    (2, 16, 3, 6),      # asked for
])
def test_workers_plan(n_gpus, cores, per_gpu, expected):
    assert gpus.plan_workers(n_gpus, cores, per_gpu) == expected


def _claim(run_id: str, queue) -> None:
    queue.put(gpus.gpu_for_this_thread(run_id, ["0", "1"]))


def test_threads_and_processes_spread_over_the_gpus():
    run_id = uuid.uuid4().hex
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(gpus.gpu_for_this_thread(run_id, ["0", "1"])))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_claim, args=(run_id, queue))
    process.start()
    seen.append(queue.get(timeout=60))
    process.join(60)
    assert sorted(seen) == ["0", "0", "1", "1"]  # slots 0..3 on this machine, round robin
    assert gpus.gpu_for_this_thread(run_id, ["0", "1"]) in ("0", "1")  # this thread keeps its slot
    gpus.release_slots(run_id)
    assert not gpus.slot_directory(run_id).exists()
