"""One scene of a run, as a pipeline worker does it (no Beam here).

`process_scene(seed, spec)`: skip the scene if it is complete; otherwise generate it in a
child process (`isolation.IsolatedScenes`), retrying crashes, timeouts and unexpected errors
up to `spec.retries` times (errors of the user's world or config are not retried); write its
status record `OUTPUT/_status/scene_XXXXXXXX.json`; return the record. When the run is being
stopped (Ctrl-C: `isolation.stop_all`) it writes nothing and returns None.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubric_gen import gpus
from kubric_gen.pipeline.isolation import SceneFailure, Stopped, this_thread_scenes
from kubric_gen.pipeline.outputs import Output, open_output, scene_name

log = logging.getLogger(__name__)

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class PipelineSpec:
    """Everything a worker needs to generate the scenes of one run (plain, picklable data)."""

    run_id: str
    output: str
    world: dict[str, Any]  # isolation.world_spec: {"ref", "path", "package", "digest", "files" (by value)}
    overrides: dict[str, Any]
    settings: dict[str, Any]  # RenderSettings fields; threads 0 = decide on the worker
    num_tracks: int | None = None
    float_layers: bool = False
    preview: bool = True
    retries: int = 2
    timeout: float | None = None
    scenes_per_child: int = 1
    threads_by_host: dict[str, int] = field(default_factory=dict)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_outputs: dict[str, Output] = {}


def _output(url: str) -> Output:
    if url not in _outputs:
        _outputs[url] = open_output(url)
    return _outputs[url]


def _host_of(address: str) -> str:
    host = address.split("://", 1)[-1]
    return host.rsplit(":", 1)[0].strip("[]")


def worker_threads(spec: PipelineSpec) -> int:
    """Cycles threads for a scene on this worker: the spec's, else this Dask host's share
    of its cores, else every core."""
    if spec.settings.get("threads"):
        return int(spec.settings["threads"])
    cores = os.cpu_count() or 1
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return 0
    threads = spec.threads_by_host.get(_host_of(worker.address))
    if threads:
        return int(threads)
    return max(1, cores // max(1, worker.state.nthreads))


_host_gpus: list[str] | None = None


def _gpu(spec: PipelineSpec) -> str | None:
    """The GPU this worker thread's render children use (None: no GPU on this machine, or
    the run renders on the CPU)."""
    global _host_gpus
    if not gpus.uses_gpu(spec.settings.get("device", "auto")):
        return None
    if _host_gpus is None:
        _host_gpus = gpus.visible_gpus()
    return gpus.gpu_for_this_thread(spec.run_id, _host_gpus) if _host_gpus else None


def process_scene(seed: int, spec: PipelineSpec) -> dict[str, Any] | None:
    output = _output(spec.output)
    name = scene_name(seed)
    t0 = time.perf_counter()
    record: dict[str, Any] = {"run_id": spec.run_id, "scene": name, "seed": seed, "status": None, "attempts": 0,
                              "errors": [], "worker": f"{socket.gethostname()}:{os.getpid()}", "started": now()}
    if output.is_complete(name):
        record["status"] = SKIPPED
    else:
        settings = dict(spec.settings, threads=worker_threads(spec))
        request = {"name": name, "seed": seed, "output": spec.output, "world": spec.world,
                   "overrides": spec.overrides, "settings": settings, "num_tracks": spec.num_tracks,
                   "float_layers": spec.float_layers, "preview": spec.preview}
        scenes = this_thread_scenes(spec.scenes_per_child, _gpu(spec))
        for _attempt in range(spec.retries + 1):
            record["attempts"] += 1
            try:
                answer = scenes.generate(request, spec.timeout)
            except Stopped:  # the next run generates this scene
                return None
            except SceneFailure as failure:
                log.info("%s: attempt %d failed: %s", name, record["attempts"], failure.reason)
                record["errors"].append(failure.reason)
                record["reason"] = failure.reason
                record["stderr_tail"] = failure.stderr_tail
                if not output.remote:
                    output.clean_leftovers([name])
                if output.is_complete(name):  # finished meanwhile by another worker
                    record["status"] = SKIPPED
                    break
                if not failure.retryable:
                    break
                continue
            record.update(status=DONE, device=answer.get("device"), timings=answer.get("timings", {}),
                          threads=settings["threads"], gpu=scenes.gpu)  # None: not pinned to a GPU
            record.pop("reason", None)
            record.pop("stderr_tail", None)
            break
        if record["status"] is None:
            record["status"] = FAILED
    record["seconds"] = time.perf_counter() - t0
    record["finished"] = now()
    try:
        output.write_status(name, record)
    except Exception as e:  # noqa: BLE001 - the driver falls back to checking the scene itself
        log.error("%s: cannot write its status record: %s", name, e)
    return record
