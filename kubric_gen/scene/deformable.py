"""Deformable objects: cloth (an open surface) and soft bodies (a closed one) whose vertices move."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import SceneError
from kubric_gen.scene.fields import Vec3, assign, boolean, choice, integer, nonempty_string, number
from kubric_gen.scene.objects import SceneObject
from kubric_gen.scene.serialize import register

if TYPE_CHECKING:
    import trimesh

DEFORMABLE_SHAPES = ("sheet", "sphere")
"""Generated rest shapes: a square sheet of side 2 in the z = 0 plane (with UVs), an icosphere of radius 1."""
BODY_TYPES = ("cloth", "soft")
MAX_SPHERE_SUBDIVISIONS = 4


@register
@dataclass(frozen=True, kw_only=True)
class DeformableObject(SceneObject):
    """A mesh whose vertices move on their own: `body` "cloth" (any surface) or "soft" (a closed,
    manifold surface: a soft toy), simulated by PyBullet as a mass-spring network on the very
    vertices and triangles that are rendered.

    Rest shape: the mesh file `path` (vertices that share a position are joined, so UV seams do not
    tear it), else `shape` "sheet" (`subdivisions` quads per side) or "sphere" (an icosphere of
    `subdivisions` levels), in the object's frame, scaled by `scale` and placed by the pose.
    Physics: total `mass` (kg) spread over the vertices, spring `stiffness` (N/m), `bending_stiffness`,
    `damping`, `friction`, `self_collision`, `collision_margin` (m). `pinned` vertices stay where they
    start; `attached` ((vertex, object name), ...) vertices move with a rigid object.
    `motion`: "dynamic" (simulated, starting at `velocity`), "static" (the rest shape, still) or
    "kinematic": the rest shape moved by `keyframes` (one pose per frame) and, with
    `vertex_keyframes`, deformed into one vertex array per frame (object frame, unscaled): a
    scripted deformation. Scripted (static, kinematic) deformables are not in the physics world.
    Its position in metadata.json is its vertices' mean, its quaternion stays the initial one.
    """

    kind: ClassVar[str] = "deformable"
    body: Literal["cloth", "soft"] = "cloth"
    shape: Literal["sheet", "sphere"] = "sheet"
    subdivisions: int = 16
    path: str | None = None
    mass: float | None = 0.1
    stiffness: float = 40.0
    bending_stiffness: float = 1.0
    damping: float = 0.1
    self_collision: bool = False
    collision_margin: float = 0.005
    pinned: tuple[int, ...] = ()
    attached: tuple[tuple[int, str], ...] = ()
    vertex_keyframes: tuple | None = None

    def __post_init__(self, look_at: Vec3 | None, euler: Vec3 | None) -> None:
        super().__post_init__(look_at, euler)
        o = f"DeformableObject({self.name!r})"
        choice(o, "body", self.body, BODY_TYPES)
        choice(o, "shape", self.shape, DEFORMABLE_SHAPES)
        if self.path is not None:
            if not isinstance(self.path, (str, os.PathLike)) or not os.path.isfile(self.path):
                raise SceneError(f"{o}.path", str(self.path), "mesh file not found")
            assign(self, "path", os.fspath(self.path))
        top = MAX_SPHERE_SUBDIVISIONS if self.shape == "sphere" and self.path is None else 256
        assign(self, "subdivisions", integer(o, "subdivisions", self.subdivisions, 1))
        if self.subdivisions > top:
            raise SceneError(f"{o}.subdivisions", self.subdivisions, f"must be <= {top} for shape {self.shape!r}")
        mass = None if self.mass is None else number(o, "mass", self.mass)
        if mass is None or mass <= 0:
            pins = " (pinned or not)" if self.pinned or self.attached else ""
            raise SceneError(f"{o}.mass", self.mass, f"a deformable body needs a mass > 0{pins}: it is spread "
                                                     f"over its vertices")
        assign(self, "mass", mass)
        for name in ("stiffness", "bending_stiffness", "damping"):
            assign(self, name, number(o, name, getattr(self, name), 0.0))
        assign(self, "collision_margin", number(o, "collision_margin", self.collision_margin, 0.0))
        assign(self, "self_collision", boolean(o, "self_collision", self.self_collision))
        if any(self.angular_velocity):
            raise SceneError(f"{o}.angular_velocity", self.angular_velocity,
                             "a deformable body starts without spin (give it a velocity)")
        mesh = self.rest_mesh()
        count = len(mesh.vertices)
        if self.body == "soft" and not (mesh.is_watertight and mesh.is_winding_consistent):
            raise SceneError(f"{o}.body", self.body, f"a soft body needs a closed, manifold surface; "
                                                     f"{self.path or self.shape!r} is not (use body='cloth')")
        if not isinstance(self.pinned, (list, tuple)):
            raise SceneError(f"{o}.pinned", self.pinned, "expected a list of vertex indices")
        assign(self, "pinned", tuple(_vertex(o, f"pinned[{k}]", v, count) for k, v in enumerate(self.pinned)))
        if not isinstance(self.attached, (list, tuple)):
            raise SceneError(f"{o}.attached", self.attached, "expected a list of (vertex, object name) pairs")
        attached = []
        for k, pair in enumerate(self.attached):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise SceneError(f"{o}.attached[{k}]", pair, "expected (vertex index, object name)")
            attached.append((_vertex(o, f"attached[{k}]", pair[0], count),
                             nonempty_string(o, f"attached[{k}]", pair[1])))
        assign(self, "attached", tuple(attached))
        if (self.pinned or self.attached) and any(self.velocity):
            raise SceneError(f"{o}.velocity", self.velocity, "a pinned or attached deformable starts at rest "
                                                             "(its anchored vertices would keep that velocity)")
        if self.vertex_keyframes is not None:
            if self.motion != "kinematic":
                raise SceneError(f"{o}.vertex_keyframes", "...", "only kinematic deformables take vertex_keyframes")
            try:
                array = np.asarray(self.vertex_keyframes, dtype=np.float64)
            except (TypeError, ValueError):
                raise SceneError(f"{o}.vertex_keyframes", "...", "expected one (V, 3) vertex array per frame") from None
            if array.ndim != 3 or array.shape[1:] != (count, 3):
                raise SceneError(f"{o}.vertex_keyframes", f"shape {array.shape}",
                                 f"expected (frames, {count}, 3): one position per vertex per frame")
            if not np.isfinite(array).all():
                raise SceneError(f"{o}.vertex_keyframes", "...", "must be finite")
            assign(self, "vertex_keyframes", tuple(tuple(map(tuple, frame)) for frame in array.tolist()))

    def rest_mesh(self) -> trimesh.Trimesh:
        """The rest shape's triangles in the object's frame, unscaled (cached; do not modify)."""
        if self.path is not None:
            stat = os.stat(self.path)
            return _file_mesh(os.path.abspath(self.path), stat.st_mtime_ns, stat.st_size)
        return _shape_mesh(self.shape, self.subdivisions)

    def rest_uv(self) -> np.ndarray | None:
        """Per-vertex texture coordinates of the rest mesh: the sheet's (u, v) in [0, 1]; else None."""
        if self.path is None and self.shape == "sheet":
            return _sheet_uv(self.subdivisions)
        return None

    def series(self) -> dict[str, tuple]:
        """Per-frame series, for the scene's frame-count check."""
        return {"vertex_keyframes": self.vertex_keyframes} if self.vertex_keyframes is not None else {}

    def posed_vertices(self, frame: int) -> np.ndarray:
        """World vertices (V, 3) at frame 0..T-1 of the rest shape (or that frame's vertex keyframe)
        at the frame's pose: a scripted deformable's vertices, a simulated one's start (frame 0)."""
        local = self.rest_mesh().vertices if self.vertex_keyframes is None else \
            np.asarray(self.vertex_keyframes[min(frame, len(self.vertex_keyframes) - 1)], dtype=np.float64)
        pose = self.pose_at(frame)
        return geometry.transform_points(local, pose.position, pose.quaternion, self.scale)


