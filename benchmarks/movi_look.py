"""Does our MOVi-A look like Kubric's? Pixel intensity statistics against Kubric's own render.

Renders `--seeds` MOVi-A scenes (default 20, seeds 0..19) at 128x128 with `--frames`
frames (default 8, as the reference) and `--samples` samples (default 64, as MOVi), and
compares the intensity (the mean of R, G and B, 0..255) of all their pixels with that of
the Kubric MOVi-A scene directory in ../shared/reference/kubric_movi_a_128, read in the
same run. Target: mean and median within 15 % of Kubric's.

    .venv/bin/python benchmarks/movi_look.py [--seeds 20] [--frames 8] [--samples 64]
        [--view-transform Filmic] [--world movi_a] [--keep DIR] [--output FILE]

`--python-path DIR` renders with another checkout of kubric_gen (e.g. an older commit in
a git worktree) to measure "before" in the same way.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from report import emit

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "kubric_movi_a_128"
PERCENTILES = (5, 50, 95)
TARGET = 0.15


def intensity_stats(frames: np.ndarray) -> dict:
    """Mean and percentiles of per-pixel intensity (mean of RGB) of uint8 frames (..., 3|4)."""
    intensity = frames[..., :3].astype(np.float64).mean(axis=-1)
    stats = {"mean": float(intensity.mean())}
    for p, v in zip(PERCENTILES, np.percentile(intensity, PERCENTILES), strict=True):
        stats[f"p{p}"] = float(v)
    return stats


def read_frames(directory: Path) -> np.ndarray:
    import imageio.v3 as iio

    return np.stack([iio.imread(p) for p in sorted(directory.glob("rgba_*.png"))])


def render_seeds(args: argparse.Namespace, out: Path) -> float:
    """Render the seeds with `kubric-gen render` in child processes (one at a time)."""
    env = dict(os.environ)
    if args.python_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.python_path, env.get("PYTHONPATH")]))
    start = time.perf_counter()
    for seed in range(args.seeds):
        command = [sys.executable, "-m", "kubric_gen.cli", "render", args.world, "--seed", str(seed),
                   "--output", str(out / f"seed_{seed:05d}"), "--resolution", "128x128", "--frames",
                   str(args.frames), "--samples", str(args.samples), "--device", "cpu", "--no-preview",
                   "--tracks", "0"]
        if args.view_transform:
            command += ["--view-transform", args.view_transform]
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--world", default="movi_a")
    parser.add_argument("--view-transform", default=None, help="default: the renderer's (Filmic)")
    parser.add_argument("--python-path", help="render with the kubric_gen found here (PYTHONPATH)")
    parser.add_argument("--keep", help="keep the scene directories here")
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()
    if not REFERENCE.is_dir():
        sys.exit(f"movi_look: the Kubric reference {REFERENCE} is missing")

    reference = intensity_stats(read_frames(REFERENCE))
    with tempfile.TemporaryDirectory(prefix="kg-look-") as tmp:
        out = Path(args.keep) if args.keep else Path(tmp)
        seconds = render_seeds(args, out)
        scenes = sorted(p for p in out.iterdir() if p.name.startswith("seed_"))
        frames = np.stack([read_frames(p) for p in scenes])
        per_scene = [intensity_stats(f)["mean"] for f in frames]
    ours = intensity_stats(frames)
    ratios = {k: round(ours[k] / reference[k], 3) for k in ours if reference[k] > 0}
    result = {
        "benchmark": "movi_look", "world": args.world, "seeds": args.seeds, "frames": args.frames,
        "samples": args.samples, "resolution": "128x128", "view_transform": args.view_transform or "default",
        "python_path": args.python_path, "render_seconds": round(seconds, 1),
        "kubric_reference": {k: round(v, 2) for k, v in reference.items()},
        "ours": {k: round(v, 2) for k, v in ours.items()},
        "ours_per_scene_mean": {"min": round(min(per_scene), 2), "max": round(max(per_scene), 2)},
        "ratio_to_kubric": ratios,
        "mean_and_median_within_15_percent": all(abs(ratios[k] - 1) <= TARGET for k in ("mean", "p50")),
    }
    emit(result, args.output)


if __name__ == "__main__":
    main()
