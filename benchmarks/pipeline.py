"""Throughput and overhead of `kubric-gen run` (Apache Beam, DirectRunner, child processes).

Renders the same scenes (default: MOVi-A seeds 0-5 at 64x64, 4 frames, 16 samples) four ways,
each in its own process and output directory, one after the other:

1. in_process: a plain loop calling `kubric_gen.generate.generate_scene` in one Python process with
   2 Cycles threads (no Beam, no child processes) - the baseline.
2. run_1x2: `kubric-gen run --workers 1 --threads 2` (1 worker x 2 threads).
3. run_2x1: `kubric-gen run --workers 2 --threads 1` (2 workers x 1 thread; the default on 2 cores).
4. run_1x2_fresh: as 2 with `--scenes-per-child 1` (a fresh child process, hence a fresh
   `import bpy`, for every scene).

With --baseline-tree DIR (another checkout of kubric_gen, e.g. `git worktree add /tmp/old
REV`), 2-4 also run from that checkout (`base_run_1x2`, ...: same interpreter and packages,
its own kubric_gen), interleaved with the others, so that an old and a new pipeline are
compared on the same machine at the same time.

With --repeat R the configurations run in turn R times and each keeps its fastest run (the
machine is shared, so the minimum is the least disturbed). Wall time is measured around each
whole command (Beam start-up included: what a user waits for). Prints one JSON object:

    scenes_per_hour            per configuration, from the wall time
    efficiency_2x1_vs_1x2      scenes/h of 2 workers x 1 thread / scenes/h of 1 worker x 2 threads
    overhead_s_per_scene       (wall of a run configuration - wall of in_process) / scenes,
                               against the in-process loop with the same threads (2)
    overhead_ratio             wall of a run configuration / wall of in_process
    scene_overhead_s           mean seconds per scene as the workers measure it (child round trip
                               and each new child's `import bpy` included) - mean seconds of
                               generate_scene in the in-process loop
    fixed_overhead_s           the rest of the difference, paid once per run: importing Beam,
                               starting and stopping the pipeline and its workers
    vs_baseline_tree           with --baseline-tree: scenes/h of each run configuration / the
                               same configuration's from the other checkout

    .venv/bin/python benchmarks/pipeline.py
    .venv/bin/python benchmarks/pipeline.py --scenes 6 --resolution 64x64 --frames 4 --samples 16 \
        --output benchmarks/results/pipeline.json
    .venv/bin/python benchmarks/pipeline.py --repeat 3 --baseline-tree /tmp/old
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import emit

ROOT = Path(__file__).resolve().parent.parent
RUN_1X2 = ("run_1x2", "run_1x2_fresh")  # the run configurations with the in-process loop's threads
BASE = "base_"  # prefix of the configurations run from --baseline-tree

IN_PROCESS = """
import json, sys, time
t0 = time.perf_counter()
from kubric_gen.generate import generate_scene
from kubric_gen.render.settings import RenderSettings
import bpy  # noqa: F401 - the import is part of the in-process cost
t_import = time.perf_counter() - t0
args = json.loads(sys.argv[1])
settings = RenderSettings(samples=args["samples"], threads=args["threads"])
seconds = []
for seed in range(args["scenes"]):
    t = time.perf_counter()
    generate_scene(args["world"], seed, f"{args['out']}/scene_{seed:08d}", settings,
                 {"resolution": args["resolution"], "num_frames": args["frames"]})
    seconds.append(time.perf_counter() - t)
