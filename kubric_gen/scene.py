"""The scene description: plain, validated data that round-trips through JSON.

Everything a stage needs to know about a scene lives here, so a scene built in one
process can be simulated and rendered in another. Components (objects,
materials, lights, camera, background) are frozen dataclasses validated at
construction; `Scene` holds them in lists and re-validates the whole with
`Scene.validate()` (called by `add`, `to_json` and every stage).

Errors are `SceneError`s whose message names the field and the value.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import InitVar, dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import SceneError
from kubric_gen.labels import RESERVED_INSTANCE_KEYS

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
Color = tuple[float, float, float]

MOTION_TYPES = ("dynamic", "static", "kinematic")
# PyBullet clamps faster bodies to these speeds: a scene asking for more would be simulated
# with other velocities than it records, so it is refused
MAX_SPEED = 100.0  # m/s
MAX_ANGULAR_SPEED = 100.0  # rad/s
COLLISION_SHAPES = ("convex_hull", "vhacd", "mesh")


# ---------------------------------------------------------------- validation helpers
def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _vector(owner: str, name: str, value: Any, size: int) -> tuple[float, ...]:
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


def _number(owner: str, name: str, value: Any, lo: float | None = None, hi: float | None = None,
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


def _int(owner: str, name: str, value: Any, lo: int) -> int:
    field_name = f"{owner}.{name}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SceneError(field_name, value, "expected an integer")
    if value < lo:
        raise SceneError(field_name, value, f"must be >= {lo}")
    return int(value)


def _quaternion(owner: str, name: str, value: Any) -> Quat:
    q = _vector(owner, name, value, 4)
    norm = math.sqrt(sum(v * v for v in q))
    if norm < 1e-12:
        raise SceneError(f"{owner}.{name}", value, "quaternion must not be zero")
    if abs(norm - 1.0) > 1e-12:  # leave unit quaternions untouched so JSON round trips are exact
        q = tuple(v / norm for v in q)
    if q[0] < 0:
        q = tuple(-v for v in q)
    return q  # type: ignore[return-value]


def _choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SceneError(f"{owner}.{name}", value, f"must be one of {', '.join(choices)}")
    return value


def _json_value(owner: str, name: str, value: Any) -> Any:
    """Free-form metadata must survive JSON unchanged."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise SceneError(f"{owner}.{name}", value, "must be JSON data (no NaN/inf, objects or bytes)") from None
    return json.loads(text)


# ---------------------------------------------------------------- serialisation
_REGISTRY: dict[str, type] = {}


def _register(cls: type) -> type:
    _REGISTRY[cls.kind] = cls
    return cls


def _to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {"type": value.kind} if hasattr(value, "kind") else {}
        for f in dataclasses.fields(value):
            data[f.name] = _to_data(getattr(value, f.name))
        return data
    if isinstance(value, (tuple, list)):
        return [_to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_data(v) for k, v in value.items()}
    return value


