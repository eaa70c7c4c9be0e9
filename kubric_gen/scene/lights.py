"""Lights: sun, point, area and spot, pointing down their local -Z as in Blender."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import InitVar, dataclass
from typing import ClassVar

from kubric_gen.scene.fields import Color, Quat, Vec3, assign, nonempty_string, number, unit_color, vector
from kubric_gen.scene.poses import orientation
from kubric_gen.scene.serialize import register


@dataclass(frozen=True, kw_only=True)
class Light:
    """The fields every light has. Lights point down their local -Z (as in Blender; give
    `look_at` or `direction` instead of `quaternion`). Colours are linear RGB."""

    kind: ClassVar[str] = "light"
    name: str
    position: Vec3 = (0.0, 0.0, 0.0)
    quaternion: Quat = (1.0, 0.0, 0.0, 0.0)
    color: Color = (1.0, 1.0, 1.0)
    look_at: InitVar[Vec3 | None] = None
    direction: InitVar[Vec3 | None] = None

    def __post_init__(self, look_at: Vec3 | None, direction: Vec3 | None) -> None:
        o = f"{type(self).__name__}({nonempty_string(type(self).__name__, 'name', self.name)!r})"
        assign(self, "position", vector(o, "position", self.position, 3))
        orientation(o, self, look_at, None, direction)
        assign(self, "color", unit_color(o, "color", self.color))
        for f in dataclasses.fields(self):
            if f.name in ("strength", "power", "radius", "size"):
                assign(self, f.name, number(o, f.name, getattr(self, f.name), 0.0))
            elif f.name in ("angle", "spot_size"):  # Blender clamps these to [0, pi]
                assign(self, f.name, number(o, f.name, getattr(self, f.name), 0.0, math.pi))
            elif f.name == "blend":
                assign(self, f.name, number(o, f.name, getattr(self, f.name), 0.0, 1.0))


@register
@dataclass(frozen=True, kw_only=True)
class SunLight(Light):
    """Parallel light from direction -Z; `strength` is its irradiance in W/m² (Blender's
    sun strength), `angle` its angular diameter in radians (soft shadows)."""

    kind: ClassVar[str] = "sun"
    name: str = "sun"
    strength: float = 3.0
    angle: float = 0.00918


@register
@dataclass(frozen=True, kw_only=True)
class PointLight(Light):
    """Light from a small sphere of `radius` metres at `position`, equal in every direction;
    `power` is its radiant power in watts (Blender's point light power)."""

    kind: ClassVar[str] = "point"
    name: str = "point"
    power: float = 1000.0
    radius: float = 0.1


@register
@dataclass(frozen=True, kw_only=True)
class AreaLight(Light):
    """A square area light of side `size` metres emitting towards its -Z; `power` is its
    radiant power in watts (Blender's area light power)."""

    kind: ClassVar[str] = "area"
    name: str = "area"
    power: float = 1000.0
    size: float = 1.0


@register
@dataclass(frozen=True, kw_only=True)
class SpotLight(Light):
    """A point light of `radius` metres restricted to a cone around its -Z: `power` in watts
    (Blender's spot power), `spot_size` the cone's full angle in radians, `blend` its soft
    edge in [0, 1]."""

    kind: ClassVar[str] = "spot"
    name: str = "spot"
    power: float = 1000.0
    radius: float = 0.1
    spot_size: float = math.pi / 4
    blend: float = 0.15
