"""Ground-truth cost per frame, as a fraction of the Cycles render time of the same frame.

For each resolution, a MOVi-A scene with 10 objects is simulated; the ground truth
(every layer, both flows with occlusion, and 256 point tracks) is computed for
`--frames` frames, and Cycles renders one frame of the same scene at `--samples`
samples on the CPU. Both run in this process on the same machine, so the ratio is
meaningful even on a noisy machine. Target: ground truth under 5 % of rendering.

    .venv/bin/python benchmarks/ground_truth.py [--resolutions 256 512] [--frames 6] [--samples 64]
"""

from __future__ import annotations

import argparse
import os
import time

from report import emit

from kubric_gen.render import RenderSettings, render
from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth
from kubric_gen.world import build_scene, load_world, resolve_config


def measure(resolution: int, frames: int, samples: int, seed: int) -> dict:
    world = load_world("movi_a")
    config = resolve_config(world, {"resolution": [resolution, resolution], "num_frames": frames,
                                    "min_num_objects": 10, "max_num_objects": 10})
    scene = build_scene(world, seed, config)
    trajectory = physics.simulate(scene)
    start = time.perf_counter()
    truth = compute_ground_truth(scene, trajectory, num_tracks=256)
    truth_seconds = time.perf_counter() - start
    result = render(scene, trajectory, RenderSettings(samples=samples, device="cpu"), frames=[0])
    render_seconds = result.timings["render"]
    per_frame = truth_seconds / frames
    return {
        "resolution": resolution, "objects": len(scene.objects) - 1, "frames": frames, "samples": samples,
        "ground_truth_seconds_per_frame": round(per_frame, 4),
        "layers_seconds_per_frame": round(truth.timings["layers"] / frames, 4),
        "tracks_seconds_per_frame": round(truth.timings["tracks"] / frames, 4),
        "render_seconds_per_frame": round(render_seconds, 3),
        "ground_truth_fraction_of_render": round(per_frame / render_seconds, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()
    results = {"benchmark": "ground_truth", "cpus": os.cpu_count(),
               "runs": [measure(r, args.frames, args.samples, args.seed) for r in args.resolutions]}
    emit(results, args.output)


if __name__ == "__main__":
    main()
