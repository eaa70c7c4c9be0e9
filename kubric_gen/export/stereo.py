"""Stereo disparity in the layout of the SceneFlow datasets (FlyingThings3D: PNG frames and PFM
disparity per camera), for scenes with two cameras that form a rectified pair (the `stereo`
world; any rig whose two cameras see each point on the same image row).

    frames_cleanpass/<scene>/left/0000.png, right/0000.png
    disparity/<scene>/left/0000.pfm     x_left - x_right of each left pixel (positive), float32
    disparity/<scene>/right/0000.pfm    x_left - x_right of each right pixel
    disparity_occlusions/<scene>/left/0000.png   255 where the other camera does not see the point

The first camera of the scene is "left" and the second "right" (the stereo world's own order).
Disparity is NaN where a camera sees nothing (SceneFlow's data has no such pixels; stereo
loaders that keep disparities below a maximum drop them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kubric_gen.errors import ConfigError
from kubric_gen.export.codecs import write_pfm
from kubric_gen.export.units import Unit, write_bytes
from kubric_gen.io.layers import encode_png
from kubric_gen.truth.result import disparity_of

SIDES = ("left", "right")
RECTIFIED_TOLERANCE_PX = 1e-2  # a point's row in the two images


def check(units: list[Unit], options: dict) -> None:
    """Before any file is written: every scene has two cameras."""
    for unit in units:
        sd = unit.scene
        if not sd.is_multiview or len(sd.camera_names) != 2:
            raise ConfigError(f"SRC: {unit.name} has {len(sd.camera_names)} camera(s); the stereo export needs "
                              f"scenes with two (e.g. of the world 'stereo')")


def write_unit(unit: Unit, staging: Path, options: dict) -> dict:
    sd = unit.scene
    names = sd.camera_names
    occluded = sd.cross_view().correspondence_occluded
    for side, (a, b) in zip(SIDES, ((0, 1), (1, 0)), strict=True):
        xy = sd.correspondences(names[a], names[b])
        seen = ~np.isnan(xy[..., 0]) & ~occluded[a, b]
        rows = np.arange(xy.shape[1], dtype=np.float32)[None, :, None] + np.float32(0.5)
        off_row = np.abs(xy[..., 1] - rows)[seen]
        if off_row.size and off_row.max() > RECTIFIED_TOLERANCE_PX:
            raise ConfigError(f"{unit.name}: cameras {names[0]!r} and {names[1]!r} are not a rectified pair "
                              f"(a point's rows differ by up to {off_row.max():.3g} px)")
        disparity = disparity_of(xy) if a == 0 else -disparity_of(xy)  # x_left - x_right either way
        view = sd.view(names[a])
        rgb = view.stored("rgba")[..., :3]
        for t in range(sd.num_frames):
            frame = f"{t:04d}"
            write_bytes(staging / "frames_cleanpass" / unit.name / side / f"{frame}.png",
                        encode_png(np.ascontiguousarray(rgb[t])))
            pfm = staging / "disparity" / unit.name / side / f"{frame}.pfm"
            pfm.parent.mkdir(parents=True, exist_ok=True)
            write_pfm(pfm, disparity[t])
            write_bytes(staging / "disparity_occlusions" / unit.name / side / f"{frame}.png",
                        encode_png(occluded[a, b, t].astype(np.uint8) * 255))
    return {"frames": sd.num_frames}
