"""The camera: a pinhole in Blender's model, optionally moving along a path."""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import ClassVar

from kubric_gen import geometry
from kubric_gen.scene.fields import Quat, Vec3, assign, nonempty_string, number, vector
from kubric_gen.scene.poses import Pose, decode_poses, orientation
from kubric_gen.scene.serialize import register

_DEFAULT_POSE = ((0.0, -10.0, 5.0), (1.0, 0.0, 0.0, 0.0))


@register
@dataclass(frozen=True, kw_only=True)
class PerspectiveCamera:
    """A pinhole camera in Blender's model; `path` optionally gives one pose per frame
    (`orbit`, `through_waypoints`), and then `position`/`quaternion` default to its first.

    `focal_length` and `sensor_width` are in millimetres (Blender's: a 32 mm wide sensor);
    `look_at` turns a static camera towards a point."""

    kind: ClassVar[str] = "perspective"
    _nested: ClassVar[dict] = {"path": decode_poses}
    name: str = "camera"
    focal_length: float = 35.0
    sensor_width: float = 32.0
    position: Vec3 = (0.0, -10.0, 5.0)
    quaternion: Quat = (1.0, 0.0, 0.0, 0.0)
    path: tuple[Pose, ...] | None = None
    look_at: InitVar[Vec3 | None] = None

    def __post_init__(self, look_at: Vec3 | None) -> None:
        o = f"PerspectiveCamera({nonempty_string('PerspectiveCamera', 'name', self.name)!r})"
        assign(self, "focal_length", number(o, "focal_length", self.focal_length, 0.0, lo_open=True))
        assign(self, "sensor_width", number(o, "sensor_width", self.sensor_width, 0.0, lo_open=True))
        assign(self, "position", vector(o, "position", self.position, 3))
        orientation(o, self, look_at, None)
        if self.path is not None:
            assign(self, "path", decode_poses(self.path, f"{o}.path"))
            if self.path and look_at is None and (self.position, self.quaternion) == _DEFAULT_POSE:
                assign(self, "position", self.path[0].position)  # a moving camera starts where its path does
                assign(self, "quaternion", self.path[0].quaternion)

    def pose_at(self, frame: int) -> Pose:
        if self.path:
            return self.path[min(frame, len(self.path) - 1)]
        return Pose(position=self.position, quaternion=self.quaternion)

    @property
    def field_of_view(self) -> float:
        return geometry.field_of_view(self.focal_length, self.sensor_width)
