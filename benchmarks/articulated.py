"""Articulated scenes: what a frame costs (physics, ground truth, render) against MOVi-A's.

For each world, one scene is built and each stage timed in this process, the worlds taken in
turn `repeats` times (alternated: a drift of the machine's speed hits every world alike); the
best of the repeats is kept and divided by the frame count. MOVi-A is the baseline of the same run.

    .venv/bin/python benchmarks/articulated.py [--worlds movi_a robot_arm legged_robot humanoid]
        [--resolution 128] [--frames 8] [--samples 32] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

from report import emit

from kubric_gen import meshes
from kubric_gen.render import RenderSettings, render
from kubric_gen.simulation import physics
from kubric_gen.simulation.parts import scene_parts
from kubric_gen.truth import compute_ground_truth
from kubric_gen.world import build_scene, load_world, resolve_config


def measure(world_name: str, resolution: int, frames: int, samples: int, seed: int) -> dict:
    world = load_world(world_name)
    scene = build_scene(world, seed, resolve_config(world, {"resolution": [resolution, resolution],
                                                            "num_frames": frames}))
    parts = scene_parts(scene)
    t0 = time.perf_counter()
    trajectory = physics.simulate(scene)
    t1 = time.perf_counter()
    compute_ground_truth(scene, trajectory, num_tracks=256)
    t2 = time.perf_counter()
    out = render(scene, trajectory, RenderSettings(samples=samples, device="cpu"))
    return {"world": world_name, "objects": len(scene.objects), "parts": len(parts),
            "triangles": int(sum(len(p.mesh.faces) for p in parts)),
            "links": sum(len(meshes.link_meshes(o)) for o in scene.objects if o.kind == "articulated"),
            "deforming_vertices": int(sum(len(p.mesh.vertices) for p in parts if p.deforms)),
            "physics_s_per_frame": (t1 - t0) / frames, "ground_truth_s_per_frame": (t2 - t1) / frames,
            "render_s_per_frame": out.timings["render"] / frames}


def main(worlds: tuple[str, ...] = ("movi_a", "robot_arm", "legged_robot", "humanoid"), doc: str = __doc__) -> None:
    """Time `worlds` (the command line may name others) and print the JSON report."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--worlds", nargs="+", default=list(worlds))
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    best: dict[str, dict] = {}
    for _ in range(args.repeats):
        for name in args.worlds:
            result = measure(name, args.resolution, args.frames, args.samples, args.seed)
            kept = best.setdefault(name, result)
            for key in ("physics_s_per_frame", "ground_truth_s_per_frame", "render_s_per_frame"):
                kept[key] = min(kept[key], result[key])
    baseline = best.get("movi_a")
    rows = []
    for row in best.values():
        total = row["physics_s_per_frame"] + row["ground_truth_s_per_frame"] + row["render_s_per_frame"]
        row = {**{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()},
               "total_s_per_frame": round(total, 4)}
        if baseline is not None:
            base = (baseline["physics_s_per_frame"] + baseline["ground_truth_s_per_frame"]
                    + baseline["render_s_per_frame"])
            row["total_vs_movi_a"] = round(total / base, 3)
        rows.append(row)
    emit({"resolution": args.resolution, "frames": args.frames, "samples": args.samples, "repeats": args.repeats,
          "worlds": rows})


if __name__ == "__main__":
    main()
