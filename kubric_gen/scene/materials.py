"""Surface materials: Blender's Principled BSDF and an unlit colour."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from kubric_gen.errors import SceneError
from kubric_gen.scene.fields import Color, assign, number, unit_color
from kubric_gen.scene.serialize import register


@dataclass(frozen=True, kw_only=True)
class Material:
    """The base of every material (`Principled`, `Flat`): what `SceneObject.material` holds."""

    kind: ClassVar[str] = "material"


@register
@dataclass(frozen=True, kw_only=True)
class Principled(Material):
    """Blender's Principled BSDF. Colours are linear RGB in [0, 1]. `texture` (an image
    file) replaces `color` as base colour, mapped with the mesh's UV coordinates.
    `specular` scales the dielectric reflection (Blender's "Specular IOR Level"; 0.5 keeps
    the reflectance of `ior`, 0 removes it, as MOVi's floor has)."""

    kind: ClassVar[str] = "principled"
    color: Color = (0.8, 0.8, 0.8)
    metallic: float = 0.0
    roughness: float = 0.5
    ior: float = 1.45
    specular: float = 0.5
    transmission: float = 0.0
    emission: Color = (0.0, 0.0, 0.0)
    emission_strength: float = 0.0
    texture: str | None = None

    def __post_init__(self) -> None:
        o = "Principled"
        assign(self, "texture", texture_path(o, self.texture))
        assign(self, "color", unit_color(o, "color", self.color))
        assign(self, "emission", unit_color(o, "emission", self.emission))
        for name in ("metallic", "roughness", "transmission", "specular"):
            assign(self, name, number(o, name, getattr(self, name), 0.0, 1.0))
        assign(self, "ior", number(o, "ior", self.ior, 1.0))
        assign(self, "emission_strength", number(o, "emission_strength", self.emission_strength, 0.0))


@register
@dataclass(frozen=True, kw_only=True)
class Flat(Material):
    """Unlit colour (an emission shader): the pixel shows `color * strength`, or the
    image `texture` (UV-mapped) times `strength`."""

    kind: ClassVar[str] = "flat"
    color: Color = (0.8, 0.8, 0.8)
    strength: float = 1.0
    texture: str | None = None

    def __post_init__(self) -> None:
        assign(self, "texture", texture_path("Flat", self.texture))
        assign(self, "color", unit_color("Flat", "color", self.color))
        assign(self, "strength", number("Flat", "strength", self.strength, 0.0))


def mirror_or_transparent(material: Material) -> bool:
    """Whether a surface of this material shows other surfaces (a metallic reflection or a
    transmission), so that its diffuse albedo and shading do not describe what is seen there
    (the rule of the intrinsic images: `io.format.INTRINSIC_MASK`)."""
    return isinstance(material, Principled) and (material.metallic > 0 or material.transmission > 0)


def texture_path(owner: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.path.isfile(value):
        raise SceneError(f"{owner}.texture", str(value), "image file not found")
    return os.fspath(value)
