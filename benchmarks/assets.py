"""Asset library costs: conversion per mesh, KuBasic first use per shape, cache hits.

Runs in a fresh temporary cache (so "first use" really is the first). Prints JSON:
- conversion: a generated folder of 5 meshes (one textured) converted with convex-hull
  collision meshes, then with VHACD where a mesh is not convex ("auto"), then re-run
  unchanged (incremental: every model skipped);
- kubasic: per shape, seconds to generate the visual mesh on first `make()`, seconds
  to compute its collision mesh (convex hull or VHACD), and seconds for `make()` once
  cached; with the ratio first use / cache hit (a same-run comparison);
- pybullet_data: indexing the whole package once, and loading the cached index.

    .venv/bin/python benchmarks/assets.py [--shapes cube,teapot] [--no-vhacd]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image


def make_folder(root: Path) -> Path:
    src = root / "src"
    meshes = {
        "box": trimesh.creation.box(extents=(0.1, 0.2, 0.3)),
        "ball": trimesh.creation.icosphere(subdivisions=3, radius=0.05),
        "ring": trimesh.creation.torus(major_radius=0.1, minor_radius=0.03),
        "capsule": trimesh.creation.capsule(height=0.2, radius=0.05),
        "tube": trimesh.creation.annulus(r_min=0.03, r_max=0.05, height=0.2),
    }
    for name, mesh in meshes.items():
        folder = src / name / "meshes"
        folder.mkdir(parents=True)
        mesh.export(folder / "model.obj")
    textures = src / "box" / "materials" / "textures"
    textures.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(
        textures / "texture.png")
    box = meshes["box"]
    uv = np.random.default_rng(1).uniform(0, 1, (len(box.vertices), 2))
    lines = ["mtllib model.mtl", "usemtl m"] + [f"v {x} {y} {z}" for x, y, z in box.vertices]
    lines += [f"vt {u} {v}" for u, v in uv] + ["f " + " ".join(f"{i + 1}/{i + 1}" for i in f) for f in box.faces]
    (src / "box" / "meshes" / "model.obj").write_text("\n".join(lines) + "\n")
    (src / "box" / "meshes" / "model.mtl").write_text("newmtl m\nmap_Kd texture.png\n")
    return src


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default=None, help="comma-separated KuBasic shapes (default: all available)")
    parser.add_argument("--no-vhacd", action="store_true", help="skip VHACD (conversion 'auto', KuBasic collision)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KUBRIC_GEN_CACHE"] = str(Path(tmp) / "cache")
        from kubric_gen.assets import AssetLibrary, convert_folder, kubasic

        result: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
        src = make_folder(Path(tmp))
        conversion = {"meshes": 5}
        seconds, _ = timed(lambda: convert_folder(src, Path(tmp) / "lib_hull", collision="convex_hull",
                                                  progress=False))
        conversion["convex_hull_seconds_per_mesh"] = round(seconds / 5, 4)
        if not args.no_vhacd:
            seconds, res = timed(lambda: convert_folder(src, Path(tmp) / "lib_auto", collision="auto",
                                                        progress=False))
            shapes = [e.collision_shape for e in AssetLibrary.load(Path(tmp) / "lib_auto")]
            conversion["auto_seconds_per_mesh"] = round(seconds / 5, 3)
            conversion["auto_vhacd_meshes"] = shapes.count("vhacd")
        seconds, res = timed(lambda: convert_folder(src, Path(tmp) / "lib_hull", collision="convex_hull",
                                                    progress=False))
        conversion["rerun_unchanged_seconds_total"] = round(seconds, 4)
        conversion["rerun_skipped"] = len(res.skipped)
        result["conversion"] = conversion

        library = AssetLibrary.kubasic()
        shapes = args.shapes.split(",") if args.shapes else [s for s in kubasic.SHAPES if s != "spot"]
        per_shape = {}
        for shape in shapes:
            first, _ = timed(lambda s=shape: library.make(s))
            row = {"first_make_seconds": round(first, 4)}
            if not args.no_vhacd or library.entry(shape).collision_shape == "convex_hull":
                collision, _ = timed(lambda s=shape: library.collision_file(s))
                row["collision"] = library.entry(shape).collision_shape
                row["collision_seconds"] = round(collision, 3)
            hits = [timed(lambda s=shape: library.make(s))[0] for _ in range(5)]
            row["cached_make_seconds"] = round(float(np.median(hits)), 5)
            row["first_over_cached"] = round(first / max(row["cached_make_seconds"], 1e-9), 1)
            per_shape[shape] = row
        result["kubasic"] = per_shape

        seconds, pb = timed(lambda: AssetLibrary.pybullet_data())
        again, _ = timed(lambda: AssetLibrary.pybullet_data())
        result["pybullet_data"] = {"assets": len(pb), "index_seconds": round(seconds, 2),
                                   "cached_load_seconds": round(again, 3)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
