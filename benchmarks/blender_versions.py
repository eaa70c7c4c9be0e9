"""Cycles CPU render speed of different `bpy` wheels (Blender versions) on the same scene.

Self-contained: it imports nothing from kubric_gen, so it runs under any interpreter that has
`bpy` (and numpy, which every bpy wheel pulls in). Two modes:

1. worker (default): run under ONE interpreter. Times `import bpy`, builds a deterministic
   MOVi-A-like scene with plain `bpy` calls (a grey ground plane, 8 cubes / spheres / cylinders
   with Principled BSDF "metal" and "rubber" materials, a sun and an area light, a perspective
   camera, a grey world), renders `--frames` frames (the objects move a little between frames)
   `--repeats` times with Cycles on the CPU (fixed seed, fixed sample count: adaptive sampling
   and denoising off, Standard view transform) and prints ONE JSON line:
   bpy_version, python, import_s, seconds of every frame, their median / min, the mean pixel
   value (0-255, RGB) of the last frame, peak RSS and the load average before / after.

       .venv/bin/python benchmarks/blender_versions.py                    # 256x256, 3 frames, 64 samples, 3 repeats
       .venv/bin/python benchmarks/blender_versions.py --quick            # smoke run: 64x64, 1 frame, 4 samples

2. compare: `--compare PY1 PY2 ...` runs the worker once under each interpreter, round after round
   (A, B, C, A, B, C, ...; `--rounds`, default 3), so that other jobs on a shared machine slow
   all of them alike; each worker is a fresh process (so `import bpy` is measured every round).
   Prints one JSON summary: per interpreter all frame seconds, median / min seconds per frame,
   median import seconds, and the ratios against the baseline (the first interpreter whose bpy
   is 5.0.x, else the first one), plus the mean absolute difference (0-255, RGB) between each
   version's last frame and the baseline's, a check that every version rendered the same work.

       .venv/bin/python benchmarks/blender_versions.py --compare .venv/bin/python /tmp/bpy45/bin/python \\
           --output benchmarks/results/blender_versions.json

Only API that exists unchanged in bpy 4.5, 5.0 and 5.1+ is used; where it differs (e.g.
`Material.use_nodes`, deprecated in 5.0) the script checks before it touches it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SCENE_SEED = 0
NUM_OBJECTS = 8
QUICK = {"resolution": 64, "frames": 1, "samples": 4, "repeats": 1}


def _load1() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - not Linux
        return -1.0


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


# ---------------------------------------------------------------------------------------------
# worker: scene + render, inside one interpreter
# ---------------------------------------------------------------------------------------------


def _node_tree(idblock):
    """The node tree of a material / world, creating it on versions that still need use_nodes."""
    if getattr(idblock, "node_tree", None) is None and hasattr(idblock, "use_nodes"):
        idblock.use_nodes = True
    return idblock.node_tree


def _principled(bpy, name, color, metallic, roughness):
    mat = bpy.data.materials.new(name)
    tree = _node_tree(mat)
    bsdf = next(n for n in tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Roughness"].default_value = roughness
    if "IOR" in bsdf.inputs:
        bsdf.inputs["IOR"].default_value = 1.5
    return mat


def build_scene(bpy, resolution: int, samples: int):
    """A MOVi-A-like scene; returns [(object, start location, velocity per frame)]."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    rng = random.Random(SCENE_SEED)  # Mersenne Twister, seeded by an int: same in every Python 3

    # Render settings: Cycles on the CPU, fixed work per frame.
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = False
    scene.cycles.seed = SCENE_SEED
    scene.cycles.use_animated_seed = False
    scene.render.resolution_x = resolution
    scene.render.resolution_y = resolution
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.threads_mode = "AUTO"
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.color_depth = "8"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.render.dither_intensity = 0.0

    world = bpy.data.worlds.new("world")
    scene.world = world
    wtree = _node_tree(world)
    background = next((n for n in wtree.nodes if n.type == "BACKGROUND"), None)
    if background is None:
        background = wtree.nodes.new("ShaderNodeBackground")
        output = next((n for n in wtree.nodes if n.type == "OUTPUT_WORLD"), None)
        if output is None:
            output = wtree.nodes.new("ShaderNodeOutputWorld")
        wtree.links.new(background.outputs["Background"], output.inputs["Surface"])
    background.inputs["Color"].default_value = (0.05, 0.05, 0.05, 1.0)
    background.inputs["Strength"].default_value = 1.0

    # Ground plane (MOVi-A: a large grey floor).
    bpy.ops.mesh.primitive_plane_add(size=40.0, location=(0.0, 0.0, 0.0))
    floor = bpy.context.active_object
    floor.data.materials.append(_principled(bpy, "floor", (0.5, 0.5, 0.5), 0.0, 0.5))

    # 8 objects: shape, size, colour, material and pose drawn from the fixed-seed generator.
    moving = []
    adders = {
        "cube": lambda loc: bpy.ops.mesh.primitive_cube_add(size=2.0, location=loc),
        "sphere": lambda loc: bpy.ops.mesh.primitive_uv_sphere_add(
            radius=1.0, segments=32, ring_count=16, location=loc
        ),
        "cylinder": lambda loc: bpy.ops.mesh.primitive_cylinder_add(radius=1.0, depth=2.0, vertices=32, location=loc),
    }
    for i in range(NUM_OBJECTS):
        shape = ("cube", "sphere", "cylinder")[i % 3]
        scale = rng.choice((0.7, 1.4))
        loc = (rng.uniform(-5.0, 5.0), rng.uniform(-5.0, 5.0), scale + rng.uniform(0.0, 3.0))
        adders[shape](loc)
        obj = bpy.context.active_object
        obj.name = f"{shape}_{i}"
        obj.scale = (scale, scale, scale)
        obj.rotation_euler = (0.0, 0.0, rng.uniform(0.0, 2.0 * math.pi))
        if shape != "cube":
            for poly in obj.data.polygons:
                poly.use_smooth = True
        hue = rng.random()
        color = tuple(0.5 + 0.4 * math.cos(2.0 * math.pi * (hue + k / 3.0)) for k in range(3))
        if rng.random() < 0.5:
            mat = _principled(bpy, f"metal_{i}", color, 1.0, 0.2)
        else:
            mat = _principled(bpy, f"rubber_{i}", color, 0.0, 0.7)
        obj.data.materials.append(mat)
        velocity = (rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), -0.1)
        moving.append((obj, loc, velocity))

    # Lights: a sun and an area light.
    sun_data = bpy.data.lights.new("sun", type="SUN")
    sun_data.energy = 3.0
    sun = bpy.data.objects.new("sun", sun_data)
    sun.location = (11.6, -0.7, 20.0)
    sun.rotation_euler = (math.radians(30.0), math.radians(20.0), math.radians(10.0))
    scene.collection.objects.link(sun)
    area_data = bpy.data.lights.new("area", type="AREA")
    area_data.energy = 300.0
    area_data.size = 3.0
    area = bpy.data.objects.new("area", area_data)
    area.location = (-6.0, -6.0, 8.0)
    area.rotation_euler = (math.radians(45.0), 0.0, math.radians(-45.0))
    scene.collection.objects.link(area)

    # Perspective camera looking at the origin from MOVi-A's kind of distance.
    cam_data = bpy.data.cameras.new("camera")
    cam_data.type = "PERSP"
    cam_data.lens = 28.0
    cam_data.sensor_width = 32.0
    camera = bpy.data.objects.new("camera", cam_data)
    camera.location = (12.0, -12.0, 10.0)
    direction = (-camera.location[0], -camera.location[1], -camera.location[2])
    yaw = math.atan2(direction[1], direction[0]) - math.pi / 2.0
    pitch = math.atan2(math.hypot(direction[0], direction[1]), -direction[2])
    camera.rotation_euler = (pitch, 0.0, yaw)
    scene.collection.objects.link(camera)
    scene.camera = camera
    return moving


