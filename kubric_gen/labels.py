"""Label schemas: which labels a world's scenes carry, and every value each label may take.

A world declares its schema once (``LABELS`` or ``labels(config)`` in the world file); the
vocabularies come from where the labels come from (the world's own lists, or its asset
library's manifest). The schema is recorded in every scene's ``metadata.json``
(``label_schema``), checked when the scene is built, and read back by `validate` and by
dataset packaging, which turns it into TFDS features. Nothing downstream keeps a copy.

A `Label` names its dataset feature (``shape_label``; scene labels may sit in a group:
``metadata/background_color``), its kind, the metadata keys it is read from (the first
present wins; default: the feature's last part) and, for a class label, its names in
label-id order.

| kind | value in metadata.json | in a dataset |
|---|---|---|
| class | one of `names` | ClassLabel (id = index in `names`) |
| float | a finite number | float32 |
| float3 | 3 finite numbers, or a ``#rrggbb[aa]`` colour | float32 (3,) |
| text | a string (anything else is stored as its JSON) | Text |
| bool | true or false | bool |

Instance labels are read from an instance of ``metadata.json``; scene labels from
``metadata``, then ``metadata.scene_metadata`` (the world's `Scene.metadata`), then ``flags``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubric_gen.errors import LabelError

KINDS = ("class", "float", "float3", "text", "bool")
"""The kinds of a `Label`: a class of a named vocabulary, a number, 3 numbers, free text, a flag."""
_FEATURE = re.compile(r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)?$")
_HEX = re.compile(r"^#([0-9a-fA-F]{6})([0-9a-fA-F]{2})?$")
RESERVED_INSTANCE_FEATURES = frozenset({
    "mass", "friction", "restitution", "positions", "quaternions", "velocities", "angular_velocities",
    "bboxes_3d", "image_positions", "bboxes", "bbox_frames", "visibility"})
"""Per-instance dataset features kubric_gen computes itself: no label may take these names."""
AMODAL_INSTANCE_KEYS = ("amodal_pixels", "visible_fraction", "in_image_fraction", "amodal_bboxes", "amodal_bbox_frames",
                        "amodal_bboxes_unclipped", "amodal_bbox_unclipped_frames")
"""An instance's amodal fields in metadata.json (per camera, like MOVi's bboxes; io.scene_dir.amodal_metadata)."""
DEFORMABLE_INSTANCE_KEYS = ("body", "deformation_index", "stiffness", "bending_stiffness", "damping", "pinned",
                            "attached")
"""A deformable instance's own fields in metadata.json (io.scene_dir.instance_metadata)."""
RESERVED_INSTANCE_KEYS = RESERVED_INSTANCE_FEATURES | {"name", "asset_id", "motion", "bounds", "scale_xyz", "nr_faces",
                                                       "nr_vertices", *AMODAL_INSTANCE_KEYS, *DEFORMABLE_INSTANCE_KEYS}
"""Keys of an instance in metadata.json that kubric_gen writes itself: an object's labels may not replace them."""


@dataclass(frozen=True)
class Label:
    """One label: its feature name, kind, metadata keys, class names (in id order) and a doc line."""

    feature: str
    kind: str
    keys: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    doc: str = ""
    default: Any = None

    def __post_init__(self) -> None:
        where = f"label {self.feature!r}"
        if not isinstance(self.feature, str) or not _FEATURE.match(self.feature):
            raise LabelError(f"label feature: expected snake_case, optionally 'group/name' (got {self.feature!r})")
        if self.kind not in KINDS:
            raise LabelError(f"{where}: kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        keys = (self.keys,) if isinstance(self.keys, str) else tuple(self.keys or ())
        object.__setattr__(self, "keys", keys or (self.feature.rpartition("/")[2],))
        names = tuple(self.names or ())
        object.__setattr__(self, "names", names)
        if self.kind == "class":
            if not names or not all(isinstance(n, str) and n for n in names):
                raise LabelError(f"{where}: a class label needs its names, non-empty strings (got {list(names)})")
            if len(set(names)) != len(names):
                dup = sorted({n for n in names if names.count(n) > 1})
                raise LabelError(f"{where}: duplicate class names {dup}")
        elif names:
            raise LabelError(f"{where}: only a class label has names (got kind {self.kind!r})")
        if self.default is not None:
            self.convert(self.default)

    def convert(self, value: Any) -> Any:
        """The value as the dataset stores it (str, float, 3 floats, bool); LabelError if it does not fit."""
        what = self.feature
        if self.kind == "class":
            if not isinstance(value, str) or value not in self.names:
                shown = list(self.names) if len(self.names) <= 20 else f"{len(self.names)} names"
                raise LabelError(f"{what} {value!r} is not one of {shown}")
            return value
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise LabelError(f"{what} must be a finite number (got {value!r})")
            return float(value)
        if self.kind == "float3":
            if isinstance(value, str) and _HEX.match(value):
                return tuple(int(value[i:i + 2], 16) / 255 for i in (1, 3, 5))
            if (not isinstance(value, (list, tuple)) or len(value) != 3
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                               for v in value)):
                raise LabelError(f"{what} must be 3 finite numbers or a '#rrggbb' colour (got {value!r})")
            return tuple(float(v) for v in value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise LabelError(f"{what} must be true or false (got {value!r})")
            return value
        if value is None:
            return ""
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

    def value_in(self, sources: Iterable[Mapping]) -> Any:
        """The converted value of the first key found in the first source that has one."""
        for source in sources:
            for key in self.keys:
                if isinstance(source, Mapping) and key in source:
                    return self.convert(source[key])
        if self.default is not None:
            return self.convert(self.default)
        raise LabelError(f"{self.feature}: missing {' / '.join(repr(k) for k in self.keys)}")

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"feature": self.feature, "kind": self.kind, "keys": list(self.keys)}
        if self.names:
            data["names"] = list(self.names)
        if self.doc:
            data["doc"] = self.doc
        if self.default is not None:
            data["default"] = self.default
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Label:
        if not isinstance(data, dict):
            raise LabelError(f"{where}: expected a JSON object (got {data!r})")
        unknown = sorted(set(data) - {"feature", "kind", "keys", "names", "doc", "default"})
        if unknown:
            raise LabelError(f"{where}.{unknown[0]}: unknown field (got {data[unknown[0]]!r})")
        raw: Any = data  # JSON values, unchecked: Label checks each one (None included) and names it
        try:
            return cls(feature=raw.get("feature"), kind=raw.get("kind"), keys=tuple(raw.get("keys", ())),
                       names=tuple(raw.get("names", ())), doc=str(raw.get("doc", "")),
                       default=raw.get("default"))
        except LabelError as e:
            raise LabelError(f"{where}: {e}") from None
        except TypeError as e:
            raise LabelError(f"{where}: {e}") from None


