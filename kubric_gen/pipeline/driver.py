"""The driver of `kubric-gen run`: validate, list what is done, run Beam, summarise.

`drive(options)` takes a `RunOptions` (plain data; `pipeline.cli` makes it from the command
line) and returns the exit status:

1. Validate everything in this process before anything is written or started: the world,
   its config (scene 0's, through `resolve_config`), the render settings, the runner, the
   Beam options (unknown ones are errors) and the output (creatable, writable); for
   `--runner dask` with `--dask_client_address`, that the scheduler answers.
2. List the complete scenes and check each was made as this run asks (`resume`: world,
   seed, config, render settings, versions; the first difference is an error, or with
   `--overwrite` the scene is rendered again); the others are skipped without starting a
   worker. Clear what killed runs left behind (`.tmp-*` directories; incomplete scene
   folders, moved aside when they hold files we did not write; remote prefixes without
   marker). Build the first pending scene in a child process (`prepare`) to find the asset
   libraries the world uses and prepare them once for all workers.
3. Run the pipeline (`transforms.GenerateScenes`) over the other seeds, with a progress
   thread polling the status records. On the direct runner the workers are threads of this
   process (`--direct_running_mode=multi_threading`), each driving one child process at a
   time (`isolation`): the children isolate crashes, so Beam needs no worker processes.
4. Read the status records back and write `OUTPUT/_run.json`. Exit status 0 when every
   scene is complete, 1 when some failed (they are listed), 2 for bad input.
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kubric_gen import beam, gpus
from kubric_gen.errors import ConfigError
from kubric_gen.parallel import usable_cores
from kubric_gen.pipeline import resume
from kubric_gen.pipeline.isolation import world_spec
from kubric_gen.pipeline.outputs import REPLACED_DIR, RUN_FILE, Output, open_output, scene_name
from kubric_gen.pipeline.runs import RunRecord, check_records
from kubric_gen.pipeline.task import DONE, FAILED, SKIPPED, PipelineSpec, now
from kubric_gen.pipeline.world_probe import probe_world
from kubric_gen.render.settings import RenderSettings

log = logging.getLogger(__name__)

WHAT = "kubric-gen run"
DIRECT_MODES = ("multi_threading", "in_memory")  # --direct_running_mode values kubric-gen runs with


@dataclass(frozen=True)
class RunOptions:
    """The options of `kubric-gen run`, as plain data (`pipeline.cli.run_options` makes them
    from the command line; a script can build them directly)."""

    world: str  # a built-in world's name or a world file
    num_scenes: int
    output: str  # a directory or an fsspec URL
    seed_offset: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)  # world config (already parsed)
    settings: RenderSettings = field(default_factory=RenderSettings)  # threads 0 = share the cores
    num_tracks: int | None = None
    float_layers: bool = False
    preview: bool = True
    runner: str = "direct"
    workers: int | None = None  # direct runner: scenes at once (None: cores, or GPUs x workers_per_gpu)
    workers_per_gpu: int | None = None
    retries: int = 2
    scene_timeout: float | None = None
    scenes_per_child: int = 8
    log_interval: float = 30.0
    verbose: bool = False
    beam_args: list[str] = field(default_factory=list)  # passed to Beam as PipelineOptions
    command_line: list[str] | None = None  # recorded in _run.json (default: sys.argv)
    overwrite: bool = False  # render again the complete scenes made with other settings (else: an error)


# --runner NAME -> Beam runner (None: built in `_beam_runner`)
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


def _beam_runner(runner: str):
    if runner == "direct":
        return beam.direct_runner()
    if runner == "dask":
        return beam.dask_runner()
    return RUNNERS[runner]


def versions() -> dict[str, str]:
    from kubric_gen.generate import versions as package_versions

    return package_versions(PIPELINE_PACKAGES)


def summarize(output: Output, spec: PipelineSpec, seeds: list[int], skipped: set[str], pending: list[int],
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


def drive(options: RunOptions) -> int:
    """`kubric-gen run`: returns the exit status (0 complete, 1 some scene or the pipeline
    failed); ConfigError for bad input, before anything is written; KeyboardInterrupt after
    summarising an interrupted run."""
    from kubric_gen import preflight
    from kubric_gen.generate import output_options
    from kubric_gen.pipeline.outputs import MAX_SEED
    from kubric_gen.world import load_world, resolve_config

    t_start = time.perf_counter()
    started = now()
    opts = options
    # 1. validate; nothing is written before this block ends
    beam.require(WHAT)
    if opts.num_scenes < 1:
        raise ConfigError(f"--num-scenes: expected a positive integer (got {opts.num_scenes})")
    if opts.seed_offset + opts.num_scenes - 1 > MAX_SEED:
        raise ConfigError(f"--seed-offset/--num-scenes: seeds must stay below 2^64 (the last would be "
                          f"{opts.seed_offset + opts.num_scenes - 1})")
    runner = runner_name(opts.runner)
    probe_world(opts.world, opts.overrides, opts.scene_timeout, "--scene-timeout")  # its code may crash or hang
    world = load_world(opts.world)
    config = resolve_config(world, opts.overrides)
    world_spec(world)  # the world's files to ship are read (and their size checked) before anything is written
    settings = opts.settings
    output = open_output(opts.output)
    output.check()
    check_records(output)  # a damaged _runs/ record: one line naming it
    cores = usable_cores()
    flags = list(opts.beam_args)
    host_gpus = gpus.visible_gpus() if gpus.uses_gpu(settings.device) else []
    if runner == "direct":
        if not _has_flag(flags, "--direct_num_workers"):
            default = gpus.plan_workers(len(host_gpus), cores, opts.workers_per_gpu) if host_gpus else cores
            flags.append(f"--direct_num_workers={opts.workers or default}")
        if not _has_flag(flags, "--direct_running_mode"):
            flags.append("--direct_running_mode=multi_threading")
    elif opts.workers:
        log.warning("--workers applies to the direct runner only; the %s runner decides its parallelism", runner)
    if runner != "direct" and not _has_flag(flags, "--default_sdk_harness_log_level") and not opts.verbose:
        flags.append("--default_sdk_harness_log_level=WARNING")
    beam_options = beam.pipeline_options(flags, runner, what=WHAT)
    workers = None
    threads_by_host: dict[str, int] = {}
    if runner == "direct":
        num_workers, mode = beam.direct_options(beam_options)
        if mode not in DIRECT_MODES:
            raise ConfigError(f"--direct_running_mode={mode}: kubric-gen runs the direct runner's workers as threads "
                              f"({' or '.join(DIRECT_MODES)}); every scene already runs in a child process of its own")
        workers = (num_workers or cores) if mode == "multi_threading" else 1
        if not settings.threads:  # split the cores between the workers
            settings = replace(settings, threads=max(1, cores // workers))
        preflight.check_scene(config, settings.device, workers, settings.intrinsics)  # workers run here
        if host_gpus:
            print(f"kubric-gen run: {workers} workers on {len(host_gpus)} GPU(s) "
                  f"({', '.join(host_gpus)}), each render pinned to one", file=sys.stderr)
    elif runner == "dask":
        address = beam.dask_address(beam_options)
        if address:
            threads_by_host = probe_dask(address)

    # 2. what is done, what is left
    seeds = list(range(opts.seed_offset, opts.seed_offset + opts.num_scenes))
    names = [scene_name(s) for s in seeds]
    complete = output.complete_scenes() & set(names)
    # complete scenes this run did not ask for: an error, or with --overwrite rendered again
    want = resume.expected(world, config, asdict(settings),
                           output_options(opts.num_tracks, opts.float_layers, opts.preview))
    replace_names = resume.check(output, sorted(complete), want, opts.overwrite)
    complete -= set(replace_names)
    pending = [s for s, n in zip(seeds, names, strict=True) if n not in complete]
    resolution = config.get("resolution")
    if pending and not output.remote and isinstance(resolution, (list, tuple)) and len(resolution) == 2:
        preflight.check_free_space(output.root, tuple(resolution), int(config.get("num_frames") or 24), len(pending),
                                   intrinsics=settings.intrinsics)
    trial_error = None
    if pending and runner == "direct":  # the workers share this machine's cache
        trial_error = prepare_assets(world, opts.overrides, pending[0], opts.scene_timeout)
    output.prepare()
    run_id = uuid.uuid4().hex
    record = RunRecord(output, run_id, seeds, started)
    record.register()  # refuses if a live run renders some of these seeds; before touching leftovers
    replaced = []
    for name in replace_names:
        moved = output.clear_scene(name, REPLACED_DIR)
        replaced.append(f"{name} -> {moved}" if moved else name)
        if moved:
            print(f"kubric-gen run: moved {name} to {moved} (it holds files kubric_gen did not write)",
                  file=sys.stderr)
    if replace_names:
        print(f"kubric-gen run: rendering {len(replace_names)} scene(s) made with other settings again "
              "(--overwrite)", file=sys.stderr)
    leftovers = output.clean_leftovers([scene_name(s) for s in pending])
    output.remove_status([scene_name(s) for s in pending])  # stale records of earlier runs
    for name, moved in leftovers:
        if moved:
            print(f"kubric-gen run: moved incomplete {name} aside to {moved} (it holds files kubric_gen did "
                  "not write)", file=sys.stderr)
    removed = [f"{name} -> {moved}" if moved else name for name, moved in leftovers]  # as _run.json records them
    cleared = [name for name, moved in leftovers if not moved]
    if cleared:
        log.warning("removed %d leftovers of an interrupted run: %s", len(cleared), ", ".join(cleared[:5]))
    spec = PipelineSpec(run_id=run_id, output=output.url, world=world_spec(world), overrides=opts.overrides,
                        settings=asdict(settings), num_tracks=opts.num_tracks, float_layers=opts.float_layers,
                        preview=opts.preview, retries=opts.retries, timeout=opts.scene_timeout or None,
                        scenes_per_child=opts.scenes_per_child, threads_by_host=threads_by_host)
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
            beam_options = beam.pipeline_options(flags, runner, what=WHAT)
        with Progress(output, spec.run_id, [scene_name(s) for s in pending], skipped=len(complete),
                      log_interval=opts.log_interval):
            try:
                execute(runner, beam_options, pending, spec, verbose=opts.verbose)
            except KeyboardInterrupt:  # summarised like any stop; re-raised below (exit status 130)
                interrupted = True
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
        "command": opts.command_line or [os.path.basename(sys.argv[0]), *sys.argv[1:]],
        "world": {"name": world.name, "file": str(world.path), "sha256": world.sha256},
        "config": config,
        "render_settings": spec.settings,
        "seed_offset": opts.seed_offset,
        "num_scenes": opts.num_scenes,
        "output": output.url,
        "runner": runner,
        "workers": workers,
        "gpus": host_gpus if runner == "direct" else None,
        "retries": opts.retries,
        "scene_timeout": spec.timeout,
        "scenes_per_child": spec.scenes_per_child,
        "beam_options": flags,
        "leftovers_removed": removed,
        "replaced": replaced,
        "trial_build_error": trial_error,
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


def prepare_assets(world, overrides: dict[str, Any], seed: int, timeout: float | None) -> str | None:
    """Prepare the asset libraries the world uses once, for all workers: build scene `seed`
    in a child process (the world's code may crash or hang: never in the driver; `timeout`
    as for a scene), then make the unprepared assets of the libraries it used in that child.
    A build that fails is left to the workers, which report it with its scene; returns why."""
    from kubric_gen.pipeline.isolation import PREPARE, ChildProcess, SceneFailure

    child = ChildProcess(timeout_option="--scene-timeout")
    request = {"kind": PREPARE, "name": f"{scene_name(seed)} (trial build)", "seed": seed,
               "world": world_spec(world), "overrides": overrides}
    try:
        try:
            answer = child.generate({**request, "stage": "build"}, timeout)
        except SceneFailure as failure:  # the workers report it with its scene
            log.info("trial build of seed %d failed: %s", seed, failure.reason)
            return failure.reason
        missing = [lib for lib in answer.get("libraries", []) if lib.get("unprepared")]
        if not missing:
            return None
        for lib in missing:
            print(f"kubric-gen run: preparing {lib['unprepared']} asset(s) of library {lib['name']} once for all "
                  "workers", file=sys.stderr)
        try:
            answer = child.generate({**request, "stage": "libraries"}, None)
        except SceneFailure as failure:  # the scenes that need the asset report it
            log.warning("could not prepare the asset libraries: %s", failure.message)
            return None
        for lib in answer.get("prepared", []):
            log.info("prepared library %s in %.1f s", lib["name"], lib["seconds"])
        return None
    except KeyboardInterrupt:  # Ctrl-C: the child ignores it; stop it now rather than wait for it
        child.kill()
        raise
    finally:
        child.close()


def execute(runner: str, options, seeds: list[int], spec: PipelineSpec, verbose: bool = False) -> None:
    """Run the pipeline over `seeds`; KeyboardInterrupt stops it (every child process killed)."""
    from kubric_gen.pipeline import isolation
    from kubric_gen.pipeline.transforms import GenerateScenes

    for name in ("apache_beam", "distributed"):
        logging.getLogger(name).setLevel(logging.WARNING if verbose else logging.ERROR)

    def build(root) -> None:
        _ = root | "GenerateScenes" >> GenerateScenes(seeds, spec)

    if runner != "direct":
        beam.run_pipeline(_beam_runner(runner), options, build)
        return
    # The direct runner's workers are threads of this process, waiting on their children: the
    # pipeline runs in a thread of its own so that Ctrl-C reaches this one at once.
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            beam.run_pipeline(_beam_runner(runner), options, build)
        except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread
            outcome["error"] = e

    thread = threading.Thread(target=target, name="kubric-gen-pipeline", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(timeout=0.5)
    except KeyboardInterrupt:  # the children ignore Ctrl-C: stop them; the worker threads then end
        for name in ("apache_beam", "grpc"):  # the stopped bundles report errors
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        isolation.stop_all()
        thread.join(timeout=10)
        raise
    isolation.close_all()  # the worker threads are idle now: let their children exit
    if "error" in outcome:
        raise outcome["error"]