def _vertex(o: str, name: str, value: object, count: int) -> int:
    v = integer(o, name, value, 0)
    if v >= count:
        raise SceneError(f"{o}.{name}", value, f"no such vertex (the mesh has {count})")
    return v


@functools.lru_cache(maxsize=16)
def _file_mesh(path: str, mtime_ns: int, size: int) -> trimesh.Trimesh:
    import trimesh

    from kubric_gen import mesh_files

    try:
        loaded = mesh_files.read(path, mtime_ns, size)
    except mesh_files.MeshFileError as e:
        raise SceneError("DeformableObject.path", path, str(e)) from None
    mesh = trimesh.Trimesh(loaded.vertices, loaded.faces, process=True)  # UV seams joined: one vertex per point
    return _frozen(mesh)


@functools.lru_cache(maxsize=16)
def _shape_mesh(shape: str, subdivisions: int) -> trimesh.Trimesh:
    import trimesh

    if shape == "sphere":
        return _frozen(trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0))
    n = subdivisions + 1
    u = np.linspace(-1.0, 1.0, n)
    x, y = np.meshgrid(u, u)  # row r (y), column c (x): vertex r * n + c
    vertices = np.stack([x.ravel(), y.ravel(), np.zeros(n * n)], axis=1)
    r, c = np.meshgrid(np.arange(subdivisions), np.arange(subdivisions), indexing="ij")
    a = (r * n + c).ravel()
    faces = np.concatenate([np.stack([a, a + 1, a + n + 1], 1), np.stack([a, a + n + 1, a + n], 1)])
    return _frozen(trimesh.Trimesh(vertices, faces, process=False))


@functools.lru_cache(maxsize=16)
def _sheet_uv(subdivisions: int) -> np.ndarray:
    vertices = _shape_mesh("sheet", subdivisions).vertices
    uv = (vertices[:, :2] + 1.0) / 2.0
    uv.flags.writeable = False
    return uv


def _frozen(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    mesh.vertices.flags.writeable = False
    mesh.faces.flags.writeable = False
    return mesh


def check_attachments(objects: list[SceneObject]) -> None:
    """Each `attached` vertex names a rigid object of the scene."""
    by_name = {o.name: o for o in objects}
    for obj in objects:
        for k, (_, name) in enumerate(getattr(obj, "attached", ())):
            other = by_name.get(name)
            if other is None or isinstance(other, DeformableObject) or other.kind == "articulated":
                raise SceneError(f"DeformableObject({obj.name!r}).attached[{k}]", name,
                                 "no rigid object of that name in the scene")
