"""Poses, and the orientation helpers (look_at, euler, direction) components accept."""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Any

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import SceneError
from kubric_gen.scene.fields import Quat, Vec3, assign, unit_quaternion, vector


@dataclass(frozen=True, kw_only=True)
class Pose:
    """A position and a (w, x, y, z) orientation, e.g. one frame of a camera path.

    `look_at=(x, y, z)` instead of `quaternion` turns the pose the way cameras and lights
    point: local -Z towards the target, +Y up (world +Z)."""

    position: Vec3 = (0.0, 0.0, 0.0)
    quaternion: Quat = (1.0, 0.0, 0.0, 0.0)
    look_at: InitVar[Vec3 | None] = None

    def __post_init__(self, look_at: Vec3 | None) -> None:
        assign(self, "position", vector("Pose", "position", self.position, 3))
        if look_at is not None and self.quaternion != (1.0, 0.0, 0.0, 0.0):
            raise SceneError("Pose.look_at", look_at, "give only one of quaternion, look_at")
        orientation("Pose", self, look_at, None)


def decode_poses(data: Any, where: str) -> tuple[Pose, ...]:
    if not isinstance(data, (list, tuple)):
        raise SceneError(where, data, "expected a list of poses")
    poses = []
    for i, p in enumerate(data):
        if isinstance(p, Pose):
            poses.append(p)
        elif isinstance(p, dict) and set(p) <= {"position", "quaternion"}:
            poses.append(Pose(**p))
        else:
            raise SceneError(f"{where}[{i}]", p, "expected a pose {position, quaternion}")
    return tuple(poses)


def orientation(owner: str, obj: Any, look_at: Any, euler: Any, direction: Any = None) -> None:
    """Resolve the orientation helpers (InitVars) into `quaternion`."""
    given = [n for n, v in (("look_at", look_at), ("euler", euler), ("direction", direction)) if v is not None]
    if len(given) > 1:
        raise SceneError(f"{owner}.{given[1]}", locals()[given[1]], f"give only one of {', '.join(given)}")
    if look_at is not None:
        target = vector(owner, "look_at", look_at, 3)
        if np.allclose(target, obj.position):
            raise SceneError(f"{owner}.look_at", look_at, "must differ from position")
        assign(obj, "quaternion", tuple(geometry.look_at_quaternion(obj.position, target)))
    elif euler is not None:
        assign(obj, "quaternion", tuple(geometry.quat_from_euler(vector(owner, "euler", euler, 3))))
    elif direction is not None:
        d = vector(owner, "direction", direction, 3)
        if not any(d):
            raise SceneError(f"{owner}.direction", direction, "must not be zero")
        pos = np.asarray(obj.position)
        assign(obj, "quaternion", tuple(geometry.look_at_quaternion(pos, pos + np.asarray(d))))
    assign(obj, "quaternion", unit_quaternion(owner, "quaternion", obj.quaternion))
