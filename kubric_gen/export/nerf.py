"""Novel-view synthesis: `transforms.json` as nerfstudio and instant-ngp read it, one per scene,
every frame of every camera as an image with its own pose.

    <scene>/transforms.json
    <scene>/images/<camera>_00000.png ...

`transform_matrix` is the camera-to-world matrix in OpenGL's (and Blender's) camera axes (x
right, y up, looking down -z), world Z up, metres. Intrinsics are in pixels with OpenCV's
principal point (cx = width / 2 for our centred sensor; nerfstudio casts a pixel's ray through
its centre, col + 0.5); camera_model "OPENCV" with zero distortion, and instant-ngp's
camera_angle_x. They are written at the top level and, when the cameras differ, per frame
(nerfstudio reads per-frame intrinsics). Each frame also records its `time` in [0, 1] over the
clip and its `camera`: the scenes move, so a static-scene method sees only the static parts
agree between frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kubric_gen import geometry
from kubric_gen.export.units import Unit, frame_png, write_bytes
from kubric_gen.io import SceneDir


def _intrinsics(sd: SceneDir) -> dict:
    cam = sd.metadata["camera"]
    width, height = sd.resolution
    k = geometry.intrinsics(float(cam["focal_length"]), float(cam["sensor_width"]), (width, height))
    return {"camera_model": "OPENCV", "w": width, "h": height, "fl_x": k[0, 0], "fl_y": k[1, 1], "cx": k[0, 2],
            "cy": k[1, 2], "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
            "camera_angle_x": geometry.field_of_view(float(cam["focal_length"]), float(cam["sensor_width"]))}


def camera_to_world(position: np.ndarray, quaternion: np.ndarray) -> np.ndarray:
    """4x4 camera-to-world matrix of a camera pose (our quaternions rotate Blender's camera
    axes, which are OpenGL's, into the world)."""
    m = np.eye(4)
    m[:3, :3] = geometry.quat_to_matrix(quaternion)
    m[:3, 3] = position
    return m


def write_unit(unit: Unit, staging: Path, options: dict) -> dict:
    scene = unit.scene
    views = scene.views
    names = scene.camera_names
    intrinsics = [_intrinsics(v) for v in views]
    shared = all(i == intrinsics[0] for i in intrinsics)
    frames = []
    for view, camera, own in zip(views, names, intrinsics, strict=True):
        cam = view.metadata["camera"]
        positions = np.asarray(cam["positions"], dtype=np.float64)
        quaternions = np.asarray(cam["quaternions"], dtype=np.float64)
        t_len = view.num_frames
        for t in range(t_len):
            path = f"images/{camera}_{t:05d}.png"
            write_bytes(staging / unit.name / path, frame_png(view, t)[1])
            frame = {"file_path": path, "transform_matrix": camera_to_world(positions[t], quaternions[t]).tolist(),
                     "time": t / max(1, t_len - 1), "camera": camera}
            if not shared:
                frame.update({k: v for k, v in own.items() if k != "camera_model"})
            frames.append(frame)
    out = {**intrinsics[0], "frames": frames} if shared else {"camera_model": "OPENCV", "frames": frames}
    text = json.dumps(out, indent=1, allow_nan=False, default=float)
    write_bytes(staging / unit.name / "transforms.json", text.encode() + b"\n")
    return {"frames": len(frames), "cameras": len(views)}
