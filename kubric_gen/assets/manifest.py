"""Asset manifests (format version 1): validated plain data that round-trips through JSON.

A manifest describes a library of assets: for each one its id, kind, files (relative
paths), unscaled local bounds, default scale, physical defaults, category, licence and
free metadata. `parse_manifest` validates a JSON object and raises `AssetError`s naming
the field and the value; `Manifest.to_dict` writes it back. The format is documented
in `assets/README.md` and `docs/assets.md`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

from kubric_gen import checks
from kubric_gen.errors import AssetError

FORMAT = "kubric_gen.assets"
VERSION = 1
KINDS = ("object", "texture", "background")
COLLISION_SHAPES = ("convex_hull", "vhacd", "mesh")
ROOTS = ("manifest", "cache")
PHYSICS_KEYS = ("density", "mass", "friction", "restitution")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

_TOP_FIELDS = ("format", "version", "name", "description", "licence", "root", "categories", "assets")
_ENTRY_FIELDS = ("id", "kind", "visual", "collision", "collision_shape", "texture", "bounds", "scale", "physics",
                 "category", "licence", "metadata", "volume", "watertight", "available", "reason", "source")


@dataclass(frozen=True)
class AssetEntry:
    """One asset of a manifest. File fields are relative POSIX paths inside the library."""

    id: str
    kind: str = "object"
    visual: str | None = None
    collision: str | None = None
    collision_shape: str = "convex_hull"
    texture: str | None = None
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    scale: float | tuple[float, float, float] = 1.0
    physics: dict = field(default_factory=dict)
    category: str = ""
    licence: str | None = None
    metadata: dict = field(default_factory=dict)
    volume: float | None = None
    watertight: bool | None = None
    available: bool = True
    reason: str | None = None
    source: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data: dict[str, Any] = {}
        for name in _ENTRY_FIELDS:
            value = getattr(self, name)
            if value is None or (name in ("physics", "metadata", "source", "category") and not value):
                continue
            if name == "available" and value:
                continue
            if name == "bounds":
                value = [list(value[0]), list(value[1])]
            elif isinstance(value, tuple):
                value = list(value)
            data[name] = value
        return data

    @property
    def generator(self) -> str | None:
        return self.source.get("generator") if isinstance(self.source, dict) else None

    def files(self) -> dict[str, str]:
        """The entry's files by role (visual, collision, texture)."""
        return {role: getattr(self, role) for role in ("visual", "collision", "texture") if getattr(self, role)}


@dataclass(frozen=True)
class Manifest:
    """A library's manifest: its name, description, default licence and assets (in order).

    `categories` is the library's category vocabulary in label-id order, when the manifest
    declares one (e.g. MOVi's GSO categories); see `category_names`.
    """

    name: str
    assets: tuple[AssetEntry, ...] = ()
    description: str = ""
    licence: str | None = None
    root: str = "manifest"
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for i, entry in enumerate(self.assets):
            if entry.id in seen:
                raise AssetError.at(f"manifest {self.name!r}: assets[{i}].id", entry.id, "duplicate id")
            seen.add(entry.id)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.assets]

    @property
    def category_names(self) -> tuple[str, ...]:
        """The category vocabulary (label ids follow its order): the declared `categories`, else
        each object's category (its id when it has none) in the order of first appearance,
        unavailable objects included, so that ids do not depend on what is installed."""
        if self.categories:
            return self.categories
        return tuple(dict.fromkeys(e.category or e.id for e in self.assets if e.kind == "object"))

    def entry(self, asset_id: str) -> AssetEntry:
        for e in self.assets:
            if e.id == asset_id:
                return e
        import difflib

        close = difflib.get_close_matches(str(asset_id), self.ids, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise AssetError(f"library {self.name!r}: unknown asset id {asset_id!r} ({len(self.assets)} assets{hint})")

    def with_entry(self, entry: AssetEntry) -> Manifest:
        """A copy with `entry` replacing the one of the same id (or appended)."""
        assets = [entry if e.id == entry.id else e for e in self.assets]
        if entry.id not in self.ids:
            assets.append(entry)
        return replace(self, assets=tuple(assets))

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name}
        if self.description:
            data["description"] = self.description
        if self.licence:
            data["licence"] = self.licence
        if self.root != "manifest":
            data["root"] = self.root
        if self.categories:
            data["categories"] = list(self.categories)
        data["assets"] = [e.to_dict() for e in self.assets]
        return data

    def to_json(self) -> str:
        return _dumps(self.to_dict(), 0) + "\n"