@dataclass(frozen=True)
class LabelSchema:
    """The labels of a world's scenes: per instance and per scene."""

    name: str
    instance: tuple[Label, ...] = ()
    scene: tuple[Label, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "instance", tuple(self.instance))
        object.__setattr__(self, "scene", tuple(self.scene))
        if not isinstance(self.name, str) or not self.name:
            raise LabelError(f"label schema name: expected a non-empty string (got {self.name!r})")
        for group, labels in (("instance", self.instance), ("scene", self.scene)):
            seen: set[str] = set()
            for label in labels:
                if not isinstance(label, Label):
                    raise LabelError(f"label schema {self.name!r}: {group} labels must be Label (got {label!r})")
                if label.feature in seen:
                    raise LabelError(f"label schema {self.name!r}: duplicate {group} label {label.feature!r}")
                if group == "instance" and ("/" in label.feature or label.feature in RESERVED_INSTANCE_FEATURES):
                    raise LabelError(f"label schema {self.name!r}: instance label {label.feature!r} clashes with "
                                     f"MOVi's per-instance features")
                seen.add(label.feature)

    def instance_values(self, instance: Mapping) -> dict[str, Any]:
        """{feature: value} of one instance's metadata; LabelError naming the instance and label."""
        out = {}
        for label in self.instance:
            try:
                out[label.feature] = label.value_in([instance])
            except LabelError as e:
                raise LabelError(f"instance {instance.get('name', instance.get('asset_id', '?'))!r}: {e}") from None
        return out

    def scene_values(self, metadata: Mapping) -> dict[str, Any]:
        """{feature path: value} of a scene's metadata.json."""
        m = metadata.get("metadata", {}) if isinstance(metadata, Mapping) else {}
        sources = [m, m.get("scene_metadata", {}) if isinstance(m, Mapping) else {}, metadata.get("flags", {})]
        return {label.feature: label.value_in(sources) for label in self.scene}

    def check_object_labels(self, name: str, labels: Mapping) -> None:
        """Check an object's labels (as a world sets them) against the instance labels."""
        self.instance_values({"name": name, **labels})

    def to_dict(self) -> dict:
        return {"name": self.name, "instance": [lab.to_dict() for lab in self.instance],
                "scene": [lab.to_dict() for lab in self.scene]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "label_schema") -> LabelSchema:
        if not isinstance(data, dict):
            raise LabelError(f"{where}: expected a JSON object (got {data!r})")
        unknown = sorted(set(data) - {"name", "instance", "scene"})
        if unknown:
            raise LabelError(f"{where}.{unknown[0]}: unknown field")
        groups = {}
        for group in ("instance", "scene"):
            items = data.get(group, [])
            if not isinstance(items, list):
                raise LabelError(f"{where}.{group}: expected a list (got {items!r})")
            groups[group] = tuple(Label.from_dict(d, f"{where}.{group}[{i}]") for i, d in enumerate(items))
        name: Any = data.get("name")  # unchecked JSON (None included): __post_init__ checks it
        return cls(name=name, **groups)

    def fingerprint(self) -> str:
        """A short stable text identifying the schema (datasets require one schema per build)."""
        import hashlib

        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


GENERIC = LabelSchema("generic", (Label("asset_id", "text", default="", doc="asset id"),))
"""The schema of a world that declares none: each instance's `asset_id` only."""



def undeclared_labels(schema: LabelSchema, labels: Iterable[Mapping]) -> list[str]:
    """The label keys set on objects (each object's `labels`, or an instance of metadata.json) of a
    world that declares no label schema (`GENERIC`), sorted: a dataset keeps only `asset_id` and
    leaves them out. [] for a world with a schema: it chose its features (MOVi-A's `size`, say, is
    left out as MOVi leaves it out). The keys kubric_gen writes itself, and `scale`, are not labels."""
    if schema.fingerprint() != GENERIC.fingerprint():
        return []
    read = {key for label in schema.instance for key in label.keys}
    seen = {key for item in labels if isinstance(item, Mapping) for key in item}
    return sorted(seen - read - RESERVED_INSTANCE_KEYS - {"scale"})


def undeclared_labels_message(keys: Iterable[str]) -> str:
    """One line naming the labels a dataset leaves out, and how to keep them."""
    names = ", ".join(repr(k) for k in keys)
    return (f"labels {names} are set on objects but the world declares no label schema: datasets built from its "
            "scenes keep only asset_id (declare them in the world's LABELS, see kubric_gen.labels)")
