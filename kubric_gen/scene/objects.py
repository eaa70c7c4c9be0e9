"""Rigid objects: primitives and meshes, with their physical properties and motion."""

from __future__ import annotations

import math
import os
from dataclasses import InitVar, dataclass, field
from typing import ClassVar, Literal

from kubric_gen.errors import SceneError
from kubric_gen.labels import RESERVED_INSTANCE_KEYS
from kubric_gen.scene.fields import Quat, Vec3, assign, boolean, choice, json_object, nonempty_string, number, vector
from kubric_gen.scene.materials import Material, Principled
from kubric_gen.scene.poses import Pose, decode_poses, orientation
from kubric_gen.scene.serialize import from_data, register

MOTION_TYPES = ("dynamic", "static", "kinematic")
"""How an object moves: simulated (`dynamic`), never (`static`), or along its `keyframes` (`kinematic`)."""
# PyBullet clamps faster bodies to these speeds: a scene asking for more would be simulated
# with other velocities than it records, so it is refused
MAX_SPEED = 100.0
"""The fastest linear speed an object may be given, in m/s (PyBullet clamps faster bodies)."""
MAX_ANGULAR_SPEED = 100.0
"""The fastest angular speed an object may be given, in rad/s (PyBullet clamps faster bodies)."""
COLLISION_SHAPES = ("convex_hull", "vhacd", "mesh")
"""How a mesh collides: its convex hull, a V-HACD convex decomposition, or the triangles (static only)."""


@dataclass(frozen=True, kw_only=True)
class SceneObject:
    """A rigid object. Its world points are R(quaternion) @ (scale * p_local) + position.

    `motion`: "dynamic" (simulated), "static" (never moves) or "kinematic" (follows
    `keyframes`, one pose per frame). Mass comes from `mass`, else from `density`
    (kg/m^3) times the scaled volume. `velocity` is that of the centre of mass
    (the origin for primitives), `angular_velocity` in world axes. `is_background` objects (floor, dome) are not
    instances: segmentation 0. `casts_shadows` (None: all but background objects do)
    decides whether the object blocks light. `labels` are free-form world labels (e.g. MOVi's
    shape and colour names) copied into metadata.json.
    """

    kind: ClassVar[str] = "object"
    _nested: ClassVar[dict] = {"keyframes": decode_poses}
    name: str
    position: Vec3 = (0.0, 0.0, 0.0)
    quaternion: Quat = (1.0, 0.0, 0.0, 0.0)
    scale: Vec3 = (1.0, 1.0, 1.0)
    material: Material = field(default_factory=Principled)
    mass: float | None = None
    density: float = 1000.0
    friction: float = 0.5
    restitution: float = 0.5
    velocity: Vec3 = (0.0, 0.0, 0.0)
    angular_velocity: Vec3 = (0.0, 0.0, 0.0)
    motion: Literal["dynamic", "static", "kinematic"] = "dynamic"
    keyframes: tuple[Pose, ...] | None = None
    is_background: bool = False
    casts_shadows: bool | None = None
    asset_id: str | None = None
    labels: dict = field(default_factory=dict)
    look_at: InitVar[Vec3 | None] = None
    euler: InitVar[Vec3 | None] = None

    def __post_init__(self, look_at: Vec3 | None, euler: Vec3 | None) -> None:
        o = f"{type(self).__name__}({nonempty_string(type(self).__name__, 'name', self.name)!r})"
        assign(self, "position", vector(o, "position", self.position, 3))
        orientation(o, self, look_at, euler)
        scale = vector(o, "scale", self.scale, 3)
        if any(s <= 0 for s in scale):
            raise SceneError(f"{o}.scale", self.scale, "must be > 0")
        assign(self, "scale", scale)
        if isinstance(self.material, dict):
            assign(self, "material", from_data(self.material, f"{o}.material", (Material,)))
        if not isinstance(self.material, Material):
            raise SceneError(f"{o}.material", self.material, "expected a material (Principled or Flat)")
        if self.mass is not None:
            assign(self, "mass", number(o, "mass", self.mass, 0.0))
        assign(self, "density", number(o, "density", self.density, 0.0, lo_open=True))
        assign(self, "friction", number(o, "friction", self.friction, 0.0, 1.0))
        assign(self, "restitution", number(o, "restitution", self.restitution, 0.0, 1.0))
        assign(self, "velocity", vector(o, "velocity", self.velocity, 3))
        assign(self, "angular_velocity", vector(o, "angular_velocity", self.angular_velocity, 3))
        choice(o, "motion", self.motion, MOTION_TYPES)
        if self.keyframes is not None:
            assign(self, "keyframes", decode_poses(self.keyframes, f"{o}.keyframes"))
        if self.motion == "kinematic" and not self.keyframes:
            raise SceneError(f"{o}.keyframes", self.keyframes, "a kinematic object needs one pose per frame")
        if self.motion != "kinematic" and self.keyframes is not None:
            raise SceneError(f"{o}.keyframes", "...", "only kinematic objects take keyframes")
        assign(self, "is_background", boolean(o, "is_background", self.is_background))
        assign(self, "casts_shadows", boolean(o, "casts_shadows", self.casts_shadows, optional=True))
        if self.motion == "dynamic":
            if self.mass == 0:
                raise SceneError(f"{o}.mass", self.mass, "a dynamic object needs a mass > 0 (the physics engine "
                                                         "would hold a massless body still); make it motion='static'")
            if math.hypot(*self.velocity) > MAX_SPEED:
                raise SceneError(f"{o}.velocity", self.velocity, f"faster than {MAX_SPEED:g} m/s, the most the "
                                                                 f"physics engine simulates")
            if math.hypot(*self.angular_velocity) > MAX_ANGULAR_SPEED:
                raise SceneError(f"{o}.angular_velocity", self.angular_velocity,
                                 f"faster than {MAX_ANGULAR_SPEED:g} rad/s, the most the physics engine simulates")
        if self.asset_id is None:
            assign(self, "asset_id", self.kind)
        nonempty_string(o, "asset_id", self.asset_id)
        assign(self, "labels", json_object(o, "labels", self.labels))
        reserved = sorted(set(self.labels) & RESERVED_INSTANCE_KEYS)
        if reserved:
            raise SceneError(f"{o}.labels", reserved[0], "is a per-instance field that metadata.json fills itself")

    def pose_at(self, frame: int) -> Pose:
        """The keyframed pose of a kinematic object (else its initial pose)."""
        if self.keyframes:
            return self.keyframes[min(frame, len(self.keyframes) - 1)]
        return Pose(position=self.position, quaternion=self.quaternion)