def _flat(value: Any) -> bool:
    """Short lists of numbers (and lists of them, e.g. bounds) go on one line."""
    if isinstance(value, list):
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) or _flat(v) for v in value)
    return False


def _dumps(value: Any, level: int) -> str:
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and not _flat(value):
        return "[\n" + ",\n".join(inner + _dumps(v, level + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, allow_nan=False)


# ---------------------------------------------------------------- validation
def _number(where: str, value: Any, lo: float | None = None, hi: float | None = None,
            positive: bool = False) -> float:
    return checks.number(AssetError, where, value, 0.0 if positive else lo, hi, lo_open=positive)


def relative_path(where: str, value: Any) -> str:
    """A relative POSIX path that stays inside the library (no '..', not absolute)."""
    checks.string(AssetError, where, value, empty=False)
    path = PurePosixPath(value)
    if (path.is_absolute() or "\\" in value or ".." in path.parts or re.match(r"^[A-Za-z]:", value)
            or "://" in value):
        raise AssetError.at(where, value, "must be a relative path inside the library (no '..', no absolute path)")
    return path.as_posix()


def _bounds(where: str, value: Any) -> tuple:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (list, tuple)) and len(v) == 3 for v in value)):
        raise AssetError.at(where, value, "expected [[xmin, ymin, zmin], [xmax, ymax, zmax]]")
    lo = tuple(_number(where, v) for v in value[0])
    hi = tuple(_number(where, v) for v in value[1])
    if any(a > b for a, b in zip(lo, hi, strict=True)):
        raise AssetError.at(where, value, "min must not exceed max")
    return lo, hi


def _scale(where: str, value: Any) -> float | tuple[float, float, float]:
    if isinstance(value, (list, tuple)):
        if len(value) != 3:
            raise AssetError.at(where, value, "expected a positive number or 3 positive numbers")
        return tuple(_number(where, v, positive=True) for v in value)  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AssetError.at(where, value, "expected a positive number or 3 positive numbers")
    return _number(where, value, positive=True)


