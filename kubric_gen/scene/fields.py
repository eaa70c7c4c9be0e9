"""Field checks of the scene's components: each returns the clean value or raises a
`SceneError` naming the field and the value."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from kubric_gen.errors import SceneError

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
Color = tuple[float, float, float]


def assign(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def vector(owner: str, name: str, value: Any, size: int) -> tuple[float, ...]:
    """A finite float tuple of length `size` (a scalar broadcasts)."""
    field_name = f"{owner}.{name}"
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        value = (value,) * size
    try:
        if isinstance(value, (str, bytes, dict)) or any(isinstance(v, bool) for v in value):
            raise TypeError
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        raise SceneError(field_name, value, f"expected {size} numbers") from None
    if len(out) != size:
        raise SceneError(field_name, value, f"expected {size} numbers")
    if not all(math.isfinite(v) for v in out):
        raise SceneError(field_name, value, "must be finite (no NaN or inf)")
    return out


def number(owner: str, name: str, value: Any, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False) -> float:
    field_name = f"{owner}.{name}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise SceneError(field_name, value, "expected a number")
    try:
        value = float(value)
    except OverflowError:
        raise SceneError(field_name, value, "must be finite (no NaN or inf)") from None
    if not math.isfinite(value):
        raise SceneError(field_name, value, "must be finite (no NaN or inf)")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise SceneError(field_name, value, f"must be {'>' if lo_open else '>='} {lo:g}")
    if hi is not None and value > hi:
        raise SceneError(field_name, value, f"must be <= {hi:g}")
    return value


def integer(owner: str, name: str, value: Any, lo: int) -> int:
    field_name = f"{owner}.{name}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SceneError(field_name, value, "expected an integer")
    if value < lo:
        raise SceneError(field_name, value, f"must be >= {lo}")
    return int(value)


def unit_quaternion(owner: str, name: str, value: Any) -> Quat:
    q = vector(owner, name, value, 4)
    norm = math.sqrt(sum(v * v for v in q))
    if norm < 1e-12:
        raise SceneError(f"{owner}.{name}", value, "quaternion must not be zero")
    if abs(norm - 1.0) > 1e-12:  # leave unit quaternions untouched so JSON round trips are exact
        q = tuple(v / norm for v in q)
    if q[0] < 0:
        q = tuple(-v for v in q)
    return q  # type: ignore[return-value]


def choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SceneError(f"{owner}.{name}", value, f"must be one of {', '.join(choices)}")
    return value


def json_value(owner: str, name: str, value: Any) -> Any:
    """Free-form metadata must survive JSON unchanged."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise SceneError(f"{owner}.{name}", value, "must be JSON data (no NaN/inf, objects or bytes)") from None
    return json.loads(text)


def unit_color(owner: str, name: str, value: Any) -> Color:
    c = vector(owner, name, value, 3)
    if any(v < 0 or v > 1 for v in c):
        raise SceneError(f"{owner}.{name}", value, "colour components must be in [0, 1]")
    return c  # type: ignore[return-value]
