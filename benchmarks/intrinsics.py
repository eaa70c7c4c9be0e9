"""Intrinsic images: what rendering them costs, how big intrinsic_images.npz is, and how exact
the identity albedo x shading + residual = Cycles' linear image is after float16 storage.

For a scene of each world given, the frames are rendered in this process with and without the
intrinsic passes, alternated (the same machine and moment: the ratio is meaningful on a noisy
machine); the file is written as `layers.write_intrinsics` writes it and read back.

    .venv/bin/python benchmarks/intrinsics.py [--worlds movi_a movi_e] [--resolution 128] [--frames 8]
        [--samples 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import time

import numpy as np
from report import emit

from kubric_gen.io import format as fmt
from kubric_gen.io.layers import write_intrinsics
from kubric_gen.io.scene_dir import intrinsics_mask
from kubric_gen.render import RenderSettings, render
from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth
from kubric_gen.world import build_scene, load_world, resolve_config


def measure(world_name: str, resolution: int, frames: int, samples: int, repeats: int, seed: int) -> dict:
    world = load_world(world_name)
    config = resolve_config(world, {"resolution": [resolution, resolution], "num_frames": frames})
    scene = build_scene(world, seed, config)
    trajectory = physics.simulate(scene)
    plain = RenderSettings(samples=samples, device="cpu")
    seconds: dict[bool, list[float]] = {False: [], True: []}
    result = None
    for _ in range(repeats):
        for intrinsics in (False, True):  # alternated: a drift of the machine's speed hits both
            out = render(scene, trajectory, dataclasses.replace(plain, intrinsics=intrinsics))
            seconds[intrinsics].append(out.timings["render"])
            result = out if intrinsics else result
    images = result.intrinsics
    truth = compute_ground_truth(scene, trajectory, num_tracks=0, amodal=False)
    buffer = io.BytesIO()
    start = time.perf_counter()
    write_intrinsics(buffer, images, intrinsics_mask(scene, truth.object_index))
    write_seconds = time.perf_counter() - start
    with np.load(io.BytesIO(buffer.getvalue())) as f:
        stored = {k: f[k].astype(np.float32) for k in fmt.INTRINSIC_IMAGES}
    combined = images["combined"]  # denoised: the identity holds for the passes' own (noisy) sum
    linear = images["albedo"] * images["shading"] + images["residual"]
    stored_linear = stored["albedo"] * stored["shading"] + stored["residual"]
    scale = np.maximum(np.abs(linear), 1e-3)
    return {"world": world_name, "resolution": resolution, "frames": frames, "samples": samples,
            "render_seconds": round(min(seconds[False]), 3),
            "render_with_intrinsics_seconds": round(min(seconds[True]), 3),
            "intrinsics_cost_fraction": round(min(seconds[True]) / min(seconds[False]) - 1, 4),
            "write_seconds": round(write_seconds, 3),
            "file_bytes": buffer.getbuffer().nbytes,
            "file_bytes_per_pixel_frame": round(buffer.getbuffer().nbytes / (resolution * resolution * frames), 3),
            "float16_identity_max_relative_error": float((np.abs(stored_linear - linear) / scale).max()),
            "denoised_vs_passes_mean_abs": float(np.abs(combined - linear).mean()),
            "mirror_or_transparent_pixel_fraction": round(float(intrinsics_mask(scene, truth.object_index).mean()),
                                                          4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=["movi_a", "movi_e"])
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()
    emit({"benchmark": "intrinsics", "cpus": os.cpu_count(),
          "runs": [measure(w, args.resolution, args.frames, args.samples, args.repeats, args.seed)
                   for w in args.worlds]}, args.output)


if __name__ == "__main__":
    main()
