"""kubric_gen: synthetic video datasets with exact ground truth.

Importing this package never imports bpy, pybullet, trimesh, apache_beam or tensorflow;
each is imported lazily by the one stage that needs it (the physics helpers below when first
used), so every `kubric-gen` command starts quickly.
"""

from typing import TYPE_CHECKING

from kubric_gen.errors import AssetError, ConfigError, KubricGenError, PlacementError, SceneError, WorldError
from kubric_gen.lazy import lazy_exports
from kubric_gen.randomness import (
    choice,
    make_rng,
    point_in_box,
    point_in_half_sphere_shell,
    random_hue_color,
    random_rotation,
    random_z_rotation,
)
from kubric_gen.scene import (
    AreaLight,
    ArticulatedObject,
    ColorBackground,
    Cube,
    Cylinder,
    DeformableObject,
    Flat,
    HdriBackground,
    MeshObject,
    PerspectiveCamera,
    PointLight,
    Pose,
    Principled,
    Scene,
    SceneObject,
    SkyBackground,
    Sphere,
    SpotLight,
    SunLight,
    handheld,
    hemisphere,
    orbit,
    ring,
    stereo_rig,
    through_waypoints,
)
from kubric_gen.simulation.trajectory import Collision, Trajectory

if TYPE_CHECKING:
    from kubric_gen.simulation.physics import place_without_overlap, settle, simulate

__getattr__ = lazy_exports(__name__, {name: "kubric_gen.simulation.physics"
                                      for name in ("place_without_overlap", "settle", "simulate")})

__version__ = "0.3.0"

__all__ = [
    "AreaLight", "ArticulatedObject", "AssetError", "Collision", "ColorBackground", "ConfigError", "Cube",
    "Cylinder", "DeformableObject", "Flat",
    "HdriBackground", "KubricGenError", "MeshObject", "PerspectiveCamera", "PlacementError", "PointLight", "Pose",
    "Principled",
    "Scene", "SceneError", "SceneObject", "SkyBackground", "Sphere", "SpotLight", "SunLight", "Trajectory",
    "WorldError", "__version__", "choice", "make_rng", "place_without_overlap", "point_in_box",
    "point_in_half_sphere_shell", "random_hue_color", "random_rotation", "random_z_rotation", "ring", "settle",
    "simulate", "handheld", "hemisphere", "orbit", "stereo_rig", "through_waypoints",
]

