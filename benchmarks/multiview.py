"""What each extra camera costs: one simulation seen by 1, 2 and 4 cameras, against the same
scene with one camera written the one-camera way.

The baseline is `movi_d` with the multiview world's camera distances: the same objects
(`multiview` builds movi_d's scene with the same random draws and only adds cameras), one
camera, a one-camera scene directory. The `multiview` world then runs with `num_cameras` 1,
2 and 4 (the last camera moving, as in the world). Cases are interleaved over `--rounds`
rounds, each a fresh `kubric-gen render` process (so every case pays the same start-up); the
medians per case are compared with the baseline measured in the same run. Per case: wall
seconds, the stages' seconds from provenance.json, and bytes on disk (views, cross_view.npz).
Prints one JSON object (and writes it with --output).

    python benchmarks/multiview.py                      # 128x128, 12 frames, 32 samples, 3 rounds (~6 min)
    python benchmarks/multiview.py --quick              # 32x32, 3 frames, 2 samples, 1 round
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import emit

CASES = {  # name: (world, extra --set overrides)
    "one_camera_movi_d": ("movi_d", ["camera_radius=[8.0, 12.0]"]),
    "multiview_1": ("multiview", ["num_cameras=1"]),
    "multiview_2": ("multiview", ["num_cameras=2"]),
    "multiview_4": ("multiview", ["num_cameras=4"]),
}
STAGES = ("build_scene", "physics", "render_setup", "render", "ground_truth", "truth_wait", "cross_view", "write",
          "write_layers", "write_views")


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _run(world: str, sets: list[str], args: argparse.Namespace, out: Path) -> dict:
    argv = [sys.executable, "-m", "kubric_gen.cli", "render", world, "--seed", str(args.seed), "--output", str(out),
            "--overwrite", "--resolution", args.resolution, "--frames", str(args.frames), "--samples",
            str(args.samples), "--no-preview", *[a for s in sets for a in ("--set", s)]]
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    timings = json.loads((out / "provenance.json").read_text())["timings"]
    cross = out / "cross_view.npz"
    return {"wall_s": wall, **{k: timings.get(k, 0.0) for k in STAGES}, "bytes": _bytes(out),
            "cross_view_bytes": cross.stat().st_size if cross.exists() else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", default="128x128")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="32x32, 3 frames, 2 samples, 1 round")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.resolution, args.frames, args.samples, args.rounds = "32x32", 3, 2, 1
    runs: dict[str, list[dict]] = {name: [] for name in CASES}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for name, (world, sets) in CASES.items():
                runs[name].append(_run(world, sets, args, Path(tmp) / name))
    median = {name: {k: round(statistics.median(r[k] for r in rs), 3) for k in rs[0]} for name, rs in runs.items()}
    base = median["one_camera_movi_d"]["wall_s"]
    one = median["multiview_1"]["wall_s"]
    per_camera = (median["multiview_4"]["wall_s"] - one) / 3
    result = {
        "benchmark": "multiview",
        "settings": {"resolution": args.resolution, "frames": args.frames, "samples": args.samples,
                     "rounds": args.rounds, "seed": args.seed},
        "median": median,
        "wall_over_one_camera": {name: round(m["wall_s"] / base, 3) for name, m in median.items()},
        "extra_camera_s": round(per_camera, 3),
        "extra_camera_over_one_camera": round(per_camera / base, 3),
        "extra_camera_render_share": round((median["multiview_4"]["render"] - median["multiview_1"]["render"]) / 3
                                           / per_camera, 3) if per_camera > 0 else None,
        "bytes_over_one_camera": {name: round(m["bytes"] / median["one_camera_movi_d"]["bytes"], 3)
                                  for name, m in median.items()},
    }
    emit(result, args.output)


if __name__ == "__main__":
    main()
