"""NVIDIA GPUs on this machine, and which one a render child uses.

`kubric-gen run` puts several scenes on each GPU at once (one render child per worker; while
one child runs its CPU stages another renders) and pins each child to one GPU with
CUDA_VISIBLE_DEVICES, so a multi-GPU machine spreads its workers evenly. A worker thread
claims a numbered slot with an exclusive file lock (released when its process ends); slot k
renders on GPU k mod the number of GPUs. No CUDA library is loaded here.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

# Several scenes per GPU: measured on one H200 (16 cores) with MOVi-A 256x256x24 at 64 spp, 1, 4
# and 8 processes at once gave 11.6, 4.1 and 2.6 s per scene (benchmarks/README.md, "GPU").
WORKERS_PER_GPU = 8
MIN_CORES_PER_WORKER = 2  # a worker's CPU stages (ground truth, writing) need cores of their own

_local = threading.local()


_UUID = re.compile(r"^(GPU|MIG)-[0-9A-Za-z-]+$")


def parse_visible_devices(listed: str, count: int | None = None) -> list[str]:
    """CUDA_VISIBLE_DEVICES as CUDA reads it: comma-separated device indices (below `count`,
    the driver's number of GPUs, when known) or `GPU-`/`MIG-` UUIDs, up to the first entry
    that is none of these (so "-1" hides every GPU, and "0,abc,1" is just "0"); an index or
    UUID listed twice ends the list too."""
    out: list[str] = []
    for entry in (e.strip() for e in listed.split(",")):
        if entry.isdigit() and entry.isascii():
            entry = str(int(entry))
            if count is not None and int(entry) >= count:
                break
        elif not _UUID.match(entry):
            break
        if entry in out:
            break
        out.append(entry)
    return out


def driver_gpus() -> int:
    """How many GPUs the NVIDIA driver lists on this machine (0 without a driver)."""
    proc = Path("/proc/driver/nvidia/gpus")
    if proc.is_dir():
        return len(list(proc.iterdir()))
    if shutil.which("nvidia-smi"):
        try:
            done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return 0
        return sum(1 for line in done.stdout.splitlines() if line.startswith("GPU "))
    return 0


def visible_gpus() -> list[str]:
    """The NVIDIA GPUs this process may use, as CUDA_VISIBLE_DEVICES entries ("0", "1", or
    UUIDs when the variable lists those): none without an NVIDIA driver (whatever the
    variable says); else the variable's valid entries (`parse_visible_devices`) when it is
    set, or one per GPU the driver lists."""
    count = driver_gpus()
    if count == 0:
        return []
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return parse_visible_devices(listed, count)
    return [str(i) for i in range(count)]


def uses_gpu(device: str) -> bool:
    """Whether scenes rendered with `device` go to a GPU when there is one."""
    return device in ("auto", "cuda", "optix")


def plan_workers(gpus: int, cores: int, workers_per_gpu: int | None) -> int:
    """Parallel scenes on a machine with `gpus` GPUs: `workers_per_gpu` per GPU (default
    WORKERS_PER_GPU, capped so each worker keeps MIN_CORES_PER_WORKER cores)."""
    if workers_per_gpu:
        return gpus * workers_per_gpu
    per_gpu = max(1, min(WORKERS_PER_GPU, cores // max(1, MIN_CORES_PER_WORKER * gpus)))
    return gpus * per_gpu


def slot_directory(run_id: str) -> Path:
    return Path(tempfile.gettempdir()) / f"kubric_gen-gpu-slots-{run_id}"


def _claim_slot(run_id: str) -> int:
    directory = slot_directory(run_id)
    directory.mkdir(parents=True, exist_ok=True)
    slot = 0
    while True:
        fd = os.open(directory / f"slot-{slot}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            slot += 1
            continue
        _local.fd = fd  # held (not closed) for the life of this thread's process
        return slot


def gpu_for_this_thread(run_id: str, gpus: list[str]) -> str:
    """The GPU this worker thread renders on during run `run_id`: the lowest free slot on this
    machine, modulo the number of GPUs (each thread keeps its slot)."""
    if getattr(_local, "run_id", None) != run_id:
        if getattr(_local, "fd", None) is not None:  # a slot of an earlier run
            os.close(_local.fd)
            _local.fd = None
        _local.run_id, _local.slot = run_id, _claim_slot(run_id)
    return gpus[_local.slot % len(gpus)]


def release_slots(run_id: str) -> None:
    """Remove a finished run's slot files on this machine."""
    shutil.rmtree(slot_directory(run_id), ignore_errors=True)
