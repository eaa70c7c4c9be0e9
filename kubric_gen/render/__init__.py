"""Rendering: scene + trajectory -> RGBA frames with Blender Cycles (the `bpy` wheel).

`bpy` is imported only when `render` is called, so importing this package stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kubric_gen.render.settings import RenderResult, RenderSettings

if TYPE_CHECKING:
    from kubric_gen.scene import Scene
    from kubric_gen.trajectory import Trajectory

__all__ = ["RenderResult", "RenderSettings", "render"]


def render(scene: Scene, trajectory: Trajectory, settings: RenderSettings | None = None,
           frames: Sequence[int] | None = None,
           progress: Callable[[int], None] | None = None) -> RenderResult:
    """Render `frames` (default: all) of `scene` posed by `trajectory` with Cycles.

    Every call starts from Blender's empty factory state, so one process can render
    many scenes in a row. `progress(frame)` is called after each rendered frame.
    Raises `ConfigError` for bad arguments (frames out of range, a trajectory that
    does not match the scene, an unavailable GPU device).
    """
    from kubric_gen.render import blender  # imports bpy

    return blender.render(scene, trajectory, settings or RenderSettings(), frames=frames, progress=progress)
