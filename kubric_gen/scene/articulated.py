"""Articulated objects: a URDF's links and joints, posed by joint positions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from kubric_gen import checks
from kubric_gen.errors import SceneError
from kubric_gen.scene.fields import Vec3, assign, boolean, number, unit_quaternion
from kubric_gen.scene.objects import SceneObject
from kubric_gen.scene.serialize import register
from kubric_gen.scene.urdf import Robot, read_urdf

LIMIT_TOLERANCE = 1e-9  # positions this far past a limit are taken as on it (values from float arithmetic)


@register
@dataclass(frozen=True, kw_only=True)
class ArticulatedObject(SceneObject):
    """A body of rigid links joined by joints, from a URDF file (`path`).

    `position`/`quaternion` place the base link's frame; `scale` must be uniform (it scales the
    whole body). `motion`: "static" fixes the base in place (a robot bolted down; the default),
    "dynamic" lets the whole body fall and collide, "kinematic" moves the base along `keyframes`.
    Ball joints (PyBullet's "spherical") follow `joint_rotations` when given: one (w, x, y, z)
    rotation of the child in the joint's frame per frame, slerped in between (e.g. a motion-capture
    clip's), else they stay at the identity.
    Each movable joint (revolute, continuous, prismatic; by its URDF name) starts at
    `joint_positions` (default 0, or the nearest limit) and then either
    - follows `joint_keyframes` exactly (one position per frame, linear in between: a scripted
      trajectory; the other objects still collide with the links), or
    - is driven by a position motor towards `joint_targets` (one target per frame, linear in
      between; at most `max_force` N or N m), or
    - is held by a velocity motor at rest (at most `max_force`), as PyBullet does by default.
    `urdf_colors`: each link keeps the colour its URDF gives (else `material`, for every link).
    Segmentation: the object is one instance; its links are its parts (metadata.json, part ids).
    """

    kind: ClassVar[str] = "articulated"
    path: str
    motion: Literal["dynamic", "static", "kinematic"] = "static"
    joint_positions: dict = field(default_factory=dict)
    joint_keyframes: dict = field(default_factory=dict)
    joint_targets: dict = field(default_factory=dict)
    joint_rotations: dict = field(default_factory=dict)
    max_force: float = 200.0
    urdf_colors: bool = True
    self_collision: bool = False

    def __post_init__(self, look_at: Vec3 | None, euler: Vec3 | None) -> None:
        super().__post_init__(look_at, euler)
        o = f"ArticulatedObject({self.name!r})"
        if not isinstance(self.path, (str, os.PathLike)):
            raise SceneError(f"{o}.path", self.path, "expected the path of a URDF file")
        assign(self, "path", os.fspath(self.path))
        robot = read_urdf(self.path, f"{o}.path")
        if len(set(self.scale)) != 1:
            raise SceneError(f"{o}.scale", self.scale, "an articulated object scales uniformly (give one value thrice)")
        assign(self, "max_force", number(o, "max_force", self.max_force, 0.0))
        assign(self, "urdf_colors", boolean(o, "urdf_colors", self.urdf_colors))
        assign(self, "self_collision", boolean(o, "self_collision", self.self_collision))
        movable = robot.movable
        assign(self, "joint_positions", {name: _position(o, "joint_positions", robot, name, value)
                                         for name, value in _joint_dict(o, "joint_positions",
                                                                        self.joint_positions, movable).items()})
        for group in ("joint_keyframes", "joint_targets"):
            values = _joint_dict(o, group, getattr(self, group), movable)
            checked = {}
            for name, series in values.items():
                if not isinstance(series, (list, tuple)) or not series:
                    raise SceneError(f"{o}.{group}[{name!r}]", series, "expected one position per frame")
                checked[name] = tuple(_position(o, f"{group}[{name!r}]", robot, name, v, index=i)
                                      for i, v in enumerate(series))
            assign(self, group, checked)
        if not isinstance(self.joint_rotations, dict):
            raise SceneError(f"{o}.joint_rotations", self.joint_rotations, "expected a dict {ball joint: rotations}")
        rotations = {}
        for name, series in self.joint_rotations.items():
            if name not in robot.spherical:
                known = ", ".join(sorted(robot.spherical)) or "none"
                raise SceneError(f"{o}.joint_rotations", name, f"no ball (spherical) joint of that name (the URDF's: "
                                                                f"{known})")
            if not isinstance(series, (list, tuple)) or not series:
                raise SceneError(f"{o}.joint_rotations[{name!r}]", series, "expected one rotation per frame")
            rotations[name] = tuple(unit_quaternion(f"{o}.joint_rotations[{name!r}]", str(i), q)
                                    for i, q in enumerate(series))
        assign(self, "joint_rotations", rotations)
        both = sorted(set(self.joint_keyframes) & set(self.joint_targets))
        if both:
            raise SceneError(f"{o}.joint_targets", both[0],
                             "a joint follows joint_keyframes or joint_targets, not both")

    @property
    def robot(self) -> Robot:
        """The URDF's links and joints."""
        return read_urdf(self.path)

    def series(self) -> dict[str, tuple[float, ...]]:
        """Every per-frame joint series (keyframes and targets), for the scene's frame-count check."""
        return {**self.joint_keyframes, **self.joint_targets, **self.joint_rotations}


def _joint_dict(o: str, group: str, value: object, movable: dict) -> dict:
    if not isinstance(value, dict):
        raise SceneError(f"{o}.{group}", value, "expected a dict {joint name: value}")
    for name in value:
        if name not in movable:
            known = ", ".join(sorted(movable)) or "none"
            raise SceneError(f"{o}.{group}", name, f"no movable joint of that name (the URDF's: {known})")
    return value


def _position(o: str, group: str, robot: Robot, name: str, value: object, index: int | None = None) -> float:
    where = f"{o}.{group}" + (f"[{index}]" if index is not None else f"[{name!r}]")
    v = checks.number(SceneError, where, value)
    joint = robot.movable[name]
    if v < joint.lower - LIMIT_TOLERANCE or v > joint.upper + LIMIT_TOLERANCE:
        raise SceneError(where, value, f"outside joint {name!r}'s limits [{joint.lower:g}, {joint.upper:g}]")
    return min(max(v, joint.lower), joint.upper)