def render_frames(bpy, moving, frames: int):
    """Renders `frames` frames (objects moved between them); returns the seconds of each."""
    scene = bpy.context.scene
    seconds = []
    for frame in range(frames):
        for obj, loc, vel in moving:
            obj.location = tuple(
                max(p + v * frame, 0.1) if k == 2 else p + v * frame
                for k, (p, v) in enumerate(zip(loc, vel, strict=True))
            )
        scene.frame_set(frame + 1)
        t0 = time.perf_counter()
        bpy.ops.render.render(write_still=False)
        seconds.append(time.perf_counter() - t0)
    return seconds


def last_frame_pixels(bpy, path: str):
    """Saves the last render to `path` (PNG) and returns its RGB pixels as uint8 [H, W, 3]."""
    import numpy as np

    bpy.data.images["Render Result"].save_render(filepath=path)
    image = bpy.data.images.load(path)
    width, height = image.size
    flat = np.empty(width * height * image.channels, dtype=np.float32)
    image.pixels.foreach_get(flat)
    rgba = flat.reshape(height, width, image.channels)[::-1]  # Blender stores bottom row first
    return np.clip(np.round(rgba[..., :3] * 255.0), 0, 255).astype(np.uint8)


def worker(args) -> dict:
    load_before = _load1()
    t0 = time.perf_counter()
    import bpy  # noqa: PLC0415 - the import itself is measured

    import_s = time.perf_counter() - t0

    frame_seconds, setup_seconds = [], []
    pixels = None
    with tempfile.TemporaryDirectory(prefix="blender_versions_") as tmp:
        for _ in range(args.repeats):
            t1 = time.perf_counter()
            moving = build_scene(bpy, args.resolution, args.samples)
            setup_seconds.append(time.perf_counter() - t1)
            frame_seconds.extend(render_frames(bpy, moving, args.frames))
        pixels = last_frame_pixels(bpy, os.path.join(tmp, "last.png"))
    if args.save_pixels:
        import numpy as np

        np.save(args.save_pixels, pixels)
    return {
        "bpy_version": bpy.app.version_string,
        "python": platform.python_version(),
        "executable": sys.executable,
        "import_s": round(import_s, 3),
        "scene_setup_s": [round(s, 3) for s in setup_seconds],
        "frame_s": [round(s, 3) for s in frame_seconds],
        "seconds_per_frame": {
            "median": round(statistics.median(frame_seconds), 3),
            "min": round(min(frame_seconds), 3),
        },
        "mean_pixel": round(float(pixels.mean()), 3),
        "peak_rss_mib": _peak_rss_mib(),
        "loadavg_1min_before_after": [round(load_before, 2), round(_load1(), 2)],
        "settings": {
            "resolution": [args.resolution, args.resolution],
            "frames": args.frames,
            "repeats": args.repeats,
            "samples": args.samples,
            "seed": SCENE_SEED,
            "objects": NUM_OBJECTS,
            "threads": os.cpu_count(),
        },
    }


