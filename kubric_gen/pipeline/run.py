"""The driver of `kubric-gen run`: validate, list what is done, run Beam, summarise.

1. Validate everything in this process before anything is written or started: the world,
   its config (scene 0's, through `resolve_config`), the render settings, the runner, the
   Beam options (unknown ones are errors) and the output (creatable, writable); for
   `--runner dask` with `--dask_client_address`, that the scheduler answers.
2. List the complete scenes (they are skipped without starting a worker) and remove what
   killed runs left behind (`.tmp-*` directories; remote scene prefixes without marker).
3. Run the pipeline (`transforms.RenderSceneDirectories`) over the other seeds, with a
   progress thread polling the status records.
4. Read the status records back and write `OUTPUT/_run.json`. Exit status 0 when every
   scene is complete, 1 when some failed (they are listed), 2 for bad input.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict
from typing import Any

from kubric_gen import gpus
from kubric_gen.beam_options import validate_beam_flags
from kubric_gen.errors import ConfigError
from kubric_gen.parallel import usable_cores
from kubric_gen.pipeline.outputs import RUN_FILE, Output, open_output, scene_name
from kubric_gen.pipeline.runs import RunRecord
from kubric_gen.pipeline.task import DONE, FAILED, SKIPPED, RunSpec, now

log = logging.getLogger(__name__)

# --runner NAME -> Beam runner (None: the DirectRunner's batch engine, built in `_direct_runner`)
RUNNERS = {
    "direct": None,
    "dask": "apache_beam.runners.dask.dask_runner.DaskRunner",
    "dataflow": "DataflowRunner",
    "flink": "FlinkRunner",
    "spark": "SparkRunner",
    "portable": "PortableRunner",
    "prism": "PrismRunner",
}
_ALIASES = {"directrunner": "direct", "daskrunner": "dask", "dataflowrunner": "dataflow", "flinkrunner": "flink",
            "sparkrunner": "spark", "portablerunner": "portable", "prismrunner": "prism"}
PIPELINE_PACKAGES = ("apache-beam", "dask", "distributed", "fsspec")


def runner_name(text: str) -> str:
    name = text.strip().lower()
    name = _ALIASES.get(name, name)
    if name not in RUNNERS:
        raise ConfigError(f"--runner: unknown runner {text!r} (known: {', '.join(RUNNERS)})")
    return name


def _has_flag(flags: list[str], *names: str) -> bool:
    return any(f == n or f.startswith(n + "=") for f in flags for n in names)


def probe_dask(address: str, timeout: float = 10.0) -> dict[str, int]:
    """Check the scheduler answers; return Cycles threads per scene for each worker host
    (the host's cores shared between all worker threads on it)."""
    from distributed import Client

    try:
        with Client(address, timeout=timeout, set_as_default=False) as client:
            workers = client.scheduler_info(n_workers=-1)["workers"]
            cpus = client.run(os.cpu_count)
    except Exception as e:  # noqa: BLE001 - any failure to connect is the user's address
        raise ConfigError(f"--dask_client_address: cannot reach the dask scheduler at {address}: "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    slots: dict[str, int] = {}
    cores: dict[str, int] = {}
    for addr, info in workers.items():
        host = info.get("host") or addr.split("://")[-1].rsplit(":", 1)[0]
        slots[host] = slots.get(host, 0) + int(info.get("nthreads", 1))
        cores[host] = max(cores.get(host, 0), int(cpus.get(addr) or 1))
    if not workers:
        log.warning("the dask scheduler at %s has no workers yet", address)
    return {h: max(1, cores[h] // max(1, slots[h])) for h in slots}


def _direct_runner(options, quiet: bool = True):
    """The DirectRunner's batch engine (FnApiRunner), chosen directly: Beam's DirectRunner
    would first try the Prism runner, which downloads a binary and ignores
    --direct_running_mode. With `quiet`, its worker processes run `kubric_gen.pipeline.sdk_worker`
    (Beam's worker without the start-up chatter on stderr)."""
    try:
        from apache_beam.portability import python_urns
        from apache_beam.portability.api import beam_provision_api_pb2
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.runners.portability.portable_runner import JobServiceHandle
    except ImportError:  # pragma: no cover - a Beam that moved things
        return "DirectRunner"

    class FnApiRunner(fn_runner.FnApiRunner):
        def run_via_runner_api(self, pipeline_proto, options):
            if quiet:
                for env in pipeline_proto.components.environments.values():
                    if env.urn == python_urns.SUBPROCESS_SDK:
                        env.payload = env.payload.replace(b"-m apache_beam.runners.worker.sdk_worker_main",
                                                          b"-m kubric_gen.pipeline.sdk_worker")
            return super().run_via_runner_api(pipeline_proto, options)

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    return FnApiRunner(provision_info=info)


def _beam_runner(runner: str, options, verbose: bool = False):
    if runner == "direct":
        return _direct_runner(options, quiet=not verbose)
    if runner == "dask":
        from apache_beam.runners.dask.dask_runner import DaskRunner

        return DaskRunner()
    return RUNNERS[runner]


def versions() -> dict[str, str]:
    from kubric_gen.generate import versions as job_versions

    return job_versions(PIPELINE_PACKAGES)


def world_spec(world) -> dict[str, Any]:
    """How workers find the world: a built-in by name, else the file (its source travels
    along for workers on other machines)."""
    from kubric_gen.world import builtin_worlds_dir

    if world.path.parent.resolve() == builtin_worlds_dir().resolve():
        return {"ref": world.name, "path": None, "sha256": None, "source": None}
    path = world.path.resolve()
    return {"ref": str(path), "path": str(path), "sha256": world.sha256, "source": path.read_text()}


def summarize(output: Output, spec: RunSpec, seeds: list[int], skipped: set[str], pending: list[int],
              info: dict[str, Any]) -> dict[str, Any]:
    """The run summary from the status records of this run (a scene without one is
    checked directly: complete means done, else failed)."""
    done: list[str] = []
    failed: list[dict[str, Any]] = []
    skipped_now = set(skipped)
    records = []
    for seed in pending:
        name = scene_name(seed)
        record = output.read_status(name)
        if record is None or record.get("run_id") != spec.run_id:
            if output.is_complete(name):
                done.append(name)
            else:
                failed.append({"scene": name, "seed": seed, "attempts": None,
                               "reason": "no status record: its worker was lost or the pipeline stopped",
                               "errors": [], "stderr_tail": ""})
            continue
        records.append(record)
        if record["status"] == DONE:
            done.append(name)
        elif record["status"] == SKIPPED:
            skipped_now.add(name)
        else:
            failed.append({k: record.get(k) for k in ("scene", "seed", "attempts", "reason", "errors",
                                                      "stderr_tail", "worker")})
    seconds = [r["seconds"] for r in records if r["status"] == DONE]
    stages: dict[str, list[float]] = {}
    for r in records:
        for key, value in (r.get("timings") or {}).items():
            stages.setdefault(key, []).append(value)
    pipeline_s = info.get("pipeline_s") or 0.0
    return {
        **{k: v for k, v in info.items() if k not in ("pipeline_s", "total_s")},
        "seeds": [seeds[0], seeds[-1]] if seeds else [],
        "counts": {DONE: len(done), SKIPPED: len(skipped_now), FAILED: len(failed), "total": len(seeds)},
        "complete": not failed and info.get("pipeline_error") is None,
        DONE: sorted(done),
        SKIPPED: sorted(skipped_now),
        FAILED: sorted(failed, key=lambda f: f["seed"]),
        "timings": {
            "total_s": info.get("total_s"),
            "pipeline_s": pipeline_s,
            "scenes_per_hour": len(done) / pipeline_s * 3600 if pipeline_s > 0 else None,
            "scene_seconds": {"mean": statistics.fmean(seconds), "median": statistics.median(seconds),
                              "max": max(seconds)} if seconds else None,
            "stage_seconds_mean": {k: statistics.fmean(v) for k, v in sorted(stages.items())},
        },
        "versions": versions(),
    }


def run(args, beam_args: list[str]) -> int:
    """`kubric-gen run` (args from `pipeline.cli`); returns the exit status."""
    from kubric_gen import preflight
    from kubric_gen.cli_options import config_overrides, preflight_scene, render_settings
    from kubric_gen.pipeline.outputs import MAX_SEED
    from kubric_gen.world import load_world, resolve_config

    t_start = time.perf_counter()
    started = now()
    # 1. validate; nothing is written before this block ends
    if args.num_scenes < 1:
        raise ConfigError(f"--num-scenes: expected a positive integer (got {args.num_scenes})")
    if args.seed_offset + args.num_scenes - 1 > MAX_SEED:
        raise ConfigError(f"--seed-offset/--num-scenes: seeds must stay below 2^64 (the last would be "
                          f"{args.seed_offset + args.num_scenes - 1})")
    runner = runner_name(args.runner)
    world = load_world(args.world)
    overrides = config_overrides(args)
    config = resolve_config(world, overrides)
    settings = render_settings(args)
    output = open_output(args.output)
    output.check()
    cores = usable_cores()
    flags = list(beam_args)
    host_gpus = gpus.visible_gpus() if gpus.uses_gpu(settings.device) else []
    if runner == "direct":
        if not _has_flag(flags, "--direct_num_workers"):
            default = gpus.plan_workers(len(host_gpus), cores, args.workers_per_gpu) if host_gpus else cores
            flags.append(f"--direct_num_workers={args.workers or default}")
        if not _has_flag(flags, "--direct_running_mode"):
            flags.append("--direct_running_mode=multi_processing")
    elif args.workers:
        log.warning("--workers applies to the direct runner only; the %s runner decides its parallelism", runner)
    if not _has_flag(flags, "--default_sdk_harness_log_level") and not getattr(args, "verbose", False):
        flags.append("--default_sdk_harness_log_level=WARNING")
    options = validate_beam_flags(flags, runner)
    workers = None
    threads_by_host: dict[str, int] = {}
    if runner == "direct":
        from apache_beam.options.pipeline_options import DirectOptions

        workers = options.view_as(DirectOptions).direct_num_workers or cores
        if not settings.threads:  # split the cores between the workers
            settings = type(settings)(**{**asdict(settings), "threads": max(1, cores // workers)})
        preflight_scene(config, settings.device, workers)  # the workers run on this machine
        if host_gpus:
            print(f"kubric-gen run: {workers} workers on {len(host_gpus)} GPU(s) "
                  f"({', '.join(host_gpus)}), each render pinned to one", file=sys.stderr)
    elif runner == "dask":
        from apache_beam.runners.dask.dask_runner import DaskOptions

        address = options.view_as(DaskOptions).address
        if address:
            threads_by_host = probe_dask(address)

    # 2. what is done, what is left
    seeds = list(range(args.seed_offset, args.seed_offset + args.num_scenes))
    names = [scene_name(s) for s in seeds]
    complete = output.complete_scenes() & set(names)
    pending = [s for s, n in zip(seeds, names, strict=True) if n not in complete]
    resolution = config.get("resolution")
    if pending and not output.remote and isinstance(resolution, (list, tuple)) and len(resolution) == 2:
        preflight.check_free_space(output.root, tuple(resolution), int(config.get("num_frames") or 24), len(pending))
    if pending and runner == "direct":  # the workers share this machine's cache
        prepare_assets(world, config, pending[0])
    output.prepare()
    run_id = uuid.uuid4().hex
    record = RunRecord(output, run_id, seeds, started)
    record.register()  # refuses if a live run renders some of these seeds; before touching leftovers
    removed = output.clean_leftovers([scene_name(s) for s in pending])
    output.remove_status([scene_name(s) for s in pending])  # stale records of earlier runs
    if removed:
        log.warning("removed %d leftovers of an interrupted run: %s", len(removed), ", ".join(removed[:5]))
    spec = RunSpec(run_id=run_id, output=output.url, world=world_spec(world), overrides=overrides,
                   settings=asdict(settings), num_tracks=args.tracks, float_layers=args.float_layers,
                   preview=not args.no_preview, retries=args.retries, timeout=args.scene_timeout or None,
                   scenes_per_child=args.scenes_per_child, threads_by_host=threads_by_host)
    if complete:
        print(f"kubric-gen run: {len(complete)} of {len(seeds)} scenes already complete, skipping them",
              file=sys.stderr)

    # 3. the pipeline
    pipeline_error = None
    interrupted = False
    t_pipeline = time.perf_counter()
    if pending:
        from kubric_gen.pipeline.progress import Progress

        if runner == "dask" and not _has_flag(flags, "--dask_npartitions", "--dask_partition_size"):
            flags.append(f"--dask_npartitions={len(pending)}")  # one task per scene (Beam's default: 128)
            options = validate_beam_flags(flags, runner)
        with Progress(output, spec.run_id, [scene_name(s) for s in pending], skipped=len(complete),
                      log_interval=args.log_interval):
            try:
                run_beam(runner, options, pending, spec, verbose=bool(getattr(args, "verbose", False)))
            except KeyboardInterrupt:  # summarised like any stop; re-raised below (exit status 130)
                interrupted = True
                for name in ("apache_beam", "grpc"):  # the stopped workers' connections report errors
                    logging.getLogger(name).setLevel(logging.CRITICAL + 1)
                pipeline_error = "interrupted (Ctrl-C); run the same command again to finish"
            except Exception as e:  # noqa: BLE001 - reported, summarised, exit status 1
                log.debug("pipeline failed", exc_info=True)
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                pipeline_error = f"{type(e).__name__}: {first}"[:2000]
                print(f"kubric-gen: error: the {runner} pipeline failed: {pipeline_error}", file=sys.stderr)
    pipeline_s = time.perf_counter() - t_pipeline

    # 4. summary
    info = {
        "run_id": spec.run_id,
        "command": getattr(args, "command_line", None) or [os.path.basename(sys.argv[0]), *sys.argv[1:]],
        "world": {"name": world.name, "file": str(world.path), "sha256": world.sha256},
        "config": config,
        "render_settings": spec.settings,
        "seed_offset": args.seed_offset,
        "num_scenes": args.num_scenes,
        "output": output.url,
        "runner": runner,
        "workers": workers,
        "gpus": host_gpus if runner == "direct" else None,
        "retries": args.retries,
        "scene_timeout": spec.timeout,
        "scenes_per_child": spec.scenes_per_child,
        "beam_options": flags,
        "leftovers_removed": removed,
        "pipeline_error": pipeline_error,
        "platform": platform.platform(),
        "started": started,
        "finished": now(),
        "pipeline_s": pipeline_s if pending else 0.0,
        "total_s": time.perf_counter() - t_start,
    }
    gpus.release_slots(spec.run_id)
    summary = summarize(output, spec, seeds, complete, pending, info)
    record.finish(summary, "interrupted" if interrupted else "finished")
    c = summary["counts"]
    rate = summary["timings"]["scenes_per_hour"]
    print(f"kubric-gen run: {c['total']} scenes: {c[DONE]} done, {c[SKIPPED]} skipped, {c[FAILED]} failed "
          f"in {summary['timings']['total_s']:.1f} s" + (f" ({rate:.0f} scenes/h)" if rate else "")
          + f"; summary: {output.url.rstrip('/')}/{RUN_FILE}")
    if interrupted:  # the unfinished scenes are not failures: the next run renders them
        raise KeyboardInterrupt
    for f in summary[FAILED]:
        attempts = f" after {f['attempts']} attempts" if f.get("attempts") else ""
        print(f"kubric-gen: failed: {f['scene']} (seed {f['seed']}){attempts}: {f['reason']}", file=sys.stderr)
    return 0 if summary["complete"] else 1


def prepare_assets(world, config: dict, seed: int) -> None:
    """Prepare the caches of the asset libraries the world uses once, here, for all workers:
    build one scene (which loads the libraries), then make every asset's files in parallel.
    A scene that fails to build is left to the workers, which report it."""
    from kubric_gen.assets.library import used_libraries
    from kubric_gen.errors import KubricGenError
    from kubric_gen.world import build_scene

    used_libraries(reset=True)
    try:
        build_scene(world, seed, config)
    except Exception as e:  # noqa: BLE001 - the workers report it with the scene
        log.debug("trial build of seed %d failed: %s", seed, e)
    for library in used_libraries():
        try:
            missing = library.unprepared()
            if missing:
                start = time.perf_counter()
                print(f"kubric-gen run: preparing {len(missing)} asset(s) of library {library.name} once for all "
                      "workers", file=sys.stderr)
                library.prepare()
                log.info("prepared library %s in %.1f s", library.name, time.perf_counter() - start)
        except KubricGenError as e:  # the scenes that need the asset report it
            log.warning("could not prepare library %s: %s", library.name, e)


def run_beam(runner: str, options, seeds: list[int], spec: RunSpec, verbose: bool = False) -> None:
    import apache_beam as beam

    from kubric_gen.pipeline.transforms import RenderSceneDirectories

    for name in ("apache_beam", "distributed"):
        logging.getLogger(name).setLevel(logging.WARNING if verbose else logging.ERROR)
    pipeline = beam.Pipeline(runner=_beam_runner(runner, options, verbose), options=options)
    _ = pipeline | "RenderScenes" >> RenderSceneDirectories(seeds, spec)
    if runner == "direct":
        _run_watching_workers(pipeline)
    else:
        pipeline.run().wait_until_finish()


class WorkerLost(RuntimeError):
    pass


def _run_watching_workers(pipeline) -> None:
    """Run a direct-runner pipeline, stopping it if one of its worker processes dies.

    Beam's FnApiRunner waits forever for the bundle of a worker process that died (e.g. was
    sent SIGKILL): its thread only reports "Worker subprocess exited with return code ...".
    Here that report stops the run: the other worker processes are killed (their render
    children die with them) and WorkerLost is raised; what was finished is kept, and running
    the same command again renders the rest.
    """
    lost: list[str] = []
    stop = threading.Event()
    outcome: dict[str, BaseException] = {}
    previous_hook = threading.excepthook

    def hook(hook_args) -> None:
        if lost:
            return  # the run is being stopped: the other threads' errors are consequences
        if isinstance(hook_args.exc_value, RuntimeError) and "Worker subprocess exited" in str(hook_args.exc_value):
            lost.append(str(hook_args.exc_value))
            stop.set()
            return
        previous_hook(hook_args)

    def target() -> None:
        try:
            pipeline.run().wait_until_finish()
        except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread
            outcome["error"] = e
        finally:
            stop.set()

    threading.excepthook = hook
    try:
        thread = threading.Thread(target=target, name="kubric-gen-pipeline", daemon=True)
        thread.start()
        try:
            stop.wait()
        except KeyboardInterrupt:  # Ctrl-C: the workers ignore it; stop them, and their render children with them
            lost.append("interrupted")
            _kill_sdk_workers()
            raise
        if lost and thread.is_alive():
            killed = _kill_sdk_workers()
            raise WorkerLost(f"a Beam worker process died ({lost[0].lower()}); stopped the run "
                             f"({killed} other worker processes); run the same command again to finish it")
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
    finally:
        if not lost:  # else keep swallowing the dying threads' reports
            threading.excepthook = previous_hook


def _descendants(pid: int) -> list[int]:
    """Descendant process ids of `pid` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_sdk_workers() -> int:
    killed = 0
    for pid in _descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"sdk_worker" in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed
