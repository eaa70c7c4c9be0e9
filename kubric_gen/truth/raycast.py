"""Exact ray casting against the triangle meshes of a scene, posed at any frame.

Each object's triangles get one Embree BVH (through embreex), built once per scene in the
object's own frame; a frame's poses move the rays into each object's frame instead of moving
the triangles into the world (an affine map keeps the ray parameter, so distances stay world
distances). A deforming mesh gets one BVH per frame instead, of its triangles at that frame in
the world (`SceneBVH.deformed`). Only rays that pass an object's bounding sphere are cast against it. Embree finds
the first triangle in float32; the hit is then recomputed in float64 against that triangle
(Moller-Trumbore, in the object's frame), so distances and surface points are exact to
rounding. The triangles are those of `kubric_gen.meshes`, i.e. the ones Blender renders.

Embree releases the GIL while it traces, and the BVHs are read-only after construction, so
several threads may cast against one `SceneBVH` at once (one frame per thread).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field

import numpy as np
import trimesh
from embreex import rtcore, rtcore_scene
from embreex.mesh_construction import TriangleMesh

from kubric_gen import geometry

SMOOTH_ANGLE = np.radians(30.0)  # as the renderer: edges sharper than this stay sharp
NO_HIT = -1


@functools.lru_cache(maxsize=1)
def _device() -> rtcore.EmbreeDevice:
    """One Embree device per process (each one starts its own thread pool)."""
    return rtcore.EmbreeDevice()


@dataclass
class Hits:
    """First hits of n rays: object index (-1 = none), face (index into `SceneBVH`'s
    concatenated faces), barycentrics (u, v) of vertices 1 and 2, the distance along the
    (unit) ray (inf = none) and the hit point in the object's frame (0 = none)."""

    object: np.ndarray
    face: np.ndarray
    bary: np.ndarray
    distance: np.ndarray
    local: np.ndarray
    each: dict[int, np.ndarray] = field(default_factory=dict)  # object -> the rays that hit it, any in front or not


@dataclass
class Poses:
    """Every object's pose at one frame: world = rotation @ (scale * local) + position."""

    rotation: np.ndarray  # (N, 3, 3)
    position: np.ndarray  # (N, 3)
    scale: np.ndarray  # (N, 3)

    @classmethod
    def of(cls, positions: np.ndarray, quaternions: np.ndarray, scales: np.ndarray) -> Poses:
        return cls(geometry.quat_to_matrix(np.asarray(quaternions, dtype=np.float64).reshape(-1, 4)),
                   np.asarray(positions, dtype=np.float64).reshape(-1, 3), scales)

    def to_world(self, objects: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Local points (n, 3) of `objects` (n,) in world space."""
        return _apply(self.rotation[objects], local * self.scale[objects]) + self.position[objects]


def _apply(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """matrices[i] @ vectors[i] for (n, 3, 3) and (n, 3)."""
    return np.einsum("nij,nj->ni", matrices, vectors)


class SceneBVH:
    """Every object's triangles in its own frame, with one Embree BVH per object."""

    def __init__(self, local_meshes: list[trimesh.Trimesh]) -> None:
        self.count = len(local_meshes)
        self.first_face = np.zeros(self.count, dtype=np.int64)
        self.centre = np.zeros((self.count, 3))  # of each object's bounding sphere, local frame
        self.radius = np.zeros(self.count)
        self.scenes: list[rtcore_scene.EmbreeScene | None] = []
        tris, corners = [], []
        n_faces = 0
        for i, mesh in enumerate(local_meshes):
            vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
            faces = np.ascontiguousarray(mesh.faces, dtype=np.int64)
            self.first_face[i] = n_faces
            n_faces += len(faces)
            if len(faces) == 0:
                self.scenes.append(None)
                continue
            bvh, self.centre[i], self.radius[i] = _embree_scene(vertices, faces)
            self.scenes.append(bvh)
            tris.append(vertices[faces])
            corners.append(corner_normals(mesh))
        tri = np.concatenate(tris) if tris else np.zeros((0, 3, 3))
        self.a, self.e1, self.e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        self.corner_normals = np.concatenate(corners) if corners else np.zeros((0, 3, 3))

    def deformed(self, rest: dict[int, trimesh.Trimesh], vertices: dict[int, np.ndarray]) -> SceneBVH:
        """A copy whose objects `i` have their rest mesh's triangles at `vertices[i]` (V, 3) instead
        (a deforming mesh at one frame); the others' BVHs are shared. Shading normals are smoothed
        across the edges the rest shape smooths across, as the renderer's sharp edges are the rest's."""
        out = copy.copy(self)
        out.scenes, out.centre, out.radius = list(self.scenes), self.centre.copy(), self.radius.copy()
        out.a, out.e1, out.e2, out.corner_normals = self.a.copy(), self.e1.copy(), self.e2.copy(), \
            self.corner_normals.copy()
        for i, points in vertices.items():
            points = np.ascontiguousarray(points, dtype=np.float64)
            faces = np.ascontiguousarray(rest[i].faces, dtype=np.int64)
            if len(faces) == 0:
                continue
            out.scenes[i], out.centre[i], out.radius[i] = _embree_scene(points, faces)
            tri = points[faces]
            span = slice(self.first_face[i], self.first_face[i] + len(faces))
            out.a[span], out.e1[span], out.e2[span] = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
            rest_vertices = np.ascontiguousarray(rest[i].vertices, dtype=np.float64)
            out.corner_normals[span] = _corner_normals(points, faces, fans_of=rest_vertices)
        return out

    def _candidates(self, poses: Poses, origins: np.ndarray, directions: np.ndarray,
                    far: np.ndarray | None = None) -> np.ndarray:
        """(N, n) whether ray r may hit object i: it passes the object's bounding sphere in
        front of its origin (and, with `far`, before distance far[r])."""
        centres = _apply(poses.rotation, poses.scale * self.centre) + poses.position
        radii = (self.radius * np.abs(poses.scale).max(axis=1) * (1 + 1e-6) + 1e-9)[:, None]
        if origins.ndim == 1:  # one origin for every ray
            to_centre = centres - origins  # (N, 3)
            along = to_centre @ directions.T  # (N, n)
            across = np.einsum("ij,ij->i", to_centre, to_centre)[:, None]
        else:
            to_centre = centres[:, None, :] - origins[None, :, :]  # (N, n, 3)
            along = np.einsum("inj,nj->in", to_centre, directions)
            across = np.einsum("inj,inj->in", to_centre, to_centre)
        keep = np.square(along) >= across - radii * radii  # the line passes within the radius
        keep &= along >= -radii  # and the sphere is not wholly behind the origin
        if far is not None:
            keep &= along - radii <= far[None, :]
        keep[[bvh is None for bvh in self.scenes]] = False
        return keep

    def _local_rays(self, poses: Poses, i: int, origins: np.ndarray, directions: np.ndarray,
                    rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rays in object i's frame (float64, (len(rays), 3) each)."""
        rotation, scale = poses.rotation[i], poses.scale[i]
        o = origins if origins.ndim == 1 else origins[rays]
        local_d = (directions[rays] @ rotation) / scale
        local_o = np.broadcast_to(((o - poses.position[i]) @ rotation) / scale, local_d.shape)
        return local_o, local_d

    def _embree_rays(self, i: int, local_o: np.ndarray, local_d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local rays as Embree takes them: float32, origins relative to the sphere's centre."""
        return (np.ascontiguousarray(local_o - self.centre[i], dtype=np.float32),
                np.ascontiguousarray(local_d, dtype=np.float32))

    def cast(self, poses: Poses, origins: np.ndarray, directions: np.ndarray) -> Hits:
        """First hit of each ray: origins (n, 3) or one shared origin (3,), unit directions (n, 3)."""
        n = len(directions)
        best = np.full(n, np.inf, dtype=np.float32)
        obj = np.full(n, NO_HIT, dtype=np.int32)
        face = np.zeros(n, dtype=np.int64)
        shared = origins.ndim == 1
        ray_o = np.zeros((self.count, 3) if shared else (n, 3))  # the rays in the frame of the object they hit
        ray_d = np.zeros((n, 3))
        candidates = self._candidates(poses, origins, directions)
        each: dict[int, np.ndarray] = {}
        for i in range(self.count):
            rays = np.flatnonzero(candidates[i])
            if len(rays) == 0:
                continue
            local_o, local_d = self._local_rays(poses, i, origins, directions, rays)
            bvh = self.scenes[i]
            assert bvh is not None  # _candidates leaves out objects without triangles
            result = bvh.run(*self._embree_rays(i, local_o, local_d), output=1)
            each[i] = rays[result["primID"] >= 0]  # the object's amodal hits: every object but it ignored
            hit = (result["primID"] >= 0) & (result["tfar"] < best[rays])
            won = rays[hit]
            best[won] = result["tfar"][hit]
            obj[won] = i
            face[won] = self.first_face[i] + result["primID"][hit]
            ray_d[won] = local_d[hit]
            if shared:
                ray_o[i] = local_o[0]
            else:
                ray_o[won] = local_o[hit]
        hits = Hits(np.full(n, NO_HIT, np.int32), np.zeros(n, np.int64), np.zeros((n, 2)), np.full(n, np.inf),
                    np.zeros((n, 3)), each)
        ray = np.flatnonzero(obj >= 0)
        if len(ray) == 0:
            return hits
        faces = face[ray]
        a, e1, e2 = self.a[faces], self.e1[faces], self.e2[faces]
        t, u, v = _moller_trumbore(ray_o[obj[ray]] if shared else ray_o[ray], ray_d[ray], a, e1, e2)
        keep = np.isfinite(t) & (t > 0)
        hit = ray[keep]
        hits.object[hit] = obj[hit]
        hits.face[hit] = faces[keep]
        u, v = u[keep, None], v[keep, None]
        hits.bary[hit] = np.concatenate([u, v], axis=1)
        hits.distance[hit] = t[keep]
        hits.local[hit] = a[keep] + u * e1[keep] + v * e2[keep]
        return hits

    def hits_object(self, i: int, poses: Poses, origin: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Whether each ray from `origin` (3,) along unit `directions` (n, 3) hits object i, every
        other object ignored (the same Embree query as `cast`'s, so the same answer per ray)."""
        out = np.zeros(len(directions), dtype=bool)
        bvh = self.scenes[i]
        rays = np.flatnonzero(self._candidates(poses, origin, directions)[i])
        if len(rays) and bvh is not None:
            local_o, local_d = self._local_rays(poses, i, origin, directions, rays)
            result = bvh.run(*self._embree_rays(i, local_o, local_d), output=1)
            out[rays[result["primID"] >= 0]] = True
        return out

    def visible(self, poses: Poses, camera_position: np.ndarray, points: np.ndarray,
                tolerance: tuple[float, float]) -> np.ndarray:
        """Whether each world point (n, 3) is the first surface seen from the camera.

        A point counts as hidden when a surface lies more than
        `tolerance[0] * d + tolerance[1]` metres in front of it (d its distance): an Embree
        occlusion query up to there (float32 is ~1e-7 d, far inside the tolerance).
        """
        delta = points - camera_position
        dist = np.sqrt(np.einsum("ij,ij->i", delta, delta))
        ok = dist > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            directions = np.where(ok[:, None], delta / dist[:, None], 0.0)
        far = dist - (tolerance[0] * dist + tolerance[1])
        hidden = ~ok | (far < 0)
        candidates = self._candidates(poses, camera_position, directions, far)
        directions32, far32 = directions.astype(np.float32), far.astype(np.float32)  # a yes/no answer: float32 will do
        for i in range(self.count):
            rays = np.flatnonzero(candidates[i] & ~hidden)
            if len(rays) == 0:
                continue
            rotation, scale = poses.rotation[i], poses.scale[i]
            local_o = ((camera_position - poses.position[i]) @ rotation) / scale - self.centre[i]
            local_d = directions32[rays] @ (rotation / scale).astype(np.float32)
            local_o = np.ascontiguousarray(np.broadcast_to(local_o.astype(np.float32), local_d.shape))
            bvh = self.scenes[i]
            assert bvh is not None  # _candidates leaves out objects without triangles
            result = bvh.run(local_o, local_d, dists=far32[rays], query="OCCLUDED")
            hidden[rays[result != NO_HIT]] = True
        return ~hidden

    def shading_normals(self, hits: Hits) -> np.ndarray:
        """Local (unscaled) shading normals of the hit rays (0 where nothing is hit)."""
        normals = np.zeros((len(hits.object), 3))
        ray = np.flatnonzero(hits.object >= 0)
        corner = self.corner_normals[hits.face[ray]]
        u, v = hits.bary[ray, 0:1], hits.bary[ray, 1:2]
        normals[ray] = (1 - u - v) * corner[:, 0] + u * corner[:, 1] + v * corner[:, 2]
        return normals


def _embree_scene(vertices: np.ndarray, faces: np.ndarray) -> tuple[rtcore_scene.EmbreeScene, np.ndarray, float]:
    """One mesh's Embree BVH (float32, relative to its bounding sphere's centre), built now (before
    threads share it), with that centre and radius."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    centre = (lo + hi) / 2
    radius = float(np.sqrt(((vertices - centre) ** 2).sum(axis=1).max()))
    bvh = rtcore_scene.EmbreeScene(_device())
    TriangleMesh(scene=bvh, vertices=(vertices - centre).astype(np.float32), indices=faces.astype(np.int32))
    bvh.run(np.zeros((1, 3), np.float32), np.ones((1, 3), np.float32))
    return bvh, centre, radius


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], -1)


def _moller_trumbore(origins: np.ndarray, directions: np.ndarray, a: np.ndarray, e1: np.ndarray,
                     e2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray/triangle-plane intersection in float64: distance and barycentrics (u, v)."""
    p = _cross(directions, e2)
    det = np.einsum("ij,ij->i", e1, p)
    s = origins - a
    q = _cross(s, e1)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        u = np.einsum("ij,ij->i", s, p) * inv
        v = np.einsum("ij,ij->i", directions, q) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
    return t, u, v


@functools.lru_cache(maxsize=128)
def _corner_normals_cached(vertices_bytes: bytes, faces_bytes: bytes, n_vertices: int) -> np.ndarray:
    vertices = np.frombuffer(vertices_bytes, dtype=np.float64).reshape(n_vertices, 3)
    faces = np.frombuffer(faces_bytes, dtype=np.int64).reshape(-1, 3)
    return _corner_normals(vertices, faces)


def corner_normals(mesh: trimesh.Trimesh) -> np.ndarray:
    """Smooth shading normals per face corner (F, 3, 3), local frame.

    As Blender shades a smooth mesh whose edges sharper than 30 degrees are marked
    sharp: each corner averages (weighted by corner angle) the normals of the faces
    around its vertex whose normal is within 30 degrees of its own face's.
    """
    v = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
    f = np.ascontiguousarray(mesh.faces, dtype=np.int64)
    return _corner_normals_cached(v.tobytes(), f.tobytes(), len(v))


def _face_normals(tri: np.ndarray) -> np.ndarray:
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(face_n, axis=1, keepdims=True)
    return np.divide(face_n, norm, out=np.zeros_like(face_n), where=norm > 0)


def _corner_normals(vertices: np.ndarray, faces: np.ndarray, fans_of: np.ndarray | None = None) -> np.ndarray:
    """Corner normals; which faces around a vertex are smoothed together is decided on the
    vertices `fans_of` when given (a deformed mesh keeps its rest shape's sharp edges)."""
    tri = vertices[faces]
    face_n = _face_normals(tri)
    fan_n = face_n if fans_of is None else _face_normals(fans_of[faces])
    angles = np.zeros((len(faces), 3))
    for k in range(3):
        e1 = tri[:, (k + 1) % 3] - tri[:, k]
        e2 = tri[:, (k + 2) % 3] - tri[:, k]
        cos = np.einsum("ij,ij->i", e1, e2) / np.maximum(np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1),
                                                         1e-300)
        angles[:, k] = np.arccos(np.clip(cos, -1, 1))
    corner_vertex = faces.reshape(-1)
    corner_face = np.repeat(np.arange(len(faces)), 3)
    order = np.argsort(corner_vertex, kind="stable")
    sorted_vertex = corner_vertex[order]
    starts = np.flatnonzero(np.r_[True, sorted_vertex[1:] != sorted_vertex[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    # all ordered pairs (corner, other corner) at the same vertex
    group = np.repeat(np.arange(len(starts)), counts)
    pair_a = np.repeat(order, counts[group])
    within = np.arange(len(pair_a)) - np.repeat(np.cumsum(counts[group]) - counts[group], counts[group])
    pair_b = order[np.repeat(starts[group], counts[group]) + within]
    fa, fb = corner_face[pair_a], corner_face[pair_b]
    same_fan = np.einsum("ij,ij->i", fan_n[fa], fan_n[fb]) >= np.cos(SMOOTH_ANGLE) - 1e-12
    weights = angles.reshape(-1)[pair_b] * same_fan
    out = np.zeros((len(corner_vertex), 3))
    np.add.at(out, pair_a, weights[:, None] * face_n[fb])
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    flat = face_n[corner_face]
    out = np.where(norm > 1e-12, out / np.maximum(norm, 1e-300), flat)
    return out.reshape(-1, 3, 3)