# ---------------------------------------------------------------------------------------------
# compare: the worker under several interpreters, interleaved
# ---------------------------------------------------------------------------------------------


def compare(args) -> dict:
    import numpy as np  # the comparing interpreter needs numpy (any bpy venv has it)

    runs: dict[str, dict] = {}
    order = []
    with tempfile.TemporaryDirectory(prefix="blender_versions_cmp_") as tmp:
        for rnd in range(args.rounds):
            for idx, py in enumerate(args.compare):
                npy = os.path.join(tmp, f"py{idx}.npy")
                cmd = [
                    py,
                    os.path.abspath(__file__),
                    "--resolution",
                    str(args.resolution),
                    "--frames",
                    str(args.frames),
                    "--samples",
                    str(args.samples),
                    "--repeats",
                    "1",
                    "--save-pixels",
                    npy,
                ]
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                wall = time.perf_counter() - t0
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
                if proc.returncode != 0 or not lines:
                    sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
                    raise SystemExit(f"worker failed under {py} (exit {proc.returncode})")
                result = json.loads(lines[-1])
                key = py
                entry = runs.setdefault(
                    key,
                    {
                        "interpreter": py,
                        "bpy_version": result["bpy_version"],
                        "python": result["python"],
                        "frame_s": [],
                        "import_s": [],
                        "scene_setup_s": [],
                        "process_wall_s": [],
                        "mean_pixel": [],
                        "peak_rss_mib": [],
                        "loadavg_1min_before_after": [],
                    },
                )
                entry["frame_s"].extend(result["frame_s"])
                entry["import_s"].append(result["import_s"])
                entry["scene_setup_s"].extend(result["scene_setup_s"])
                entry["process_wall_s"].append(round(wall, 2))
                entry["mean_pixel"].append(result["mean_pixel"])
                entry["peak_rss_mib"].append(result["peak_rss_mib"])
                entry["loadavg_1min_before_after"].append(result["loadavg_1min_before_after"])
                entry["_pixels"] = np.load(npy)
                order.append(f"round {rnd + 1}: bpy {result['bpy_version']}")
                sys.stderr.write(
                    f"round {rnd + 1}/{args.rounds} bpy {result['bpy_version']}: frames "
                    f"{result['frame_s']} import {result['import_s']} s\n"
                )

    baseline = next((k for k, v in runs.items() if v["bpy_version"].startswith("5.0")), next(iter(runs)))
    base = runs[baseline]
    for entry in runs.values():
        entry["seconds_per_frame"] = {
            "median": round(statistics.median(entry["frame_s"]), 3),
            "min": round(min(entry["frame_s"]), 3),
        }
        entry["import_s_median"] = round(statistics.median(entry["import_s"]), 3)
    summary_runs = {}
    for entry in runs.values():
        diff = np.abs(entry["_pixels"].astype(np.int16) - base["_pixels"].astype(np.int16))
        summary_runs[entry["bpy_version"]] = {
            **{k: v for k, v in entry.items() if not k.startswith("_")},
            "ratio_vs_baseline": {
                "median_frame": round(entry["seconds_per_frame"]["median"] / base["seconds_per_frame"]["median"], 3),
                "min_frame": round(entry["seconds_per_frame"]["min"] / base["seconds_per_frame"]["min"], 3),
                "import": round(entry["import_s_median"] / base["import_s_median"], 3),
            },
            "last_frame_mean_abs_diff_vs_baseline": round(float(diff.mean()), 3),
            "last_frame_max_abs_diff_vs_baseline": int(diff.max()),
        }
    return {
        "benchmark": "blender_versions",
        "baseline": base["bpy_version"],
        "settings": {
            "resolution": [args.resolution, args.resolution],
            "frames": args.frames,
            "samples": args.samples,
            "rounds": args.rounds,
            "seed": SCENE_SEED,
            "objects": NUM_OBJECTS,
            "device": "CPU",
            "adaptive_sampling": False,
            "denoising": False,
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "order": order,
        "runs": summary_runs,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="PYTHON",
        help="run the worker under each interpreter, interleaved, and summarise",
    )
    parser.add_argument("--rounds", type=int, default=3, help="compare: rounds (default 3)")
    parser.add_argument("--resolution", type=int, default=256, help="square size (default 256)")
    parser.add_argument("--frames", type=int, default=3, help="frames per repeat (default 3)")
    parser.add_argument("--samples", type=int, default=64, help="Cycles samples (default 64)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="worker: scene builds + renders in this process (default 3)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 64x64, 1 frame, 4 samples")
    parser.add_argument("--save-pixels", help="worker: save the last frame (uint8 RGB) as .npy")
    parser.add_argument("--output", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
        args.rounds = min(args.rounds, 1)

    result = compare(args) if args.compare else worker(args)
    text = json.dumps(result, separators=(",", ":")) if not args.compare else json.dumps(result, indent=1)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
