"""Rendering: scene + trajectory -> RGBA frames with Blender Cycles (the `bpy` wheel).

`bpy` is imported only when `render` or `render_passes` is called, so importing this
package stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from kubric_gen.render.settings import RenderResult, RenderSettings

if TYPE_CHECKING:
    from kubric_gen.scene import Scene
    from kubric_gen.simulation.trajectory import Trajectory

__all__ = ["RenderResult", "RenderSettings", "load_blender", "render", "render_passes"]


def load_blender() -> None:
    """Import `bpy` now. Call it before starting threads that use other native libraries:
    `bpy` loading in one thread while another thread starts Embree's thread pool deadlocks
    (seen about once in ten scenes)."""
    from kubric_gen.render import blender  # noqa: F401 - imports bpy


def render(scene: Scene, trajectory: Trajectory, settings: RenderSettings | None = None,
           frames: Sequence[int] | None = None,
           progress: Callable[[int], None] | None = None,
           save_blend: str | os.PathLike | None = None) -> RenderResult:
    """Render `frames` (default: all) of `scene` posed by `trajectory` with Cycles.

    Every call starts from Blender's empty factory state, so one process can render
    many scenes in a row. `progress(frame)` is called after each rendered frame.
    Material textures are mapped with the mesh file's UV coordinates; an `HdriBackground`
    lights the scene and shows where no object is. Motion blur is on when
    `scene.motion_blur` or `settings.motion_blur` is > 0 (the longer shutter wins).
    With `save_blend` (a file path), the Blender scene is also saved there as a .blend file
    after the frames are rendered (so the frames are the same with or without it): set to
    frame 0, keyframes kept, images packed into the file; `timings["save_blend"]` says how long
    it took, and OSError is raised if it cannot be written.
    With `settings.intrinsics`, `RenderResult.intrinsics` also holds the intrinsic images of the
    same samples (`render.intrinsics`); the frames are the same bytes with or without them.
    Raises `ConfigError` for bad arguments (frames out of range, a trajectory that
    does not match the scene, an unavailable GPU device, a texture on a mesh without
    UV coordinates, an image Blender cannot read).
    """
    from kubric_gen.render import blender  # imports bpy

    return blender.render(scene, trajectory, settings or RenderSettings(), frames=frames, progress=progress,
                          save_blend=save_blend)


def render_passes(scene: Scene, trajectory: Trajectory, frames: Sequence[int] | None = None,
                  device: str = "cpu") -> dict[str, np.ndarray]:
    """Blender's own view of `frames` (default: all): Cycles' Object Index and Depth passes.

    The geometry, camera and poses are exactly those `render` builds. One sample per pixel,
    taken within 0.005 px of the pixel centre (box filter of Cycles' minimum width 0.01 px),
    no denoising, no adaptive sampling, no motion blur, so each pixel shows the surface hit
    by the ray through its centre, as the ray-cast ground truth does. Returns
    - "object_index": (T, H, W) int32, the index in `scene.objects` of the object seen at
      the pixel, -1 where the ray hits nothing (world background);
    - "depth": (T, H, W) float32, Euclidean distance from the camera centre to that surface
      point (Cycles' Z pass holds camera-space z, converted with the pixel-centre ray);
      +inf where the ray hits nothing (Cycles writes 1e10 there).
    `device` is "cpu" (default), "auto", "cuda" or "optix", as in `RenderSettings`.
    Raises `ConfigError` for bad arguments, like `render`.
    """
    from kubric_gen.render import passes  # imports bpy

    return passes.render_passes(scene, trajectory, frames=frames, device=device)
