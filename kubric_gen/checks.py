"""Field checks shared by scenes, render settings and asset manifests.

Each check returns the clean value or raises `error.at(field, value, reason)`, with `error`
the caller's error class (`SceneError`, `ConfigError`, `AssetError`): one line,
"FIELD: REASON (got VALUE)".
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, overload

import numpy as np

from kubric_gen.errors import KubricGenError

Error = type[KubricGenError]
NOT_FINITE = "must be finite (no NaN or inf)"


def number(error: Error, field: str, value: Any, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False) -> float:
    """A finite float in [lo, hi] (`lo` itself excluded with `lo_open`); either bound optional."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise error.at(field, value, "expected a number")
    try:
        value = float(value)
    except OverflowError:
        raise error.at(field, value, NOT_FINITE) from None
    if not math.isfinite(value):
        raise error.at(field, value, NOT_FINITE)
    return _within(error, field, value, lo, hi, lo_open)


def integer(error: Error, field: str, value: Any, lo: int | None = None, hint: str = "") -> int:
    """An integer (not a bool) >= `lo`; `hint` follows the reason, e.g. "0 uses all cores"."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise error.at(field, value, "expected an integer")
    return int(_within(error, field, value, lo, None, False, hint))


def _within(error: Error, field: str, value: Any, lo: float | None, hi: float | None, lo_open: bool,
            hint: str = "") -> Any:
    if (lo is None or (value > lo if lo_open else value >= lo)) and (hi is None or value <= hi):
        return value
    if hi is None:
        reason = f"must be {'>' if lo_open else '>='} {lo:g}"
    else:
        reason = f"must be <= {hi:g}" if lo is None else f"must be in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    raise error.at(field, value, f"{reason} ({hint})" if hint else reason)


def vector(error: Error, field: str, value: Any, size: int) -> tuple[float, ...]:
    """`size` finite floats (a single number broadcasts)."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        value = (value,) * size
    try:
        if isinstance(value, (str, bytes, dict)) or any(isinstance(v, bool) for v in value):
            raise TypeError
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        raise error.at(field, value, f"expected {size} numbers") from None
    if len(out) != size:
        raise error.at(field, value, f"expected {size} numbers")
    if not all(math.isfinite(v) for v in out):
        raise error.at(field, value, NOT_FINITE)
    return out


def choice(error: Error, field: str, value: Any, choices: tuple[str, ...]) -> Any:
    if value not in choices:
        raise error.at(field, value, f"must be one of {', '.join(choices)}")
    return value


@overload
def boolean(error: Error, field: str, value: Any, optional: Literal[False] = False) -> bool: ...
@overload
def boolean(error: Error, field: str, value: Any, optional: bool) -> bool | None: ...
def boolean(error: Error, field: str, value: Any, optional: bool = False) -> bool | None:
    """True or false (numpy's too); with `optional` also None."""
    if optional and value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise error.at(field, value, "expected true, false or null" if optional else "expected true or false")
    return bool(value)


def string(error: Error, field: str, value: Any, empty: bool = True) -> str:
    if not isinstance(value, str) or not (empty or value):
        raise error.at(field, value, "expected a string" if empty else "expected a non-empty string")
    return value


def json_object(error: Error, field: str, value: Any) -> dict:
    """A dict of JSON data, as a copy that JSON gives back unchanged."""
    if not isinstance(value, dict):
        raise error.at(field, value, "expected a JSON object")
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        raise error.at(field, value, "must be JSON data (no NaN/inf, objects or bytes)") from None
