"""Backgrounds: what lights the scene from afar (a colour, a procedural sky or an HDRI)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import ClassVar

from kubric_gen.errors import SceneError
from kubric_gen.scene.fields import Color, assign, boolean, number, unit_color
from kubric_gen.scene.serialize import register


@dataclass(frozen=True, kw_only=True)
class Background:
    """What lights the scene from afar. `visible_to_camera` False: camera rays that hit
    nothing see black while every other ray still sees the background (Kubric's MOVi
    worlds light with an ambient colour or HDRI the camera never shows)."""

    kind: ClassVar[str] = "background"
    visible_to_camera: bool = True

    def _check_visible(self) -> None:
        assign(self, "visible_to_camera", boolean(type(self).__name__, "visible_to_camera", self.visible_to_camera))


@register
@dataclass(frozen=True, kw_only=True)
class ColorBackground(Background):
    """A uniform world colour, which also lights the scene with `strength`."""

    kind: ClassVar[str] = "color"
    color: Color = (0.05, 0.05, 0.05)
    strength: float = 1.0

    def __post_init__(self) -> None:
        assign(self, "color", unit_color("ColorBackground", "color", self.color))
        assign(self, "strength", number("ColorBackground", "strength", self.strength, 0.0))
        self._check_visible()


@register
@dataclass(frozen=True, kw_only=True)
class SkyBackground(Background):
    """Blender's procedural (multiple-scattering) sky; angles in radians. The sky is
    physically bright: a `strength` around 0.1 looks like a daylight sky."""

    kind: ClassVar[str] = "sky"
    sun_elevation: float = math.radians(30)
    sun_rotation: float = 0.0
    strength: float = 0.1

    def __post_init__(self) -> None:
        assign(self, "sun_elevation", number("SkyBackground", "sun_elevation", self.sun_elevation,
                                            -math.pi / 2, math.pi / 2))
        assign(self, "sun_rotation", number("SkyBackground", "sun_rotation", self.sun_rotation))
        assign(self, "strength", number("SkyBackground", "strength", self.strength, 0.0))
        self._check_visible()


@register
@dataclass(frozen=True, kw_only=True)
class HdriBackground(Background):
    """An equirectangular HDR image (.hdr, .exr) as environment light and background,
    rotated by `rotation` radians about Z. Pair it with a dome object
    (`kubric_gen.assets.dome`) for a floor that exists as geometry."""

    kind: ClassVar[str] = "hdri"
    path: str
    strength: float = 1.0
    rotation: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)) or not os.path.isfile(self.path):
            raise SceneError("HdriBackground.path", str(self.path), "image file not found")
        assign(self, "path", os.fspath(self.path))
        assign(self, "strength", number("HdriBackground", "strength", self.strength, 0.0))
        assign(self, "rotation", number("HdriBackground", "rotation", self.rotation))
        self._check_visible()
