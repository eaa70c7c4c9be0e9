"""`kubric-gen run` throughput on a GPU machine: seconds per scene for several workers per GPU.

Renders `--scenes` MOVi-A scenes (256x256, 24 frames, 64 spp by default) with
`kubric-gen run --device DEVICE --workers-per-gpu K` for each K (default 1 2 4 8), each into a
fresh output directory, one after the other on the same machine; K=1 is the baseline of the
same run. Reports the wall time per scene (Beam start-up included) and, from `_run.json`,
the mean seconds per scene of each stage (render on the GPU; ground truth and writing on the
CPU, overlapping the render). Target (issue 12): <= 1.0 s per scene on one H100/H200.

    .venv/bin/python benchmarks/gpu_throughput.py [--device cuda] [--scenes 32] [--workers-per-gpu 1 2 4 8]

`--cpu-smoke` runs the same protocol on the CPU with `--workers K` instead (tiny settings), to
check the script where there is no GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import emit  # noqa: E402 - benchmarks/ is on the path of a script run from it

from kubric_gen import gpus  # noqa: E402


def run_once(args: argparse.Namespace, k: int, out: Path) -> dict:
    command = [sys.executable, "-m", "kubric_gen.cli", "run", "movi_a", "--num-scenes", str(args.scenes),
               "--output", str(out), "--resolution", args.resolution, "--frames", str(args.frames),
               "--samples", str(args.samples), "--no-preview"]
    command += ["--device", "cpu", "--workers", str(k)] if args.cpu_smoke else \
        ["--device", args.device, "--workers-per-gpu", str(k)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"kubric-gen run failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    summary = json.loads((out / "_run.json").read_text())
    stages = summary["timings"].get("stage_seconds_mean", {})
    return {"workers_per_gpu": k, "workers": summary.get("workers"), "wall_s": round(wall, 2),
            "seconds_per_scene": round(wall / args.scenes, 3),
            "stage_seconds_mean": {name: round(v, 3) for name, v in stages.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["auto", "cuda", "optix"])
    parser.add_argument("--scenes", type=int, default=32)
    parser.add_argument("--workers-per-gpu", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--resolution", default="256x256")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--cpu-smoke", action="store_true", help="no GPU: --workers K on the CPU")
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()
    visible = gpus.visible_gpus()
    if not visible and not args.cpu_smoke:
        raise SystemExit("no NVIDIA GPU visible (CUDA_VISIBLE_DEVICES / the driver); --cpu-smoke runs on the CPU")
    runs = []
    for k in args.workers_per_gpu:
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(run_once(args, k, Path(tmp) / "out"))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    base = runs[0]["seconds_per_scene"]
    for r in runs:
        r["speedup_vs_first"] = round(base / r["seconds_per_scene"], 2)
    results = {"benchmark": "gpu_throughput", "gpus": visible, "cpus": os.cpu_count(), "device": args.device,
               "cpu_smoke": args.cpu_smoke, "scenes": args.scenes, "resolution": args.resolution,
               "frames": args.frames, "samples": args.samples, "runs": runs,
               "best_seconds_per_scene": min(r["seconds_per_scene"] for r in runs), "target_seconds_per_scene": 1.0}
    emit(results, args.output)


if __name__ == "__main__":
    main()
