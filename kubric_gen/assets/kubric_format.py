"""Kubric's own asset manifests (KuBasic.json, GSO.json, HDRI_haven.json) as our `Manifest`.

So a lab's existing mirror of Kubric's assets works unchanged. Kubric's format (facts from
its published code): a JSON object with ``name``, optional ``data_dir`` and ``assets``, a
dict keyed by asset id. Each asset has an ``asset_type`` ("FileBasedObject" or "Texture"),
``kwargs`` (``render_filename``, ``simulation_filename``, ``bounds``, ``mass``, ``friction``,
``restitution`` for objects; ``filename`` for textures; paths start with ``{asset_dir}/``),
``metadata`` (e.g. GSO's ``category``), an optional ``license`` and an optional ``path``:
the asset's archive relative to the data directory (default ``<id>.tar.gz``; null for none).
An archive holds ``data.json`` and the asset's files, flat or in a folder named after the id.

Archives are looked up next to the manifest first (a mirror copies the manifest beside the
archives and keeps Kubric's ``data_dir``), then in ``data_dir``; each is fetched (local path
or any fsspec URL) and safely extracted into ``<cache>/assets/kubric/<library>/<id>/`` on
first use. An object's collision parts are the archive's ``collision_geometry.obj``
(VHACD parts, as Kubric makes them) or, when absent, computed like any other mesh's.

Category vocabularies (label ids) follow MOVi: KuBasic's shapes in MOVi-B's order, GSO's
17 categories in MOVi-C..F's order; other libraries list their categories by first
appearance.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from kubric_gen import checks
from kubric_gen.assets.manifest import AssetEntry, Manifest
from kubric_gen.errors import AssetError

ASSET_TYPES = ("FileBasedObject", "Texture")
ASSET_DIR = "{asset_dir}/"
# MOVi-B's shape_label names, in label-id order (Kubric's KuBasic objects)
KUBASIC_SHAPES = ("cube", "cylinder", "sphere", "cone", "torus", "gear", "torus_knot", "sponge", "spot", "teapot",
                  "suzanne")
# MOVi-C..F's `category` names, in label-id order (Kubric's GSO categories; "None" is a category)
GSO_CATEGORIES = ("Action Figures", "Bag", "Board Games", "Bottles and Cans and Cups", "Camera", "Car Seat",
                  "Consumer Goods", "Hat", "Headphones", "Keyboard", "Legos", "Media Cases", "Mouse", "None", "Shoe",
                  "Stuffed Toys", "Toys")
HDRI_SUFFIXES = (".hdr", ".exr")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def is_kubric_manifest(data: Any) -> bool:
    """Kubric's format keys its assets by id (ours lists them)."""
    return isinstance(data, dict) and isinstance(data.get("assets"), dict) and "format" not in data


def _relative(asset_id: str, value: Any, where: str) -> str:
    """A file named by Kubric's kwargs as a path relative to our library root (<id>/<file>)."""
    if not isinstance(value, str) or not value:
        raise AssetError(f"{where}: expected a file name (got {value!r})")
    name = value[len(ASSET_DIR):] if value.startswith(ASSET_DIR) else value
    path = posixpath.normpath(name)
    if path.startswith(("/", "..")) or "://" in name or "\\" in name:
        raise AssetError(f"{where}: must name a file inside the asset's archive (got {value!r})")
    return f"{asset_id}/{path}"


def _bounds(value: Any, where: str) -> tuple:
    try:
        lo, hi = (tuple(checks.number(AssetError, where, v) for v in corner) for corner in value)
        if len(lo) != 3 or len(hi) != 3 or any(a > b for a, b in zip(lo, hi, strict=True)):
            raise ValueError
    except (TypeError, ValueError):
        raise AssetError(f"{where}: expected [[xmin, ymin, zmin], [xmax, ymax, zmax]] (got {value!r})") from None
    return lo, hi


