"""Field checks of the scene's components: the shared checks (`kubric_gen.checks`) raising
`SceneError`s that name the field ("Owner.name") and the value."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kubric_gen import checks
from kubric_gen.errors import SceneError

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
Color = tuple[float, float, float]


def assign(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _scene_check(check: Callable) -> Callable:
    """`check` for a scene component: called as (owner, name, value, ...) about field "owner.name"."""
    return lambda owner, name, value, *args, **kwargs: check(SceneError, f"{owner}.{name}", value, *args, **kwargs)


vector = _scene_check(checks.vector)  # (owner, name, value, size)
number = _scene_check(checks.number)  # (owner, name, value, lo=None, hi=None, lo_open=False)
integer = _scene_check(checks.integer)  # (owner, name, value, lo)
choice = _scene_check(checks.choice)  # (owner, name, value, choices)
boolean = _scene_check(checks.boolean)  # (owner, name, value, optional=False)
json_object = _scene_check(checks.json_object)  # (owner, name, value): free-form labels and metadata


def nonempty_string(owner: str, name: str, value: Any) -> str:
    return checks.string(SceneError, f"{owner}.{name}", value, empty=False)


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