@register
@dataclass(frozen=True, kw_only=True)
class Cube(SceneObject):
    """A cube spanning [-1, 1]^3 before scaling (so `scale` is the half-extent)."""

    kind: ClassVar[str] = "cube"


@register
@dataclass(frozen=True, kw_only=True)
class Sphere(SceneObject):
    """A sphere of radius 1 before scaling."""

    kind: ClassVar[str] = "sphere"


@register
@dataclass(frozen=True, kw_only=True)
class Cylinder(SceneObject):
    """A cylinder of radius 1 along Z from z=-1 to z=1 before scaling."""

    kind: ClassVar[str] = "cylinder"


@register
@dataclass(frozen=True, kw_only=True)
class MeshObject(SceneObject):
    """Any mesh file trimesh reads (OBJ, GLB, PLY, STL), in its own local frame.

    `collision`: "convex_hull" (default), "vhacd" (PyBullet's convex decomposition,
    cached) or "mesh" (the exact triangles; static objects only). `collision_path`
    optionally names a file of convex parts (e.g. a library's precomputed
    decomposition, in the mesh's local frame) used instead of computing one.
    """

    kind: ClassVar[str] = "mesh"
    path: str
    collision: Literal["convex_hull", "vhacd", "mesh"] = "convex_hull"
    collision_path: str | None = None

    def __post_init__(self, look_at: Vec3 | None, euler: Vec3 | None) -> None:
        super().__post_init__(look_at, euler)
        o = f"MeshObject({self.name!r})"
        choice(o, "collision", self.collision, COLLISION_SHAPES)
        if self.collision == "mesh" and self.motion != "static":
            raise SceneError(f"{o}.collision", self.collision, "exact mesh collision needs motion='static'")
        if not isinstance(self.path, (str, os.PathLike)) or not os.path.isfile(self.path):
            raise SceneError(f"{o}.path", str(self.path), "mesh file not found")
        assign(self, "path", os.fspath(self.path))
        if self.collision_path is not None:
            if not isinstance(self.collision_path, (str, os.PathLike)) or not os.path.isfile(self.collision_path):
                raise SceneError(f"{o}.collision_path", str(self.collision_path), "collision mesh file not found")
            assign(self, "collision_path", os.fspath(self.collision_path))
        if self.asset_id == "mesh":
            assign(self, "asset_id", os.path.splitext(os.path.basename(self.path))[0])
