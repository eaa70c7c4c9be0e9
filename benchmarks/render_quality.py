"""Equal-quality render speed on the CPU: PSNR against a 1024-sample render, per second of render.

Renders MOVi-A (`--seed` 5, 128x128, 8 frames, as Kubric's published protocol) once at
1024 samples without adaptive sampling (the reference), then with each variant of the Cycles
settings at several sample counts, all in this process on the same machine, and reports for
each point the PSNR (dB, over all RGB pixels of all frames, 8-bit) against the reference and
the render seconds per frame. The "default" variant is what `RenderSettings()` renders; the
others change one or two Cycles settings on top of it, to show where the default lands on the
curve. Kubric 4.2 on this machine, same protocol (issue 12): 16 spp 40.8 dB at 1.08 s/frame,
64 spp 44.2 dB at 3.39 s/frame, 256 spp 47.5 dB at 12.7 s/frame. Target: our default reaches
44.2 dB in at most half of Kubric's 3.39 s/frame.

    .venv/bin/python benchmarks/render_quality.py [--samples 8 16 32 64 128] [--variants default ...]
        [--reference-samples 1024] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import emit  # noqa: E402 - benchmarks/ is on the path of a script run from it

from kubric_gen.render import RenderSettings, render  # noqa: E402
from kubric_gen.simulation import physics  # noqa: E402
from kubric_gen.world import build_scene, load_world, resolve_config  # noqa: E402

KUBRIC = [  # Kubric 4.2, MOVi-A seed 5, 128x128, 8 frames, this machine (issue 12)
    {"samples": 16, "psnr_db": 40.8, "seconds_per_frame": 1.08},
    {"samples": 64, "psnr_db": 44.2, "seconds_per_frame": 3.39},
    {"samples": 256, "psnr_db": 47.5, "seconds_per_frame": 12.7},
]
# variant -> (RenderSettings changes, Cycles attributes set on top of kubric_gen's configuration)
VARIANTS: dict[str, tuple[dict, dict]] = {
    "default": ({}, {}),
    "before": ({"adaptive_threshold": 0.01, "adaptive_min_samples": 0, "light_tree": "on"}, {}),  # until issue 12
    "light_tree": ({"light_tree": "on"}, {}),
    "no_adaptive": ({"adaptive_threshold": 0.0}, {}),
    "adaptive_0.02": ({"adaptive_threshold": 0.02}, {}),
    "adaptive_0.03": ({"adaptive_threshold": 0.03}, {}),
    "adaptive_min_8": ({"adaptive_min_samples": 8}, {}),
    "no_denoise": ({"denoise": False}, {}),
    "denoise_balanced": ({}, {"denoising_quality": "BALANCED"}),
    "denoise_rgb_only": ({}, {"denoising_input_passes": "RGB"}),
    "diffuse_2": ({}, {"diffuse_bounces": 2}),
    "bounces_4": ({}, {"max_bounces": 4, "diffuse_bounces": 2, "glossy_bounces": 2, "transmission_bounces": 4}),
    "no_caustics": ({}, {"caustics_reflective": False, "caustics_refractive": False}),
    "blue_noise": ({}, {"sampling_pattern": "BLUE_NOISE"}),
    "guiding": ({}, {"use_guiding": True}),
}


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    diff = image[..., :3].astype(np.float64) - reference[..., :3].astype(np.float64)
    mse = float(np.mean(diff * diff))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def render_with(scene, trajectory, settings: RenderSettings, cycles: dict) -> tuple[np.ndarray, float]:
    """Render all frames with `cycles` attributes set after kubric_gen configures Cycles."""
    from kubric_gen.render import blender

    configure = blender._configure

    def patched(bscene, *args, **kwargs):
        configure(bscene, *args, **kwargs)
        for name, value in cycles.items():
            setattr(bscene.cycles, name, value)

    blender._configure = patched
    try:
        result = render(scene, trajectory, settings)
    finally:
        blender._configure = configure
    return result.rgba, result.timings["render"] / scene.num_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--samples", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--reference-samples", type=int, default=1024)
    parser.add_argument("--variants", nargs="+", default=["default", "before"], choices=list(VARIANTS))
    parser.add_argument("--reference-cache", help="an .npz holding the reference frames: read if it exists "
                                                   "(same seed, size, frames and samples), else written")
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()

    world = load_world("movi_a")
    config = resolve_config(world, {"resolution": [args.resolution] * 2, "num_frames": args.frames})
    scene = build_scene(world, args.seed, config)
    trajectory = physics.simulate(scene)
    base = RenderSettings(device="cpu")
    start = time.perf_counter()
    key = f"{args.seed}-{args.resolution}-{args.frames}-{args.reference_samples}"
    cache = Path(args.reference_cache) if args.reference_cache else None
    if cache and cache.is_file() and str(np.load(cache)["key"]) == key:
        reference, reference_spf = np.load(cache)["rgba"], float(np.load(cache)["seconds_per_frame"])
    else:
        reference, reference_spf = render_with(
            scene, trajectory, replace(base, samples=args.reference_samples, adaptive_threshold=0.0), {})
        if cache:
            np.savez(cache, key=key, rgba=reference, seconds_per_frame=reference_spf)
    runs = []
    for name in args.variants:
        changes, cycles = VARIANTS[name]
        for samples in args.samples:
            rgba, spf = render_with(scene, trajectory, replace(base, samples=samples, **changes), cycles)
            runs.append({"variant": name, "samples": samples, "psnr_db": round(psnr(rgba, reference), 2),
                         "seconds_per_frame": round(spf, 3)})
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    default_point = next((r for r in runs if r["variant"] == "default" and r["samples"] == base.samples), None)
    results = {
        "benchmark": "render_quality", "cpus": os.cpu_count(), "world": "movi_a", "seed": args.seed,
        "resolution": args.resolution, "frames": args.frames,
        "defaults": {"samples": base.samples, "adaptive_threshold": base.adaptive_threshold,
                     "adaptive_min_samples": base.adaptive_min_samples, "light_tree": base.light_tree,
                     "denoise": base.denoise},
        "reference": {"samples": args.reference_samples, "adaptive_threshold": 0.0,
                      "seconds_per_frame": round(reference_spf, 3)},
        "kubric": KUBRIC,
        "default_point": default_point,
        "target": {"psnr_db": 44.2, "seconds_per_frame": round(3.39 / 2, 3)},
        "runs": runs,
        "seconds": round(time.perf_counter() - start, 1),
    }
    emit(results, args.output)


if __name__ == "__main__":
    main()
