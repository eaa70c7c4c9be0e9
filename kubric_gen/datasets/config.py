"""Dataset configuration without TensorFlow: names, resolution configs, splits.

- A dataset NAME is snake_case (TFDS's rule): ``[a-z][a-z0-9_]*``.
- A builder config is named by its resolution ``WxH``. The default config is the scenes'
  own resolution; a downscaled config divides both sides by the same integer factor.
- Splits are assigned by a deterministic hash of the scene name: the first 8 bytes of
  SHA-256(name) as a fraction in [0, 1) against the cumulative split fractions (in the
  order given, e.g. train 0.9 then validation 0.1). The assignment of a scene never
  depends on the other scenes, except in tiny datasets where a split would be empty:
  then the scene whose hash is nearest that split's interval moves into it (taken from a
  split with more than one scene, or else from a later split: with fewer scenes than
  splits, the first splits get them, so one scene always lands in train).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubric_gen.errors import KubricGenError

DEFAULT_SPLITS: dict[str, float] = {"train": 0.9, "validation": 0.1}
WITH_TEST_SPLITS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_RESOLUTION = re.compile(r"(\d+)x(\d+)")


class DatasetError(KubricGenError):
    """Bad input to dataset packaging (name, config, splits, scenes directory)."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DatasetError(f"--name: a dataset name must be snake_case ([a-z][a-z0-9_]*) (got {name!r})")
    return name


@dataclass(frozen=True)
class Resolution:
    """A dataset config's frame size in pixels (`128x128`: MOVi's config names)."""

    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}"

    @classmethod
    def parse(cls, text: str, what: str = "--config") -> Resolution:
        m = _RESOLUTION.fullmatch(str(text).strip())
        if not m or int(m.group(1)) <= 0 or int(m.group(2)) <= 0:
            raise DatasetError(f"{what}: expected WxH with positive integers, e.g. 128x128 (got {text!r})")
        return cls(int(m.group(1)), int(m.group(2)))


def downscale_factor(source: Resolution, target: Resolution) -> int:
    """The integer factor f with target = source / f on both sides, else DatasetError."""
    f = source.width // target.width if target.width else 0
    if f < 1 or source.width != f * target.width or source.height != f * target.height:
        raise DatasetError(f"--config: {target.name} is not the scenes' resolution {source.name} divided by an "
                           f"integer factor on both sides")
    return f


def parse_splits(text: str | Mapping[str, float] | Sequence[str] | None) -> dict[str, float]:
    """Split fractions from "train=0.9,validation=0.1", a mapping, or a list of names.

    A list of names uses the default fractions ("train", "validation" -> 90/10;
    with "test" -> 80/10/10). Fractions must be positive and sum to 1.
    """
    if text is None:
        return dict(DEFAULT_SPLITS)
    if isinstance(text, str):
        items: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            try:
                items[key.strip()] = float(value) if sep else float("nan")
            except ValueError:
                raise DatasetError(f"--splits: bad fraction in {part!r} (expected NAME=FRACTION)") from None
        if items and all(v != v for v in items.values()):  # names only
            text = list(items)
        else:
            text = items
    if not isinstance(text, Mapping):
        names = list(text)
        table = WITH_TEST_SPLITS if "test" in names else DEFAULT_SPLITS
        if set(names) != set(table):
            raise DatasetError(f"--splits: give fractions for splits other than train/validation/test (got {names})")
        return {n: table[n] for n in table}
    splits = {str(k): float(v) for k, v in text.items()}
    if not splits:
        raise DatasetError("--splits: no split given")
    for k, v in splits.items():
        if not _NAME.fullmatch(k) or k == "all":
            raise DatasetError(f"--splits: bad split name {k!r}")
        if not v > 0:
            raise DatasetError(f"--splits: the fraction of {k!r} must be positive (got {v})")
    if abs(sum(splits.values()) - 1.0) > 1e-6:
        raise DatasetError(f"--splits: fractions must sum to 1 (got {sum(splits.values()):g})")
    return splits


def scene_hash(name: str) -> float:
    """A deterministic fraction in [0, 1) from the scene name."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64


def assign_splits(names: Sequence[str], splits: Mapping[str, float]) -> dict[str, list[str]]:
    """Scene names per split (each list sorted); see the module docstring."""
    bounds = []
    lo = 0.0
    for split, fraction in splits.items():
        bounds.append((split, lo, lo + fraction))
        lo += fraction
    hashes = {n: scene_hash(n) for n in names}
    out: dict[str, list[str]] = {s: [] for s in splits}
    for n in names:
        h = hashes[n]
        split = next((s for s, a, b in bounds if a <= h < b), bounds[-1][0])
        out[split].append(n)
    for i, (split, a, b) in enumerate(bounds):  # tiny datasets: fill the splits in order
        if out[split]:
            continue
        donors = [n for s in out if len(out[s]) > 1 for n in out[s]]
        if not donors:  # fewer scenes than splits: an earlier split (train) comes first
            donors = [n for s, _, _ in bounds[i + 1:] for n in out[s]]
        if donors:
            nearest = min(donors, key=lambda n: (min(abs(hashes[n] - a), abs(hashes[n] - b)), n))
            for s in out:
                if nearest in out[s]:
                    out[s].remove(nearest)
            out[split].append(nearest)
    return {s: sorted(v) for s, v in out.items()}


FILE_FORMATS = ("tfrecord", "array_record")  # TFRecord: MOVi's, for tf.data; ArrayRecord: random access too


def check_file_format(file_format: str) -> None:
    """Raise DatasetError unless `file_format` is one we build (checked before any work)."""
    if file_format not in FILE_FORMATS:
        raise DatasetError(f"--file-format: {file_format!r} is not one of {', '.join(FILE_FORMATS)}")
