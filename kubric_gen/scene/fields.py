"""Field checks of the scene's components: the shared checks (`kubric_gen.checks`) raising
`SceneError`s that name the field ("Owner.name") and the value."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from kubric_gen import checks
from kubric_gen.errors import SceneError

Vec3 = tuple[float, float, float]
"""A point or vector (x, y, z) in metres, world frame: Z up."""
Quat = tuple[float, float, float, float]
"""A unit quaternion (w, x, y, z), Blender's order."""
Color = tuple[float, float, float]
"""A linear-RGB colour, each channel in [0, 1]."""
P = ParamSpec("P")
R = TypeVar("R")


def assign(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _scene_check(check: Callable[Concatenate[checks.Error, str, Any, P], R],
                 ) -> Callable[Concatenate[str, str, Any, P], R]:
    """`check` for a scene component: called as (owner, name, value, ...) about field "owner.name"."""
    def scene_check(owner: str, name: str, value: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return check(SceneError, f"{owner}.{name}", value, *args, **kwargs)
    return scene_check  # typed as `check` less its first argument, so callers keep its types


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
    return q  # type: ignore[return-value]  # 4 floats (vector checked): mypy cannot tie the length to `size`


def unit_color(owner: str, name: str, value: Any) -> Color:
    c = vector(owner, name, value, 3)
    if any(v < 0 or v > 1 for v in c):
        raise SceneError(f"{owner}.{name}", value, "colour components must be in [0, 1]")
    return c  # type: ignore[return-value]  # 3 floats (vector checked): mypy cannot tie the length to `size`
