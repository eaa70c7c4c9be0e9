"""kubric_gen's overhead on a MOVi-A scene, against a bare `bpy` loop rendering the same scene.

Two measurements, each in its own child process (so each has its own peak RSS):

1. kubric_gen: `kubric_gen.generate.generate_scene("movi_a", seed, ...)` on the CPU. Reports the seconds of
   each stage from `SceneResult.timings` (build_scene, physics, ground_truth, render_setup, render,
   write), their total, the wall time of the call (which also includes the lazy `import bpy`), the
   seconds of each frame (from the progress callback) and the peak RSS.
2. bare bpy: the simplest plausible plain-`bpy` script for the same scene, read back from the
   `scene.json` and `metadata.json` that run 1 wrote: `bpy.ops.mesh.primitive_*` (cube size 2,
   UV sphere radius 1, cylinder radius 1 depth 2; shaded smooth by angle) with the same scale,
   Principled BSDF values, lights, camera, world colour and Cycles settings (samples, adaptive
   threshold 0.01, OpenImageDenoise, Standard view transform); poses keyframed per frame; every frame
   rendered with `bpy.ops.render.render(write_still=True)` to a PNG in a temporary directory. Setup
   (factory reset, scene building, keyframing) and rendering are timed separately. Blender defaults
   are kept for everything not named here (e.g. no persistent data unless `--bare-persistent-data`).

Prints one JSON object with the raw numbers, the settings, the machine (CPU count, bpy version) and

    overhead_ratio = kubric_gen total seconds / bare bpy (setup + render) seconds
    render_ratio   = kubric_gen render seconds / bare bpy render seconds
    median_frame_ratio, min_frame_ratio = the median and the fastest frame's seconds, kubric_gen /
        bare bpy: robust to frames slowed down by other processes on a shared machine (each run
        also records the 1-minute load average before and after)

plus the mean absolute difference (0-255) between the two runs' frames, a check that both rendered
the same scene (small differences are expected: different tessellation, dithering, noise).

    .venv/bin/python benchmarks/movi_a_overhead.py                # MOVi-A: 256x256, 24 frames, 64 samples
    .venv/bin/python benchmarks/movi_a_overhead.py --quick        # smoke run: 64x64, 2 frames, 4 samples
    .venv/bin/python benchmarks/movi_a_overhead.py --seed 3 --output benchmarks/results/movi_a_overhead.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORLD = "movi_a"
ADAPTIVE_THRESHOLD = 0.01
QUICK = {"resolution": (64, 64), "frames": 2, "samples": 4}


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def parse_resolution(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or 0 in (int(match[1]), int(match[2])):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 256x256 (got {text!r})")
    return int(match[1]), int(match[2])


# ---------------------------------------------------------------- child 1: kubric_gen
def child_kubric_gen(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    from kubric_gen.generate import generate_scene
    from kubric_gen.render.settings import RenderSettings

    settings = RenderSettings(samples=args.samples, adaptive_threshold=ADAPTIVE_THRESHOLD, denoise=True,
                              device="cpu")
    overrides = {"resolution": list(args.resolution), "num_frames": args.frames}
    done_at: list[float] = []  # when each frame was finished (progress callback)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    result = generate_scene(WORLD, args.seed, args.scene_dir, settings, overrides,
                          progress=lambda done, total: done_at.append(time.perf_counter()))
    call_s = time.perf_counter() - start
    timings = {k: round(v, 3) for k, v in result.timings.items()}
    later = [b - a for a, b in zip(done_at, done_at[1:], strict=False)]
    per_frame = [result.timings["render"] - sum(later), *later]  # the first frame: the rest of "render"
    with open(Path(args.scene_dir) / "metadata.json") as f:
        num_instances = json.load(f)["metadata"]["num_instances"]
    return {
        "timings_s": timings,
        "total_s": round(result.seconds, 3),  # the ground truth overlaps the render
        "render_scene_call_s": round(call_s, 3),
        "render_s_per_frame": round(result.timings["render"] / args.frames, 3),
        "render_s_median_frame": round(statistics.median(per_frame), 3),
        "render_s_min_frame": round(min(per_frame), 3),
        "seconds_per_frame": [round(s, 3) for s in per_frame],
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "device": result.device,
        "num_instances": num_instances,
        "peak_rss_mib": peak_rss_mib(),
    }


# ---------------------------------------------------------------- child 2: bare bpy
def child_bare_bpy(args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    import bpy

    import_s = time.perf_counter() - start
    load_before = os.getloadavg()[0]
    scene_dir = Path(args.scene_dir)
    with open(scene_dir / "scene.json") as f:
        desc = json.load(f)
    with open(scene_dir / "metadata.json") as f:
        meta = json.load(f)
    trajectories = {inst["name"]: inst for inst in meta["instances"]}
    width, height = desc["resolution"]
    num_frames = desc["num_frames"]

    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = args.samples
    scene.cycles.use_adaptive_sampling = True
    scene.cycles.adaptive_threshold = ADAPTIVE_THRESHOLD
    scene.cycles.use_denoising = True
    scene.cycles.denoiser = "OPENIMAGEDENOISE"
    scene.view_settings.view_transform = "Filmic"  # kubric_gen's default (MOVi's look)
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.use_persistent_data = args.bare_persistent_data
    scene.frame_start, scene.frame_end = 0, num_frames - 1

    world = bpy.data.worlds.new("World")  # new worlds come with Background -> World Output nodes
    background = world.node_tree.nodes["Background"]
    background.inputs["Color"].default_value = (*desc["background"]["color"], 1.0)
    background.inputs["Strength"].default_value = desc["background"]["strength"]
    if not desc["background"].get("visible_to_camera", True):  # camera rays see black (MOVi's ambient light)
        nodes, links = world.node_tree.nodes, world.node_tree.links
        black, mix, path = (nodes.new("ShaderNodeBackground"), nodes.new("ShaderNodeMixShader"),
                            nodes.new("ShaderNodeLightPath"))
        black.inputs["Color"].default_value = (0, 0, 0, 1)
        links.new(path.outputs["Is Camera Ray"], mix.inputs["Fac"])
        links.new(background.outputs["Background"], mix.inputs[1])
        links.new(black.outputs["Background"], mix.inputs[2])
        links.new(mix.outputs["Shader"], nodes["World Output"].inputs["Surface"])
    scene.world = world

    add = {"cube": lambda spec: bpy.ops.mesh.primitive_cube_add(size=2),
           "sphere": lambda spec: bpy.ops.mesh.primitive_uv_sphere_add(radius=1),
           "cylinder": lambda spec: bpy.ops.mesh.primitive_cylinder_add(radius=1, depth=2),
           "mesh": lambda spec: bpy.ops.wm.obj_import(filepath=spec["path"], forward_axis="Y", up_axis="Z")}
    for spec in desc["objects"]:
        add[spec["type"]](spec)
        obj = bpy.context.selected_objects[0] if spec["type"] == "mesh" else bpy.context.object
        bpy.context.view_layer.objects.active = obj
        if spec.get("casts_shadows") is not None:
            obj.visible_shadow = spec["casts_shadows"]
        obj.name = spec["name"]
        bpy.ops.object.shade_smooth_by_angle()
        obj.scale = spec["scale"]
        obj.rotation_mode = "QUATERNION"
        m = spec["material"]
        material = bpy.data.materials.new(spec["name"])  # new materials come with a Principled BSDF
        bsdf = material.node_tree.nodes["Principled BSDF"]
        bsdf.inputs["Base Color"].default_value = (*m["color"], 1.0)
        bsdf.inputs["Metallic"].default_value = m["metallic"]
        bsdf.inputs["Roughness"].default_value = m["roughness"]
        bsdf.inputs["IOR"].default_value = m["ior"]
        bsdf.inputs["Specular IOR Level"].default_value = m.get("specular", 0.5)
        bsdf.inputs["Transmission Weight"].default_value = m["transmission"]
        bsdf.inputs["Emission Color"].default_value = (*m["emission"], 1.0)
        bsdf.inputs["Emission Strength"].default_value = m["emission_strength"]
        obj.data.materials.clear()
        obj.data.materials.append(material)
        if spec["name"] in trajectories:
            track = trajectories[spec["name"]]
            for frame in range(num_frames):
                obj.location = track["positions"][frame]
                obj.rotation_quaternion = track["quaternions"][frame]
                obj.keyframe_insert("location", frame=frame)
                obj.keyframe_insert("rotation_quaternion", frame=frame)
        else:  # static, or never visible (metadata.json lists visible objects only): its initial pose
            obj.location = spec["position"]
            obj.rotation_quaternion = spec["quaternion"]

    for spec in desc["lights"]:
        bpy.ops.object.light_add(type=spec["type"].upper(), location=spec["position"])
        light = bpy.context.object
        light.rotation_mode = "QUATERNION"
        light.rotation_quaternion = spec["quaternion"]
        light.data.color = spec["color"]
        if spec["type"] == "sun":
            light.data.energy, light.data.angle = spec["strength"], spec["angle"]
        elif spec["type"] == "area":
            light.data.energy, light.data.size = spec["power"], spec["size"]
        else:
            raise SystemExit(f"light type {spec['type']!r} is not handled by this benchmark")

    cam_meta = meta["camera"]
    bpy.ops.object.camera_add()
    camera = bpy.context.object
    camera.data.lens = cam_meta["focal_length"]
    camera.data.sensor_width = cam_meta["sensor_width"]
    camera.data.sensor_fit = "HORIZONTAL"
    camera.rotation_mode = "QUATERNION"
    for frame in range(num_frames):
        camera.location = cam_meta["positions"][frame]
        camera.rotation_quaternion = cam_meta["quaternions"][frame]
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_quaternion", frame=frame)
    scene.camera = camera
    setup_s = time.perf_counter() - t0

    per_frame = []
    with tempfile.TemporaryDirectory(prefix="bare_bpy_") as tmp:
        t1 = time.perf_counter()
        for frame in range(num_frames):
            f0 = time.perf_counter()
            scene.frame_set(frame)
            scene.render.filepath = os.path.join(tmp, f"rgba_{frame:05d}.png")
            bpy.ops.render.render(write_still=True)
            per_frame.append(round(time.perf_counter() - f0, 3))
        render_s = time.perf_counter() - t1
        diff = _mean_abs_diff(scene_dir, Path(tmp), num_frames)  # after the timing

    return {
        "bpy_version": bpy.app.version_string,
        "import_bpy_s": round(import_s, 3),
        "setup_s": round(setup_s, 3),
        "render_s": round(render_s, 3),
        "total_s": round(setup_s + render_s, 3),
        "render_s_per_frame": round(render_s / num_frames, 3),
        "render_s_median_frame": round(statistics.median(per_frame), 3),
        "render_s_min_frame": round(min(per_frame), 3),
        "seconds_per_frame": per_frame,
        "loadavg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "persistent_data": args.bare_persistent_data,
        "rgb_mean_abs_diff_vs_kubric_gen": diff,
        "peak_rss_mib": peak_rss_mib(),
    }


def _mean_abs_diff(dir_a: Path, dir_b: Path, num_frames: int) -> float:
    """Mean absolute RGB difference (0-255) between the frames of two directories."""
    import imageio.v3 as iio
    import numpy as np

    total = 0.0
    for frame in range(num_frames):
        a = iio.imread(dir_a / f"rgba_{frame:05d}.png")[..., :3].astype(np.float64)
        b = iio.imread(dir_b / f"rgba_{frame:05d}.png")[..., :3].astype(np.float64)
        total += float(np.abs(a - b).mean())
    return round(total / num_frames, 2)


# ---------------------------------------------------------------- parent
def run_child(kind: str, args: argparse.Namespace, scene_dir: Path, work: Path) -> dict:
    result_file = work / f"{kind}.json"
    command = [sys.executable, os.path.abspath(__file__), "--child", kind, "--scene-dir", str(scene_dir),
               "--result", str(result_file), "--resolution", "{}x{}".format(*args.resolution),
               "--frames", str(args.frames), "--samples", str(args.samples), "--seed", str(args.seed)]
    if args.bare_persistent_data:
        command.append("--bare-persistent-data")
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace")
    wall_s = time.perf_counter() - start
    if proc.returncode != 0 or not result_file.exists():
        sys.stderr.write(proc.stdout[-8000:])
        raise SystemExit(f"movi_a_overhead: the {kind} run failed (exit status {proc.returncode})")
    with open(result_file) as f:
        out = json.load(f)
    out["process_wall_s"] = round(wall_s, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=parse_resolution, default=(256, 256), help="WIDTHxHEIGHT (256x256)")
    parser.add_argument("--frames", type=int, default=24, help="number of frames (24)")
    parser.add_argument("--samples", type=int, default=64, help="Cycles samples (64)")
    parser.add_argument("--seed", type=int, default=0, help="scene seed (0)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64x64, 2 frames, 4 samples")
    parser.add_argument("--bare-persistent-data", action="store_true",
                        help="turn on Cycles' persistent data in the bare bpy loop (kubric_gen always does)")
    parser.add_argument("--output", type=Path, help="also write the JSON to this file")
    parser.add_argument("--keep", type=Path, help="keep kubric_gen's scene directory here (must not exist)")
    parser.add_argument("--child", choices=("kubric_gen", "bare_bpy"), help=argparse.SUPPRESS)
    parser.add_argument("--scene-dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.resolution, args.frames, args.samples = QUICK["resolution"], QUICK["frames"], QUICK["samples"]
    if args.frames < 1 or args.samples < 1:
        parser.error("--frames and --samples must be >= 1")

    if args.child:
        out = (child_kubric_gen if args.child == "kubric_gen" else child_bare_bpy)(args)
        with open(args.result, "w") as f:
            json.dump(out, f)
        return

    with tempfile.TemporaryDirectory(prefix="movi_a_overhead_") as tmp:
        work = Path(tmp)
        scene_dir = args.keep.resolve() if args.keep else work / "scene"
        if scene_dir.exists():
            parser.error(f"--keep: {scene_dir} already exists")
        kubric = run_child("kubric_gen", args, scene_dir, work)
        bare = run_child("bare_bpy", args, scene_dir, work)

    result = {
        "benchmark": "movi_a_overhead",
        "settings": {
            "world": WORLD, "seed": args.seed, "resolution": list(args.resolution), "num_frames": args.frames,
            "samples": args.samples, "adaptive_threshold": ADAPTIVE_THRESHOLD, "denoise": True, "device": "cpu",
            "quick": args.quick, "bare_persistent_data": args.bare_persistent_data,
        },
        "machine": {
            "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "bpy_version": bare.pop("bpy_version"),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "overhead_ratio": round(kubric["total_s"] / bare["total_s"], 3),
        "render_ratio": round(kubric["timings_s"]["render"] / bare["render_s"], 3),
        "median_frame_ratio": round(kubric["render_s_median_frame"] / bare["render_s_median_frame"], 3),
        "min_frame_ratio": round(kubric["render_s_min_frame"] / bare["render_s_min_frame"], 3),
        "kubric_gen": kubric,
        "bare_bpy": bare,
    }
    text = json.dumps(result, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
