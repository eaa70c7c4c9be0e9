"""Field checks of the scene's components: the shared checks (`kubric_gen.checks`) raising
`SceneError`s that name the field ("Owner.name") and the value."""

from __future__ import annotations

import math
from typing import Any

from kubric_gen import checks
from kubric_gen.errors import SceneError

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
Color = tuple[float, float, float]


def assign(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def vector(owner: str, name: str, value: Any, size: int) -> tuple[float, ...]:
    return checks.vector(SceneError, f"{owner}.{name}", value, size)


def number(owner: str, name: str, value: Any, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False) -> float:
    return checks.number(SceneError, f"{owner}.{name}", value, lo, hi, lo_open)


def integer(owner: str, name: str, value: Any, lo: int) -> int:
    return checks.integer(SceneError, f"{owner}.{name}", value, lo)


def choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    return checks.choice(SceneError, f"{owner}.{name}", value, choices)


def boolean(owner: str, name: str, value: Any, optional: bool = False) -> bool | None:
    return checks.boolean(SceneError, f"{owner}.{name}", value, optional)


def nonempty_string(owner: str, name: str, value: Any) -> str:
    return checks.string(SceneError, f"{owner}.{name}", value, empty=False)


def json_object(owner: str, name: str, value: Any) -> dict:
    """Free-form labels and metadata must survive JSON unchanged."""
    return checks.json_object(SceneError, f"{owner}.{name}", value)


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


def unit_color(owner: str, name: str, value: Any) -> Color:
    c = vector(owner, name, value, 3)
    if any(v < 0 or v > 1 for v in c):
        raise SceneError(f"{owner}.{name}", value, "colour components must be in [0, 1]")
    return c  # type: ignore[return-value]
