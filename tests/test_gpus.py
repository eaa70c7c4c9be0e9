"""GPU discovery from CUDA_VISIBLE_DEVICES, the workers plan, and GPU slots across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
import uuid

import pytest

from kubric_gen import gpus


@pytest.mark.parametrize("listed, count, expected", [
    ("0,1", 2, ["0", "1"]),
    (" 2 , 3 ", 4, ["2", "3"]),
    ("GPU-8a2b,GPU-77c1", 2, ["GPU-8a2b", "GPU-77c1"]),
    ("MIG-4f1e-2c3d", 1, ["MIG-4f1e-2c3d"]),
    ("", 2, []),
    ("-1", 2, []),           # hides every GPU
    ("0,-1,1", 2, ["0"]),    # CUDA stops at the first invalid entry
    ("abc,,-1", 2, []),
    ("0,abc,1", 2, ["0"]),
    ("1,,0", 2, ["1"]),
    ("0,2,1", 2, ["0"]),     # no GPU 2 on a machine with two
    ("0,0", 2, ["0"]),       # listed twice
    ("7", None, ["7"]),      # the driver's count unknown: any index
])
def test_cuda_visible_devices_is_parsed_as_cuda_does(listed, count, expected):
    assert gpus.parse_visible_devices(listed, count) == expected


@pytest.mark.skipif(gpus.driver_gpus() > 0, reason="checks a machine without an NVIDIA driver")
@pytest.mark.parametrize("listed", ["0,1", "abc,,-1", "GPU-8a2b"])
def test_without_an_nvidia_driver_no_gpu_is_visible(monkeypatch, listed):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", listed)
    assert gpus.visible_gpus() == []


@pytest.mark.skipif(gpus.driver_gpus() == 0, reason="needs an NVIDIA driver")
def test_with_a_driver_visible_gpus_follow_the_variable(monkeypatch):
    count = gpus.driver_gpus()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpus.visible_gpus() == [str(i) for i in range(count)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{count - 1},abc,0")
    assert gpus.visible_gpus() == [str(count - 1)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{count}")
    assert gpus.visible_gpus() == []


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