print(json.dumps({"import_s": t_import, "scene_s": seconds}))
"""


def run_in_process(world: str, scenes: int, resolution: list[int], frames: int, samples: int, threads: int,
                   out: Path) -> dict:
    args = {"world": world, "scenes": scenes, "resolution": resolution, "frames": frames, "samples": samples,
            "threads": threads, "out": str(out)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", IN_PROCESS, json.dumps(args)], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    wall = time.perf_counter() - t0
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "import_s": result["import_s"], "scene_s_mean": sum(result["scene_s"]) / scenes}


def run_pipeline(world: str, scenes: int, resolution: list[int], frames: int, samples: int, workers: int,
                 threads: int, out: Path, scenes_per_child: int | None = None, tree: Path | None = None) -> dict:
    """`kubric-gen run` of this checkout, or of the kubric_gen in `tree` (run from there)."""
    cmd = [sys.executable, "-m", "kubric_gen.cli", "run", world, "--num-scenes", str(scenes),
           "--output", str(out), "--workers", str(workers), "--threads", str(threads), "--samples", str(samples),
           "--resolution", f"{resolution[0]}x{resolution[1]}", "--frames", str(frames)]
    if scenes_per_child is not None:
        cmd += ["--scenes-per-child", str(scenes_per_child)]
    env = dict(os.environ, PYTHONPATH=str(tree)) if tree else None  # ahead of the installed kubric_gen
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree or ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    summary = json.loads((out / "_run.json").read_text())
    assert summary["counts"]["done"] == scenes, summary["counts"]
    timings = summary["timings"]
    return {"wall_s": wall, "pipeline_s": timings["pipeline_s"],
            "scene_s_mean": timings["scene_seconds"]["mean"],
            "render_s_mean": timings["stage_seconds_mean"].get("render"),
            "scenes_per_child": summary["scenes_per_child"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", default="movi_a")
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--resolution", default="64x64")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the four configurations this many times (in turn) and keep each one's fastest run")
    parser.add_argument("--baseline-tree", type=Path, metavar="DIR",
                        help="also run the pipeline configurations from this checkout of kubric_gen, interleaved")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    resolution = [int(v) for v in args.resolution.lower().split("x")]
    common = (args.world, args.scenes, resolution, args.frames, args.samples)
    results: dict[str, dict] = {}
    load = {}
    configs = {
        "in_process": lambda out: run_in_process(*common, threads=2, out=out),
        "run_1x2": lambda out: run_pipeline(*common, workers=1, threads=2, out=out),
        "run_2x1": lambda out: run_pipeline(*common, workers=2, threads=1, out=out),
        "run_1x2_fresh": lambda out: run_pipeline(*common, workers=1, threads=2, out=out, scenes_per_child=1),
    }
    if args.baseline_tree:
        tree = args.baseline_tree.resolve()
        configs.update({
            f"{BASE}run_1x2": lambda out: run_pipeline(*common, workers=1, threads=2, out=out, tree=tree),
            f"{BASE}run_2x1": lambda out: run_pipeline(*common, workers=2, threads=1, out=out, tree=tree),
            f"{BASE}run_1x2_fresh": lambda out: run_pipeline(*common, workers=1, threads=2, out=out,
                                                             scenes_per_child=1, tree=tree),
        })
        # interleave: each configuration right after its baseline counterpart
        order = ["in_process"] + [n for k in ("run_1x2", "run_2x1", "run_1x2_fresh") for n in (BASE + k, k)]
        configs = {name: configs[name] for name in order}
    load["before"] = os.getloadavg()[0]
    for i in range(max(1, args.repeat)):
        for name, measure in configs.items():
            with tempfile.TemporaryDirectory(prefix="kubric_gen-bench-") as tmp:
                r = measure(Path(tmp) / name)
            walls = results.get(name, {}).get("walls_s", []) + [r["wall_s"]]
            if name not in results or r["wall_s"] < results[name]["wall_s"]:
                results[name] = r
            results[name]["walls_s"] = walls
            print(f"[{i + 1}/{args.repeat}] {name}: {r['wall_s']:.1f} s", file=sys.stderr)
    load["after"] = os.getloadavg()[0]
    n = args.scenes
    for r in results.values():
        r["scenes_per_hour"] = n / r["wall_s"] * 3600
    base = results["in_process"]["wall_s"]
    pipelines = [k for k in results if k.removeprefix(BASE) in RUN_1X2]
    out = {
        "benchmark": "pipeline",
        "settings": {"world": args.world, "scenes": n, "resolution": resolution, "frames": args.frames,
                     "samples": args.samples},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_1min": load},
        "results": results,
        "scenes_per_hour": {k: round(r["scenes_per_hour"]) for k, r in results.items()},
        "efficiency_2x1_vs_1x2": results["run_2x1"]["scenes_per_hour"] / results["run_1x2"]["scenes_per_hour"],
        "overhead_s_per_scene": {k: (results[k]["wall_s"] - base) / n for k in pipelines},
        "overhead_ratio": {k: results[k]["wall_s"] / base for k in pipelines},
        "scene_overhead_s": {k: results[k]["scene_s_mean"] - results["in_process"]["scene_s_mean"] for k in pipelines},
        "fixed_overhead_s": {k: results[k]["wall_s"] - base
                             - n * (results[k]["scene_s_mean"] - results["in_process"]["scene_s_mean"])
                             for k in pipelines},
    }
    if args.baseline_tree:
        out["baseline_tree"] = str(args.baseline_tree)
        out["efficiency_2x1_vs_1x2_baseline"] = (results[f"{BASE}run_2x1"]["scenes_per_hour"]
                                                 / results[f"{BASE}run_1x2"]["scenes_per_hour"])
        out["vs_baseline_tree"] = {k: results[k]["scenes_per_hour"] / results[BASE + k]["scenes_per_hour"]
                                   for k in results if BASE + k in results}
    emit(out, args.output)


if __name__ == "__main__":
    main()
