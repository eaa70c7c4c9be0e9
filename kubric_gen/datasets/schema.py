"""Per-world label schemas: which MOVi variant's labels a dataset carries (no TensorFlow here).

The schema is chosen by the world recorded in a scene's ``metadata.json`` (``flags.world``;
Kubric's own scene directories have no world name, so their ``flags.objects_set`` decides:
``clevr`` is MOVi-A, ``kubasic`` MOVi-B). Worlds other than movi_a ... movi_f get the
``generic`` schema: MOVi's common features, plus the instances' ``asset_id``.

Labels follow Kubric's published MOVi datasets:

| schema | per instance | per scene |
|---|---|---|
| movi_a | shape_label, size_label, color (3,), color_label, material_label | |
| movi_b | shape_label (11 shapes), scale, color (3,), material_label | metadata/background_color (3,) |
| movi_c | asset_id, scale, category | background |
| movi_d, movi_e | asset_id, scale, category, is_dynamic | background |
| movi_f | asset_id, scale, category, is_dynamic | background, metadata/motion_blur |
| generic | asset_id | |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SHAPES_A = ("cube", "cylinder", "sphere")
SHAPES_B = ("cube", "cylinder", "sphere", "cone", "torus", "gear", "torus_knot", "sponge", "spot", "teapot", "suzanne")
SIZES = ("small", "large")
COLORS = ("blue", "brown", "cyan", "gray", "green", "purple", "red", "yellow")
MATERIALS = ("metal", "rubber")
CATEGORIES = ("Action Figures", "Bag", "Board Games", "Bottles and Cans and Cups", "Camera", "Car Seat",
              "Consumer Goods", "Hat", "Headphones", "Keyboard", "Legos", "Media Cases", "Mouse", "None", "Shoe",
              "Stuffed Toys", "Toys")


class LabelError(ValueError):
    """A scene's labels do not fit the dataset's schema (the scene is skipped)."""


@dataclass(frozen=True)
class Label:
    """One feature: `kind` is "class" (ClassLabel over `names`), "float", "float3", "text" or "bool"."""

    name: str
    kind: str
    get: Callable[[dict], Any]
    names: tuple[str, ...] = ()
    doc: str = ""


def _key(*keys: str, default: Any = None) -> Callable[[dict], Any]:
    def get(d: dict) -> Any:
        for k in keys:
            if k in d:
                return d[k]
        if default is not None:
            return default
        raise LabelError(f"missing {' / '.join(repr(k) for k in keys)}")
    return get


def _uniform_scale(inst: dict) -> float:
    """MOVi's scalar scale: our `scale` (3,) when uniform (else its mean), Kubric's scalar `scale`, or `size`."""
    s = inst.get("scale", inst.get("size"))
    if s is None:
        raise LabelError("missing 'scale'")
    return float(np.mean(np.asarray(s, dtype=np.float64)))


def _is_dynamic(inst: dict) -> bool:
    if "is_dynamic" in inst:
        return bool(inst["is_dynamic"])
    return inst.get("motion", "dynamic") == "dynamic"


def _background_color(meta: dict) -> Any:
    m = meta.get("metadata", {})
    for d in (m, m.get("scene_metadata", {}), meta.get("flags", {})):
        if "background_color" in d:
            return d["background_color"]
    raise LabelError("missing metadata 'background_color'")


def _background(meta: dict) -> str:
    return str(meta.get("metadata", {}).get("background", ""))


def _motion_blur(meta: dict, provenance: dict) -> float:
    m = meta.get("metadata", {})
    for d in (m, m.get("scene_metadata", {}), meta.get("flags", {}), provenance.get("render_settings", {})):
        if "motion_blur" in d:
            return float(d["motion_blur"])
    return 0.0


_SHAPE_A = Label("shape_label", "class", _key("shape_label", "shape"), SHAPES_A, "shape")
_SHAPE_B = Label("shape_label", "class", _key("shape_label", "shape"), SHAPES_B, "shape")
_SIZE = Label("size_label", "class", _key("size_label"), SIZES, "size class")
_COLOR = Label("color", "float3", _key("color"), doc="RGB colour in [0, 1]")
_COLOR_LABEL = Label("color_label", "class", _key("color_label"), COLORS, "CLEVR colour name")
_MATERIAL = Label("material_label", "class", _key("material_label", "material"), MATERIALS, "material")
_SCALE = Label("scale", "float", _uniform_scale, doc="uniform scale of the object")
_ASSET = Label("asset_id", "text", _key("asset_id", default=""), doc="asset id")
_CATEGORY = Label("category", "class", _key("category", default="None"), CATEGORIES, "object category")
_DYNAMIC = Label("is_dynamic", "bool", _is_dynamic, doc="tossed (True) or resting on the floor at the start (False)")


@dataclass(frozen=True)
class Schema:
    """The labels of one MOVi variant.

    `scene` lists the per-scene labels as (feature path, kind, getter(metadata, provenance)).
    """

    name: str
    instance: tuple[Label, ...]
    scene: tuple[tuple[str, str, Callable[[dict, dict], Any]], ...] = ()

    def instance_labels(self, inst: dict) -> dict[str, Any]:
        out = {}
        for label in self.instance:
            try:
                value = label.get(inst)
            except LabelError as e:
                raise LabelError(f"instance {inst.get('name', inst.get('asset_id', '?'))}: {e}") from None
            out[label.name] = _convert(label.kind, value, label.names, label.name)
        return out

    def scene_labels(self, meta: dict, provenance: dict) -> dict[str, Any]:
        return {path: _convert(kind, get(meta, provenance), (), path) for path, kind, get in self.scene}


def _convert(kind: str, value: Any, names: tuple[str, ...], what: str) -> Any:
    if kind == "class":
        if str(value) not in names:
            raise LabelError(f"{what} {value!r} is not one of {list(names)}")
        return str(value)
    if kind == "float":
        return np.float32(value)
    if kind == "float3":
        a = np.asarray(value, dtype=np.float32)
        if a.shape != (3,):
            raise LabelError(f"{what} must have 3 values (got {value!r})")
        return a
    if kind == "bool":
        return bool(value)
    return value if isinstance(value, str) else json.dumps(value)


_CDE = (_ASSET, _SCALE, _CATEGORY)
SCHEMAS = {
    "movi_a": Schema("movi_a", (_SHAPE_A, _SIZE, _COLOR, _COLOR_LABEL, _MATERIAL)),
    "movi_b": Schema("movi_b", (_SHAPE_B, _SCALE, _COLOR, _MATERIAL),
                     (("metadata/background_color", "float3", lambda m, p: _background_color(m)),)),
    "movi_c": Schema("movi_c", _CDE, (("background", "text", lambda m, p: _background(m)),)),
    "movi_d": Schema("movi_d", (*_CDE, _DYNAMIC), (("background", "text", lambda m, p: _background(m)),)),
    "movi_e": Schema("movi_e", (*_CDE, _DYNAMIC), (("background", "text", lambda m, p: _background(m)),)),
    "movi_f": Schema("movi_f", (*_CDE, _DYNAMIC), (("background", "text", lambda m, p: _background(m)),
                                                  ("metadata/motion_blur", "float", _motion_blur))),
    "generic": Schema("generic", (_ASSET,)),
}


def world_of(meta: dict) -> str:
    """The world that made a scene: ``flags.world``, else inferred from Kubric's flags, else ""."""
    flags = meta.get("flags", {}) if isinstance(meta, dict) else {}
    if flags.get("world"):
        return str(flags["world"])
    return {"clevr": "movi_a", "kubasic": "movi_b"}.get(flags.get("objects_set"), "")


def schema_for(world: str) -> Schema:
    """The label schema of a world name (``generic`` for worlds that are not movi_a ... movi_f)."""
    return SCHEMAS.get(world, SCHEMAS["generic"])
