"""Cycles' own Object Index and Depth passes of a scene: Blender's view of the geometry, to
check the ray-cast ground truth against (tests and benchmarks only; nothing here is written
to a scene directory).

The scene is built by `render.blender` exactly as for `render`, then rendered with one
sample at each pixel centre. Passes go through an uncompressed multi-layer OpenEXR file per
frame (the in-memory Render Result has no pixels when headless, and an EXR loaded with
`bpy.data.images.load` has none either), read back by `render.exr`. Imported only when
called (its `blender` import loads `bpy`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import ConfigError
from kubric_gen.render import blender
from kubric_gen.render.device import configure_device
from kubric_gen.render.exr import read_exr
from kubric_gen.render.settings import DEVICES
from kubric_gen.scene import Scene
from kubric_gen.simulation.trajectory import Trajectory

if TYPE_CHECKING:
    import bpy

logger = blender.logger

# Box filter of Cycles' minimum width: the one sample lies within 0.005 px of the pixel centre
# (measured with a tilted plane in 5.0.1: 0.0002-0.0007 px).
PASS_FILTER_WIDTH = 0.01
# Cycles 5.0.1 writes camera-space z (not the ray length) in the Depth pass of a perspective camera,
# and 1e10 where the ray hits nothing; tests/test_render_passes.py checks both conversions.
Z_PASS_IS_PLANAR = True


def _configure_passes(bscene: bpy.types.Scene, scene: Scene) -> None:
    """One sample at the pixel centre, no denoising, no motion blur; Depth and Object Index passes
    written with the combined image to a 32-bit float, uncompressed multi-layer OpenEXR file."""
    r = blender.configure_frame(bscene, scene)
    r.use_compositing = False
    r.use_sequencer = False
    r.use_motion_blur = False
    r.threads_mode = "AUTO"
    img = r.image_settings
    img.media_type = "MULTI_LAYER_IMAGE"
    img.file_format = "OPEN_EXR_MULTILAYER"
    img.color_depth = "32"
    img.exr_codec = "NONE"

    c = bscene.cycles
    c.samples = 1
    c.use_adaptive_sampling = False
    c.use_denoising = False
    c.pixel_filter_type = "BOX"
    c.filter_width = PASS_FILTER_WIDTH
    c.seed, c.use_animated_seed = 0, False

    layer = bscene.view_layers[0]
    layer.use_pass_z = True
    layer.use_pass_object_index = True


def render_passes(scene: Scene, trajectory: Trajectory, frames: Sequence[int] | None = None,
                  device: str = "cpu") -> dict[str, np.ndarray]:
    """See `kubric_gen.render.render_passes`."""
    scene.validate()
    frame_list = blender.check_frames(scene, frames)
    motion = blender.check_trajectory(scene, trajectory)
    blender.check_textures(scene)
    device = device.lower() if isinstance(device, str) else device
    if device not in DEVICES:
        raise ConfigError(f"device: must be one of {', '.join(DEVICES)} (got {device!r})")

    width, height = scene.resolution
    index = np.empty((len(frame_list), height, width), dtype=np.int32)
    depth = np.empty((len(frame_list), height, width), dtype=np.float32)
    cam = scene.camera
    ray_per_z = geometry.ray_length_per_z(cam.focal_length, cam.sensor_width, scene.resolution) \
        if Z_PASS_IS_PLANAR else 1.0
    with blender.session() as bscene:
        with blender.blender_log():
            described = configure_device(bscene, device)
            _configure_passes(bscene, scene)
            blender.build(bscene, scene, motion, shading=False)
        layer = bscene.view_layers[0].name
        logger.info("rendering passes of %d frame(s) of %dx%d on %s", len(frame_list), width, height, described)
        with tempfile.TemporaryDirectory(prefix="kubric_gen_passes_") as tmp:
            for i, frame in enumerate(frame_list):
                path = os.path.join(tmp, f"passes_{frame:05d}.exr")
                blender.write_frame(bscene, frame, path)
                channels = read_exr(path)
                os.remove(path)
                z = _channel(channels, f"{layer}.Depth.Z", frame, (height, width))
                ids = _channel(channels, f"{layer}.Object Index.X", frame, (height, width))
                index[i] = np.rint(ids).astype(np.int32) - 1
                depth[i] = np.where(index[i] >= 0, z * ray_per_z, np.inf)
    return {"object_index": index, "depth": depth}


def _channel(channels: dict[str, np.ndarray], name: str, frame: int, shape: tuple[int, int]) -> np.ndarray:
    if name not in channels:
        raise RuntimeError(f"frame {frame}: Blender wrote no {name!r} channel (got {sorted(channels)})")
    data = channels[name]
    if data.shape != shape:
        raise RuntimeError(f"frame {frame}: channel {name!r} has shape {data.shape}, expected {shape}")
    return data.astype(np.float64)
