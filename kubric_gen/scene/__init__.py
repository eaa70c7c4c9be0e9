"""The scene description: plain, validated data that round-trips through JSON.

Everything a stage needs to know about a scene lives here, so a scene built in one
process can be simulated and rendered in another. Components (objects,
materials, lights, camera, background) are frozen dataclasses validated at
construction; `Scene` holds them in lists and re-validates the whole with
`Scene.validate()` (called by `add`/`+=`, `update`, `to_json` and every stage).
`scene.update(name, **changes)` swaps an object for a changed, validated copy.
`scene.cameras` holds several cameras of one simulation (rigs: `stereo_rig`, `ring`, `hemisphere`);
a camera moves along a `path` of poses (`orbit`, `through_waypoints`, `Pose(look_at=...)`).

Errors are `SceneError`s whose message names the field and the value.
"""

from kubric_gen.scene.articulated import ArticulatedObject
from kubric_gen.scene.backgrounds import Background, ColorBackground, HdriBackground, SkyBackground
from kubric_gen.scene.camera import PerspectiveCamera
from kubric_gen.scene.container import Scene
from kubric_gen.scene.deformable import DeformableObject
from kubric_gen.scene.fields import Color, Quat, Vec3
from kubric_gen.scene.lights import AreaLight, Light, PointLight, SpotLight, SunLight
from kubric_gen.scene.materials import Flat, Material, Principled
from kubric_gen.scene.objects import (
    COLLISION_SHAPES,
    MAX_ANGULAR_SPEED,
    MAX_SPEED,
    MOTION_TYPES,
    Cube,
    Cylinder,
    MeshObject,
    SceneObject,
    Sphere,
)
from kubric_gen.scene.paths import handheld, orbit, through_waypoints
from kubric_gen.scene.poses import Pose
from kubric_gen.scene.rigs import hemisphere, ring, stereo_rig

__all__ = [
    "COLLISION_SHAPES", "MAX_ANGULAR_SPEED", "MAX_SPEED", "MOTION_TYPES", "AreaLight", "ArticulatedObject",
    "Background", "Color", "ColorBackground", "Cube", "Cylinder", "DeformableObject", "Flat", "HdriBackground",
    "Light", "Material", "MeshObject",
    "PerspectiveCamera", "PointLight", "Pose", "Principled", "Quat", "Scene", "SceneObject", "SkyBackground",
    "Sphere", "SpotLight", "SunLight", "Vec3", "handheld", "hemisphere", "orbit", "ring", "stereo_rig",
    "through_waypoints",
]
