"""Memory growth of rendering many scenes in one process.

Renders `--scenes` tiny random scenes (32x32, 4 samples, 2 frames, a few primitives)
one after another with `kubric_gen.render.render` and prints JSON with the resident
set size (VmRSS, MB) after each scene and the growth from scene 5 to the last one.
A renderer that frees everything between scenes shows (almost) no growth.

    python benchmarks/render_memory.py [--scenes 20] [--resolution 32] [--frames 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kubric_gen.render import RenderSettings, render  # noqa: E402
from kubric_gen.scene import (  # noqa: E402
    ColorBackground,
    Cube,
    Cylinder,
    Flat,
    PerspectiveCamera,
    Pose,
    Principled,
    Scene,
    Sphere,
    SunLight,
)
from kubric_gen.simulation.trajectory import Trajectory  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    import resource  # pragma: no cover - not Linux

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def random_scene(rng: np.random.Generator, resolution: int, frames: int) -> Scene:
    scene = Scene(resolution=(resolution, resolution), num_frames=frames,
                  background=ColorBackground(color=tuple(rng.uniform(0, 0.3, 3))))
    scene.add(Cube(name="floor", scale=(4, 4, 0.1), position=(0, 0, -0.1), motion="static",
                   material=Principled(color=(0.5, 0.5, 0.5))))
    kinds = (Cube, Sphere, Cylinder)
    for i in range(int(rng.integers(3, 7))):
        start = rng.uniform((-1.5, -1.5, 0.3), (1.5, 1.5, 1.2))
        step = rng.uniform(-0.1, 0.1, 3)
        poses = [Pose(position=tuple(start + f * step)) for f in range(frames)]
        material = (Flat(color=tuple(rng.uniform(0, 1, 3))) if rng.random() < 0.3
                    else Principled(color=tuple(rng.uniform(0, 1, 3)), metallic=float(rng.random())))
        scene.add(kinds[int(rng.integers(0, 3))](name=f"obj_{i}", scale=float(rng.uniform(0.2, 0.5)),
                                                motion="kinematic", keyframes=poses, material=material))
    scene.add(SunLight(direction=tuple(rng.uniform((-1, -1, -2), (1, 1, -1))), strength=2.0))
    scene.camera = PerspectiveCamera(position=tuple(rng.uniform((4, -5, 2), (6, -3, 4))), look_at=(0, 0, 0.3))
    return scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()

    import bpy  # noqa: F401  (so the baseline includes Blender itself)

    settings = RenderSettings(samples=args.samples, denoise=False)
    rng = np.random.default_rng(0)
    baseline = rss_mb()
    rss, seconds, device = [], [], None
    for _ in range(args.scenes):
        scene = random_scene(rng, args.resolution, args.frames)
        start = time.perf_counter()
        result = render(scene, Trajectory.static(scene), settings)
        seconds.append(round(time.perf_counter() - start, 3))
        device = result.device
        rss.append(round(rss_mb(), 1))
    fifth = rss[min(4, len(rss) - 1)]
    print(json.dumps({
        "benchmark": "render_memory",
        "device": device,
        "scenes": args.scenes,
        "resolution": args.resolution,
        "frames": args.frames,
        "samples": args.samples,
        "rss_mb_after_import": round(baseline, 1),
        "rss_mb": rss,
        "rss_mb_first": rss[0],
        "rss_mb_last": rss[-1],
        "growth_mb_scene5_to_last": round(rss[-1] - fifth, 1),
        "seconds_per_scene": seconds,
    }, indent=2))


if __name__ == "__main__":
    main()