def _from_data(data: Any, where: str, allowed: tuple[type, ...]) -> Any:
    """Build a registered component from its dict; `allowed` lists the base classes."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise SceneError(where, data, "expected an object with a 'type'")
    cls = _REGISTRY.get(data["type"])
    if cls is None or not issubclass(cls, allowed):
        names = sorted(k for k, c in _REGISTRY.items() if issubclass(c, allowed))
        raise SceneError(f"{where}.type", data["type"], f"must be one of {', '.join(names)}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known - {"type"})
    if unknown:
        raise SceneError(f"{where}.{unknown[0]}", data[unknown[0]], "unknown field")
    kwargs = {k: v for k, v in data.items() if k != "type"}
    try:
        for name, decode in getattr(cls, "_nested", {}).items():
            if kwargs.get(name) is not None:
                kwargs[name] = decode(kwargs[name], f"{where}.{name}")
        return cls(**kwargs)
    except SceneError:
        raise
    except (TypeError, ValueError, OverflowError, AttributeError, KeyError, IndexError) as e:
        raise SceneError(where, kwargs, f"malformed ({type(e).__name__}: {e})") from None


# ---------------------------------------------------------------- materials
@dataclass(frozen=True, kw_only=True)
class Material:
    kind: ClassVar[str] = "material"


@_register
@dataclass(frozen=True, kw_only=True)
class Principled(Material):
    """Blender's Principled BSDF. Colours are linear RGB in [0, 1]. `texture` (an image
    file) replaces `color` as base colour, mapped with the mesh's UV coordinates.
    `specular` scales the dielectric reflection (Blender's "Specular IOR Level"; 0.5 keeps
    the reflectance of `ior`, 0 removes it, as MOVi's floor has)."""

    kind: ClassVar[str] = "principled"
    color: Color = (0.8, 0.8, 0.8)
    metallic: float = 0.0
    roughness: float = 0.5
    ior: float = 1.45
    specular: float = 0.5
    transmission: float = 0.0
    emission: Color = (0.0, 0.0, 0.0)
    emission_strength: float = 0.0
    texture: str | None = None

    def __post_init__(self) -> None:
        o = "Principled"
        _set(self, "texture", _texture(o, self.texture))
        _set(self, "color", _unit_color(o, "color", self.color))
        _set(self, "emission", _unit_color(o, "emission", self.emission))
        for name in ("metallic", "roughness", "transmission", "specular"):
            _set(self, name, _number(o, name, getattr(self, name), 0.0, 1.0))
        _set(self, "ior", _number(o, "ior", self.ior, 1.0))
        _set(self, "emission_strength", _number(o, "emission_strength", self.emission_strength, 0.0))


@_register
@dataclass(frozen=True, kw_only=True)
class Flat(Material):
    """Unlit colour (an emission shader): the pixel shows `color * strength`, or the
    image `texture` (UV-mapped) times `strength`."""

    kind: ClassVar[str] = "flat"
    color: Color = (0.8, 0.8, 0.8)
    strength: float = 1.0
    texture: str | None = None

    def __post_init__(self) -> None:
        _set(self, "texture", _texture("Flat", self.texture))
        _set(self, "color", _unit_color("Flat", "color", self.color))
        _set(self, "strength", _number("Flat", "strength", self.strength, 0.0))


def _texture(owner: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.path.isfile(value):
        raise SceneError(f"{owner}.texture", str(value), "image file not found")
    return os.fspath(value)


def _unit_color(owner: str, name: str, value: Any) -> Color:
    c = _vector(owner, name, value, 3)
    if any(v < 0 or v > 1 for v in c):
        raise SceneError(f"{owner}.{name}", value, "colour components must be in [0, 1]")
    return c  # type: ignore[return-value]


# ---------------------------------------------------------------- poses
@dataclass(frozen=True, kw_only=True)
class Pose:
    """A position and a (w, x, y, z) orientation, e.g. one frame of a trajectory."""

    position: Vec3 = (0.0, 0.0, 0.0)
    quaternion: Quat = (1.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        _set(self, "position", _vector("Pose", "position", self.position, 3))
        _set(self, "quaternion", _quaternion("Pose", "quaternion", self.quaternion))


def _decode_poses(data: Any, where: str) -> tuple[Pose, ...]:
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


def _orientation(owner: str, obj: Any, look_at: Any, euler: Any, direction: Any = None) -> None:
    """Resolve the orientation helpers (InitVars) into `quaternion`."""
    given = [n for n, v in (("look_at", look_at), ("euler", euler), ("direction", direction)) if v is not None]
    if len(given) > 1:
        raise SceneError(f"{owner}.{given[1]}", locals()[given[1]], f"give only one of {', '.join(given)}")
    if look_at is not None:
        target = _vector(owner, "look_at", look_at, 3)
        if np.allclose(target, obj.position):
            raise SceneError(f"{owner}.look_at", look_at, "must differ from position")
        _set(obj, "quaternion", tuple(geometry.look_at_quaternion(obj.position, target)))
    elif euler is not None:
        _set(obj, "quaternion", tuple(geometry.quat_from_euler(_vector(owner, "euler", euler, 3))))
    elif direction is not None:
        d = _vector(owner, "direction", direction, 3)
        if not any(d):
            raise SceneError(f"{owner}.direction", direction, "must not be zero")
        pos = np.asarray(obj.position)
        _set(obj, "quaternion", tuple(geometry.look_at_quaternion(pos, pos + np.asarray(d))))
    _set(obj, "quaternion", _quaternion(owner, "quaternion", obj.quaternion))


# ---------------------------------------------------------------- objects
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
    _nested: ClassVar[dict] = {}
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
        if not isinstance(self.name, str) or not self.name:
            raise SceneError(f"{type(self).__name__}.name", self.name, "must be a non-empty string")
        o = f"{type(self).__name__}({self.name!r})"
        _set(self, "position", _vector(o, "position", self.position, 3))
        _orientation(o, self, look_at, euler)
        scale = _vector(o, "scale", self.scale, 3)
        if any(s <= 0 for s in scale):
            raise SceneError(f"{o}.scale", self.scale, "must be > 0")
        _set(self, "scale", scale)
        if isinstance(self.material, dict):
            _set(self, "material", _from_data(self.material, f"{o}.material", (Material,)))
        if not isinstance(self.material, Material):
            raise SceneError(f"{o}.material", self.material, "expected a material (Principled or Flat)")
        if self.mass is not None:
            _set(self, "mass", _number(o, "mass", self.mass, 0.0))
        _set(self, "density", _number(o, "density", self.density, 0.0, lo_open=True))
        _set(self, "friction", _number(o, "friction", self.friction, 0.0, 1.0))
        _set(self, "restitution", _number(o, "restitution", self.restitution, 0.0, 1.0))
        _set(self, "velocity", _vector(o, "velocity", self.velocity, 3))
        _set(self, "angular_velocity", _vector(o, "angular_velocity", self.angular_velocity, 3))
        _choice(o, "motion", self.motion, MOTION_TYPES)
        if self.keyframes is not None:
            _set(self, "keyframes", _decode_poses(self.keyframes, f"{o}.keyframes"))
        if self.motion == "kinematic" and not self.keyframes:
            raise SceneError(f"{o}.keyframes", self.keyframes, "a kinematic object needs one pose per frame")
        if self.motion != "kinematic" and self.keyframes is not None:
            raise SceneError(f"{o}.keyframes", "...", "only kinematic objects take keyframes")
        if not isinstance(self.is_background, bool):
            raise SceneError(f"{o}.is_background", self.is_background, "expected true or false")
        if self.casts_shadows is not None and not isinstance(self.casts_shadows, bool):
            raise SceneError(f"{o}.casts_shadows", self.casts_shadows, "expected true, false or null")
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
            _set(self, "asset_id", self.kind)
        if not isinstance(self.asset_id, str) or not self.asset_id:
            raise SceneError(f"{o}.asset_id", self.asset_id, "must be a non-empty string")
        _set(self, "labels", _json_value(o, "labels", dict(self.labels)))
        reserved = sorted(set(self.labels) & RESERVED_INSTANCE_KEYS)
        if reserved:
            raise SceneError(f"{o}.labels", reserved[0], "is a per-instance field that metadata.json fills itself")

    def pose_at(self, frame: int) -> Pose:
        """The keyframed pose of a kinematic object (else its initial pose)."""
        if self.keyframes:
            return self.keyframes[min(frame, len(self.keyframes) - 1)]
        return Pose(position=self.position, quaternion=self.quaternion)


SceneObject._nested = {"keyframes": _decode_poses}


@_register
@dataclass(frozen=True, kw_only=True)
class Cube(SceneObject):
    """A cube spanning [-1, 1]^3 before scaling (so `scale` is the half-extent)."""

    kind: ClassVar[str] = "cube"


@_register
@dataclass(frozen=True, kw_only=True)
class Sphere(SceneObject):
    """A sphere of radius 1 before scaling."""

    kind: ClassVar[str] = "sphere"


@_register
@dataclass(frozen=True, kw_only=True)
class Cylinder(SceneObject):
    """A cylinder of radius 1 along Z from z=-1 to z=1 before scaling."""

    kind: ClassVar[str] = "cylinder"


@_register
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
        _choice(o, "collision", self.collision, COLLISION_SHAPES)
        if self.collision == "mesh" and self.motion != "static":
            raise SceneError(f"{o}.collision", self.collision, "exact mesh collision needs motion='static'")
        if not isinstance(self.path, (str, os.PathLike)) or not os.path.isfile(self.path):
            raise SceneError(f"{o}.path", str(self.path), "mesh file not found")
        _set(self, "path", os.fspath(self.path))
        if self.collision_path is not None:
            if not isinstance(self.collision_path, (str, os.PathLike)) or not os.path.isfile(self.collision_path):
                raise SceneError(f"{o}.collision_path", str(self.collision_path), "collision mesh file not found")
            _set(self, "collision_path", os.fspath(self.collision_path))
        if self.asset_id == "mesh":
            _set(self, "asset_id", os.path.splitext(os.path.basename(self.path))[0])


# ---------------------------------------------------------------- lights
@dataclass(frozen=True, kw_only=True)
class Light:
    """Lights point down their local -Z (as in Blender). Colours are linear RGB."""

    kind: ClassVar[str] = "light"
    name: str
    position: Vec3 = (0.0, 0.0, 0.0)
    quaternion: Quat = (1.0, 0.0, 0.0, 0.0)
    color: Color = (1.0, 1.0, 1.0)
    look_at: InitVar[Vec3 | None] = None
    direction: InitVar[Vec3 | None] = None

    def __post_init__(self, look_at: Vec3 | None, direction: Vec3 | None) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SceneError(f"{type(self).__name__}.name", self.name, "must be a non-empty string")
        o = f"{type(self).__name__}({self.name!r})"
        _set(self, "position", _vector(o, "position", self.position, 3))
        _orientation(o, self, look_at, None, direction)
        _set(self, "color", _unit_color(o, "color", self.color))
        for f in dataclasses.fields(self):
            if f.name in ("strength", "power", "radius", "size"):
                _set(self, f.name, _number(o, f.name, getattr(self, f.name), 0.0))
            elif f.name in ("angle", "spot_size"):  # Blender clamps these to [0, pi]
                _set(self, f.name, _number(o, f.name, getattr(self, f.name), 0.0, math.pi))
            elif f.name == "blend":
                _set(self, f.name, _number(o, f.name, getattr(self, f.name), 0.0, 1.0))


@_register
@dataclass(frozen=True, kw_only=True)
class SunLight(Light):
    """Parallel light; `strength` is irradiance in W/m^2, `angle` its angular diameter."""

    kind: ClassVar[str] = "sun"
    name: str = "sun"
    strength: float = 3.0
    angle: float = 0.00918


@_register
@dataclass(frozen=True, kw_only=True)
class PointLight(Light):
    kind: ClassVar[str] = "point"
    name: str = "point"
    power: float = 1000.0
    radius: float = 0.1


@_register
@dataclass(frozen=True, kw_only=True)
class AreaLight(Light):
    """A square area light of side `size` metres."""

    kind: ClassVar[str] = "area"
    name: str = "area"
    power: float = 1000.0
    size: float = 1.0


@_register
@dataclass(frozen=True, kw_only=True)
class SpotLight(Light):
    """`spot_size` is the cone's full angle in radians, `blend` its soft edge in [0, 1]."""

    kind: ClassVar[str] = "spot"
    name: str = "spot"
    power: float = 1000.0
    radius: float = 0.1
    spot_size: float = math.pi / 4
    blend: float = 0.15


# ---------------------------------------------------------------- camera
@_register
@dataclass(frozen=True, kw_only=True)
class PerspectiveCamera:
    """A pinhole camera in Blender's model; `path` optionally gives one pose per frame."""

    kind: ClassVar[str] = "perspective"
    _nested: ClassVar[dict] = {"path": _decode_poses}
    name: str = "camera"
    focal_length: float = 35.0
    sensor_width: float = 32.0
    position: Vec3 = (0.0, -10.0, 5.0)
    quaternion: Quat = (1.0, 0.0, 0.0, 0.0)
    path: tuple[Pose, ...] | None = None
    look_at: InitVar[Vec3 | None] = None

    def __post_init__(self, look_at: Vec3 | None) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SceneError("PerspectiveCamera.name", self.name, "must be a non-empty string")
        o = f"PerspectiveCamera({self.name!r})"
        _set(self, "focal_length", _number(o, "focal_length", self.focal_length, 0.0, lo_open=True))
        _set(self, "sensor_width", _number(o, "sensor_width", self.sensor_width, 0.0, lo_open=True))
        _set(self, "position", _vector(o, "position", self.position, 3))
        _orientation(o, self, look_at, None)
        if self.path is not None:
            _set(self, "path", _decode_poses(self.path, f"{o}.path"))

    def pose_at(self, frame: int) -> Pose:
        if self.path:
            return self.path[min(frame, len(self.path) - 1)]
        return Pose(position=self.position, quaternion=self.quaternion)

    @property
    def field_of_view(self) -> float:
        return geometry.field_of_view(self.focal_length, self.sensor_width)


# ---------------------------------------------------------------- backgrounds
@dataclass(frozen=True, kw_only=True)
class Background:
    """What lights the scene from afar. `visible_to_camera` False: camera rays that hit
    nothing see black while every other ray still sees the background (Kubric's MOVi
    worlds light with an ambient colour or HDRI the camera never shows)."""

    kind: ClassVar[str] = "background"
    visible_to_camera: bool = True

    def _check_visible(self) -> None:
        if not isinstance(self.visible_to_camera, bool):
            raise SceneError(f"{type(self).__name__}.visible_to_camera", self.visible_to_camera,
                             "expected true or false")


@_register
@dataclass(frozen=True, kw_only=True)
class ColorBackground(Background):
    """A uniform world colour, which also lights the scene with `strength`."""

    kind: ClassVar[str] = "color"
    color: Color = (0.05, 0.05, 0.05)
    strength: float = 1.0

    def __post_init__(self) -> None:
        _set(self, "color", _unit_color("ColorBackground", "color", self.color))
        _set(self, "strength", _number("ColorBackground", "strength", self.strength, 0.0))
        self._check_visible()


@_register
@dataclass(frozen=True, kw_only=True)
class SkyBackground(Background):
    """Blender's procedural (multiple-scattering) sky; angles in radians. The sky is
    physically bright: a `strength` around 0.1 looks like a daylight sky."""

    kind: ClassVar[str] = "sky"
    sun_elevation: float = math.radians(30)
    sun_rotation: float = 0.0
    strength: float = 0.1

    def __post_init__(self) -> None:
        _set(self, "sun_elevation", _number("SkyBackground", "sun_elevation", self.sun_elevation,
                                            -math.pi / 2, math.pi / 2))
        _set(self, "sun_rotation", _number("SkyBackground", "sun_rotation", self.sun_rotation))
        _set(self, "strength", _number("SkyBackground", "strength", self.strength, 0.0))
        self._check_visible()


@_register
@dataclass(frozen=True, kw_only=True)
class HdriBackground(Background):
    """An equirectangular HDR image (.hdr, .exr) as environment light and background,
    rotated by `rotation` radians about Z. Pair it with a dome object
    (`kubric_gen.assets.dome`) for a floor that exists as geometry."""

    kind: ClassVar[str] = "hdri"
    path: str
    strength: float = 1.0
    rotation: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)) or not os.path.isfile(self.path):
            raise SceneError("HdriBackground.path", str(self.path), "image file not found")
        _set(self, "path", os.fspath(self.path))
        _set(self, "strength", _number("HdriBackground", "strength", self.strength, 0.0))
        _set(self, "rotation", _number("HdriBackground", "rotation", self.rotation))
        self._check_visible()


# ---------------------------------------------------------------- scene
@dataclass(kw_only=True)
class Scene:
    """One scene: what the world script returns and every later stage reads.

    Frame i is at time i / frame_rate; frame 0 shows the initial state.
    `motion_blur` is the camera shutter in frames (0 = sharp; rendering with motion
    blur). `num_tracks` is how many point tracks the world asks for (None = the
    command's default). Dynamic objects that interpenetrate others at frame 0 by more
    than `physics.INTERPENETRATION_TOLERANCE` are an error (the engine would eject them at
    speed) unless `allow_interpenetration`.
    """

    resolution: tuple[int, int] = (256, 256)
    num_frames: int = 24
    frame_rate: int = 12
    step_rate: int = 240
    gravity: Vec3 = (0.0, 0.0, -10.0)
    background: Background = field(default_factory=ColorBackground)
    camera: PerspectiveCamera = field(default_factory=PerspectiveCamera)
    lights: list[Light] = field(default_factory=list)
    objects: list[SceneObject] = field(default_factory=list)
    motion_blur: float = 0.0
    num_tracks: int | None = None
    seed: int | None = None
    allow_interpenetration: bool = False
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # -- building
    def add(self, *items: SceneObject | Light) -> None:
        """Add objects or lights (names must be unique)."""
        for item in items:
            if isinstance(item, SceneObject):
                self.objects.append(item)
            elif isinstance(item, Light):
                self.lights.append(item)
            else:
                raise SceneError("Scene.add", item, "expected a scene object or a light")
            try:
                self.validate()
            except SceneError:
                (self.objects if isinstance(item, SceneObject) else self.lights).pop()
                raise

    def object(self, name: str) -> SceneObject:
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise SceneError("Scene.objects", name, "no object of that name")

    def replace_object(self, new: SceneObject) -> None:
        """Swap the object with the same name for `new` (objects are immutable)."""
        for i, obj in enumerate(self.objects):
            if obj.name == new.name:
                self.objects[i] = new
                return
        raise SceneError("Scene.objects", new.name, "no object of that name")

    @property
    def steps_per_frame(self) -> int:
        return self.step_rate // self.frame_rate

    # -- validation
    def validate(self) -> Scene:
        """Check the whole scene; raise SceneError naming the first bad field."""
        res = self.resolution
        if (not isinstance(res, (tuple, list)) or len(res) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in res)):
            raise SceneError("Scene.resolution", res, "expected (width, height) integers")
        if res[0] <= 0 or res[1] <= 0:
            raise SceneError("Scene.resolution", tuple(res), "width and height must be > 0")
        self.resolution = (int(res[0]), int(res[1]))
        self.num_frames = _int("Scene", "num_frames", self.num_frames, 1)
        self.frame_rate = _int("Scene", "frame_rate", self.frame_rate, 1)
        self.step_rate = _int("Scene", "step_rate", self.step_rate, 1)
        if self.step_rate % self.frame_rate:
            raise SceneError("Scene.step_rate", self.step_rate,
                             f"must be a multiple of frame_rate ({self.frame_rate})")
        self.gravity = _vector("Scene", "gravity", self.gravity, 3)  # type: ignore[assignment]
        if self.seed is not None:
            self.seed = _int("Scene", "seed", self.seed, 0)
        self.motion_blur = _number("Scene", "motion_blur", self.motion_blur, 0.0, 1.0)
        if not isinstance(self.allow_interpenetration, bool):
            raise SceneError("Scene.allow_interpenetration", self.allow_interpenetration, "expected true or false")
        if self.num_tracks is not None:
            self.num_tracks = _int("Scene", "num_tracks", self.num_tracks, 0)
        self.metadata = _json_value("Scene", "metadata", dict(self.metadata))
        if not isinstance(self.background, Background):
            raise SceneError("Scene.background", self.background,
                             "expected ColorBackground, SkyBackground or HdriBackground")
        if not isinstance(self.camera, PerspectiveCamera):
            raise SceneError("Scene.camera", self.camera, "expected a PerspectiveCamera")
        self.objects = list(self.objects)
        self.lights = list(self.lights)
        seen: set[str] = set()
        for group, items, base in (("objects", self.objects, SceneObject), ("lights", self.lights, Light)):
            for i, item in enumerate(items):
                if not isinstance(item, base):
                    raise SceneError(f"Scene.{group}[{i}]", item, f"expected a {base.__name__}")
                if item.name in seen:
                    raise SceneError(f"Scene.{group}[{i}].name", item.name, "duplicate name")
                seen.add(item.name)
        for label, poses in [(f"{o.name}.keyframes", o.keyframes) for o in self.objects] + [
                ("camera.path", self.camera.path)]:
            if poses is not None and len(poses) != self.num_frames:
                raise SceneError(f"Scene.{label}", len(poses), f"needs one pose per frame ({self.num_frames})")
        return self

    # -- JSON
    def to_dict(self) -> dict:
        self.validate()
        return _to_data(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict) -> Scene:
        if not isinstance(data, dict):
            raise SceneError("Scene", data, "expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SceneError(f"Scene.{unknown[0]}", data[unknown[0]], "unknown field")
        kwargs = dict(data)
        if "resolution" in kwargs and isinstance(kwargs["resolution"], list):
            kwargs["resolution"] = tuple(kwargs["resolution"])
        if "background" in kwargs:
            kwargs["background"] = _from_data(kwargs["background"], "Scene.background", (Background,))
        if "camera" in kwargs:
            kwargs["camera"] = _from_data(kwargs["camera"], "Scene.camera", (PerspectiveCamera,))
        for group, base in (("objects", SceneObject), ("lights", Light)):
            items = kwargs.get(group, [])
            if not isinstance(items, list):
                raise SceneError(f"Scene.{group}", items, "expected a list")
            kwargs[group] = [_from_data(o, f"Scene.{group}[{i}]", (base,)) for i, o in enumerate(items)]
        try:
            return cls(**kwargs)
        except SceneError:
            raise
        except (TypeError, ValueError, OverflowError, AttributeError, KeyError, IndexError) as e:
            raise SceneError("Scene", "...", f"malformed ({type(e).__name__}: {e})") from None

    @classmethod
    def from_json(cls, text: str) -> Scene:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SceneError("Scene", text[:40], f"not valid JSON: {e}") from None
        return cls.from_dict(data)