def _entry(asset_id: str, data: Any, where: str) -> AssetEntry:
    if not _ID.match(asset_id):
        raise AssetError(f"{where}: asset ids use letters, digits, '_', '-' and '.' (got {asset_id!r})")
    if not isinstance(data, dict):
        raise AssetError(f"{where}: expected a JSON object (got {data!r})")
    kind = data.get("asset_type")
    if kind not in ASSET_TYPES:
        raise AssetError(f"{where}.asset_type: must be one of {', '.join(ASSET_TYPES)} (got {kind!r})")
    kwargs = data.get("kwargs", {})
    metadata = data.get("metadata", {})
    if not isinstance(kwargs, dict) or not isinstance(metadata, dict):
        raise AssetError(f"{where}: kwargs and metadata must be JSON objects")
    archive = data.get("path", "")
    if archive is not None and not isinstance(archive, str):
        raise AssetError(f"{where}.path: expected an archive path or null (got {archive!r})")
    source = {"kubric": {"asset_type": kind, "archive": (archive or f"{asset_id}.tar.gz") if archive is not None
                         else None}}
    licence = data.get("license") if isinstance(data.get("license"), str) else None
    if kind == "Texture":
        texture = _relative(asset_id, kwargs.get("filename"), f"{where}.kwargs.filename")
        background = texture.lower().endswith(HDRI_SUFFIXES)
        return AssetEntry(id=asset_id, kind="background" if background else "texture", texture=texture,
                          category="hdri" if background else "", licence=licence, metadata=metadata, source=source)
    if asset_id == "dome":  # Kubric's background mesh: worlds build their own dome
        return AssetEntry(id=asset_id, kind="object", available=False, category="dome", licence=licence,
                          reason="Kubric's dome is a background mesh; kubric_gen worlds build their own dome",
                          metadata=metadata, source=source)
    physics = {}
    if "mass" in kwargs:
        physics["mass"] = checks.number(AssetError, f"{where}.kwargs.mass", kwargs["mass"], lo=0.0)
        if physics["mass"] == 0:
            del physics["mass"]
    for key in ("friction", "restitution"):
        if key in kwargs:
            physics[key] = checks.number(AssetError, f"{where}.kwargs.{key}", kwargs[key], 0.0, 1.0)
    visual = _relative(asset_id, kwargs.get("render_filename"), f"{where}.kwargs.render_filename")
    category = metadata.get("category")
    return AssetEntry(
        id=asset_id, kind="object", visual=visual, collision=f"{asset_id}/collision_geometry.obj",
        collision_shape="vhacd", texture=None, bounds=_bounds(kwargs.get("bounds"), f"{where}.kwargs.bounds"),
        physics=physics, category=str(category) if isinstance(category, str) and category else asset_id,
        licence=licence, metadata=metadata, source=source)


def parse_kubric_manifest(data: dict, where: str) -> tuple[Manifest, str | None]:
    """Our Manifest for Kubric's manifest `data`, and its ``data_dir`` (None if not given)."""
    name = data.get("name") if isinstance(data.get("name"), str) and data.get("name") else "kubric"
    entries = tuple(_entry(str(k), v, f"{where}: assets[{k!r}]") for k, v in data["assets"].items())
    declared = {"KuBasic": KUBASIC_SHAPES, "GSO": GSO_CATEGORIES}.get(name, ())
    found = [e.category for e in entries if e.kind == "object" and e.available]
    categories = (*declared, *dict.fromkeys(c for c in found if c not in declared)) if declared else ()
    data_dir = data.get("data_dir")
    if data_dir is not None and not isinstance(data_dir, str):
        raise AssetError(f"{where}.data_dir: expected a folder path or URL (got {data_dir!r})")
    manifest = Manifest(name=name, assets=entries, categories=categories, root="cache",
                        description=f"Kubric's {name} library ({len(entries)} assets), read from {where}")
    return manifest, data_dir
