"""Parts: the posed triangle meshes that rendering and the ground truth draw.

Every scene object is one or more parts, each a fixed triangle mesh in its own frame that moves
with a pose per frame: a rigid object is one part posed as the object; an articulated object is
one part per link that has geometry, posed as the link's URDF frame. Rendering and the ray caster
both iterate the parts, so they draw the same triangles at the same poses, and report the
object (instance) a part belongs to and the part's `link` id (the part layer).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import trimesh

from kubric_gen import meshes
from kubric_gen.errors import ConfigError
from kubric_gen.scene import ArticulatedObject, DeformableObject, Material, Principled, Scene
from kubric_gen.simulation.trajectory import Trajectory

RIGID = 0
"""The `link` id of a rigid object's one part (links are numbered from 1 in the URDF's order)."""


@dataclass(frozen=True, eq=False)
class Part:
    """One posed mesh: of scene object `object` (index), link `link` (RIGID, or 1 + the link's
    index in its URDF), its triangles in its own frame (`mesh`, scaled by `scale` at render and
    ray-cast time), its material, and a key equal for parts that share a mesh. A part that
    `deforms` has the same triangles with other vertex positions in every frame."""

    object: int
    link: int
    name: str
    mesh: trimesh.Trimesh
    scale: tuple[float, float, float]
    material: Material
    key: str
    uv: np.ndarray | None = None
    deforms: bool = False


def scene_parts(scene: Scene) -> list[Part]:
    """Every object's parts, in scene order (each object's links in URDF order)."""
    parts = []
    for i, obj in enumerate(scene.objects):
        if not isinstance(obj, ArticulatedObject):
            deforms = isinstance(obj, DeformableObject)
            parts.append(Part(i, RIGID, obj.name, meshes.object_mesh(obj), (1.0, 1.0, 1.0) if deforms else obj.scale,
                              obj.material, meshes.mesh_key(obj), meshes.object_uv(obj), deforms))
            continue
        links = obj.robot.links
        colors = meshes.link_colors(obj) if obj.urdf_colors else {}
        digest = hashlib.sha1(f"{obj.path}:{obj.scale[0]!r}".encode()).hexdigest()[:12]
        for link, mesh in meshes.link_meshes(obj).items():
            material = Principled(color=colors[link], roughness=0.5) if obj.urdf_colors else obj.material
            parts.append(Part(i, 1 + links.index(link), f"{obj.name}/{link}", mesh, (1.0, 1.0, 1.0), material,
                              f"link:{digest}:{link}"))
    return parts


def has_links(scene: Scene) -> bool:
    """Whether any object of the scene is articulated (its parts are links)."""
    return any(isinstance(o, ArticulatedObject) for o in scene.objects)


def part_poses(scene: Scene, trajectory: Trajectory, parts: list[Part], frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Every part's position (P, 3) and quaternion (P, 4) at frame -1..T."""
    positions, quaternions = trajectory.poses_at(frame)
    out_p, out_q = np.zeros((len(parts), 3)), np.zeros((len(parts), 4))
    links: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k, part in enumerate(parts):
        if part.deforms:  # its vertices are in the world already
            out_q[k] = (1.0, 0.0, 0.0, 0.0)
            continue
        if part.link == RIGID:
            out_p[k], out_q[k] = positions[part.object], quaternions[part.object]
            continue
        if part.object not in links:
            name = scene.objects[part.object].name
            if name not in trajectory.links:
                raise ConfigError(f"trajectory.links: no link poses of articulated object {name!r} "
                                  f"(simulate the scene: physics.simulate records them)")
            links[part.object] = trajectory.links[name].poses_at(frame)
        out_p[k], out_q[k] = links[part.object][0][part.link - 1], links[part.object][1][part.link - 1]
    return out_p, out_q


def has_deformables(scene: Scene) -> bool:
    """Whether any object of the scene deforms."""
    return any(isinstance(o, DeformableObject) for o in scene.objects)


def part_vertices(scene: Scene, trajectory: Trajectory, parts: list[Part], frame: int) -> dict[int, np.ndarray]:
    """The world vertices (V, 3) at frame -1..T of each part that deforms (by part index)."""
    out = {}
    for k, part in enumerate(parts):
        if part.deforms:
            name = scene.objects[part.object].name
            if name not in trajectory.deformations:
                raise ConfigError(f"trajectory.deformations: no vertices of deformable object {name!r} "
                                  f"(simulate the scene: physics.simulate records them)")
            out[k] = trajectory.deformations[name].vertices_at(frame)
    return out


def part_objects(parts: list[Part]) -> np.ndarray:
    """The scene index of each part's object (P,)."""
    return np.array([p.object for p in parts], dtype=np.int64)


def part_links(parts: list[Part]) -> np.ndarray:
    """Each part's link id (P,): RIGID or 1 + the link's URDF index."""
    return np.array([p.link for p in parts], dtype=np.int64)