def _physics(where: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise AssetError.at(where, value, "expected an object with density, mass, friction, restitution")
    out = {}
    for key, v in value.items():
        if key not in PHYSICS_KEYS:
            raise AssetError.at(f"{where}.{key}", v, f"unknown field (known: {', '.join(PHYSICS_KEYS)})")
        if key in ("density", "mass"):
            out[key] = _number(f"{where}.{key}", v, positive=True)
        else:
            out[key] = _number(f"{where}.{key}", v, 0.0, 1.0)
    return out


def parse_entry(data: Any, where: str) -> AssetEntry:
    if not isinstance(data, dict):
        raise AssetError.at(where, data, "expected a JSON object")
    if "id" not in data:
        raise AssetError.at(f"{where}.id", None, "missing field")
    asset_id = checks.string(AssetError, f"{where}.id", data["id"], empty=False)
    if not _ID.match(asset_id):
        raise AssetError.at(f"{where}.id", asset_id, "ids use letters, digits, '_', '-' and '.' (not first)")
    where = f"{where} ({asset_id!r})"
    for key in data:
        if key not in _ENTRY_FIELDS:
            raise AssetError.at(f"{where}.{key}", data[key], f"unknown field (known: {', '.join(_ENTRY_FIELDS)})")
    if "kind" not in data:
        raise AssetError.at(f"{where}.kind", None, "missing field")
    kw: dict[str, Any] = {"id": asset_id, "kind": checks.choice(AssetError, f"{where}.kind", data["kind"], KINDS)}
    for name in ("visual", "collision", "texture"):
        if data.get(name) is not None:
            kw[name] = relative_path(f"{where}.{name}", data[name])
    if "collision_shape" in data:
        kw["collision_shape"] = checks.choice(AssetError, f"{where}.collision_shape", data["collision_shape"],
                                              COLLISION_SHAPES)
    if data.get("bounds") is not None:
        kw["bounds"] = _bounds(f"{where}.bounds", data["bounds"])
    if "scale" in data:
        kw["scale"] = _scale(f"{where}.scale", data["scale"])
    if "physics" in data:
        kw["physics"] = _physics(f"{where}.physics", data["physics"])
    for name in ("category", "reason", "licence"):
        if data.get(name) is not None:
            kw[name] = checks.string(AssetError, f"{where}.{name}", data[name])
    for name in ("metadata", "source"):
        if name in data:
            kw[name] = checks.json_object(AssetError, f"{where}.{name}", data[name])
    if data.get("volume") is not None:
        kw["volume"] = _number(f"{where}.volume", data["volume"], lo=0.0)
    for name in ("watertight", "available"):
        if data.get(name) is not None:
            kw[name] = checks.boolean(AssetError, f"{where}.{name}", data[name])
    entry = AssetEntry(**kw)
    if not entry.available and not entry.reason:
        raise AssetError.at(f"{where}.reason", None, "an unavailable asset needs a reason")
    generated = entry.generator is not None
    if entry.kind == "object" and entry.available and not entry.visual:
        raise AssetError.at(f"{where}.visual", None, "an object needs a visual mesh file")
    if entry.kind in ("texture", "background") and entry.available and not entry.texture and not generated:
        raise AssetError.at(f"{where}.texture", None, f"a {entry.kind} needs an image file")
    if entry.kind == "object" and entry.available and entry.bounds is None:
        raise AssetError.at(f"{where}.bounds", None, "an object needs its local bounds")
    return entry


def parse_manifest(data: Any, where: str = "manifest") -> Manifest:
    """Validate a manifest's JSON object; raise AssetError naming the field and the value."""
    if not isinstance(data, dict):
        raise AssetError.at(where, data, "expected a JSON object")
    for key in data:
        if key not in _TOP_FIELDS:
            raise AssetError.at(f"{where}.{key}", data[key], f"unknown field (known: {', '.join(_TOP_FIELDS)})")
    if data.get("format", FORMAT) != FORMAT:
        raise AssetError.at(f"{where}.format", data.get("format"), f"expected {FORMAT!r}")
    if "version" not in data:
        raise AssetError.at(f"{where}.version", None, "missing field")
    version = checks.integer(AssetError, f"{where}.version", data["version"])
    if version != VERSION:
        raise AssetError.at(f"{where}.version", version,
                            f"unsupported manifest version (this kubric_gen reads {VERSION})")
    name = checks.string(AssetError, f"{where}.name", data["name"], empty=False) if "name" in data else "unnamed"
    if "assets" not in data:
        raise AssetError.at(f"{where}.assets", None, "missing field")
    if not isinstance(data["assets"], list):
        raise AssetError.at(f"{where}.assets", data["assets"], "expected a list")
    entries = tuple(parse_entry(e, f"{where}.assets[{i}]") for i, e in enumerate(data["assets"]))
    categories = data.get("categories", [])
    if (not isinstance(categories, list) or not all(isinstance(c, str) and c for c in categories)
            or len(set(categories)) != len(categories)):
        raise AssetError.at(f"{where}.categories", categories, "expected a list of distinct non-empty strings")
    for i, e in enumerate(entries):
        if categories and e.kind == "object" and (e.category or e.id) not in categories:
            raise AssetError.at(f"{where}.assets[{i}] ({e.id!r}).category", e.category or e.id,
                        "is not in the manifest's categories")
    return Manifest(
        categories=tuple(categories),
        name=name, assets=entries,
        description=checks.string(AssetError, f"{where}.description", data.get("description", "")),
        licence=checks.string(AssetError, f"{where}.licence", data["licence"]) if data.get("licence") is not None
        else None,
        root=checks.choice(AssetError, f"{where}.root", data.get("root", "manifest"), ROOTS))


def parse_manifest_text(text: str | bytes, where: str = "manifest") -> Manifest:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AssetError(f"{where}: not valid JSON ({e})") from None
    return parse_manifest(data, where)
