"""Exact ray casting against the posed triangle meshes of a scene at one frame.

Embree (through embreex and trimesh) finds the first triangle along each ray in
float32; the hit is then recomputed in float64 against that triangle
(Moller-Trumbore), so distances and surface points are exact to rounding. The
triangles are those of `kubric_gen.meshes`, i.e. the ones Blender renders.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import trimesh
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh

from kubric_gen import geometry

SMOOTH_ANGLE = np.radians(30.0)  # as the renderer: edges sharper than this stay sharp


@dataclass
class Hits:
    """First hits of n rays: object index (-1 = none), local triangle, barycentrics
    (u, v) of vertices 1 and 2, distance along the (unit) ray (inf = none)."""

    object: np.ndarray
    triangle: np.ndarray
    bary: np.ndarray
    distance: np.ndarray


class PosedScene:
    """All objects' triangles at given poses, in world space, with an Embree BVH."""

    def __init__(self, local_meshes: list[trimesh.Trimesh], positions: np.ndarray, quaternions: np.ndarray,
                 scales: np.ndarray) -> None:
        vertices, faces, owner, first_face = [], [], [], []
        n_vertices = n_faces = 0
        for i, mesh in enumerate(local_meshes):
            vertices.append(geometry.transform_points(mesh.vertices, positions[i], quaternions[i], scales[i]))
            faces.append(np.asarray(mesh.faces) + n_vertices)
            owner.append(np.full(len(mesh.faces), i, dtype=np.int32))
            first_face.append(n_faces)
            n_vertices += len(mesh.vertices)
            n_faces += len(mesh.faces)
        self.first_face = np.asarray(first_face, dtype=np.int64)
        self.embree = None
        if n_faces == 0:
            return
        self.owner = np.concatenate(owner)
        world, faces = np.concatenate(vertices), np.concatenate(faces)
        tri = world[faces]  # (F, 3, 3) float64
        self.a = tri[:, 0]
        self.e1 = tri[:, 1] - tri[:, 0]
        self.e2 = tri[:, 2] - tri[:, 0]
        self.centre = world.mean(axis=0)  # Embree works in float32: keep coordinates near its origin
        self.embree = rtcore_scene.EmbreeScene()
        TriangleMesh(scene=self.embree, vertices=(world - self.centre).astype(np.float32),
                     indices=faces.astype(np.int32))

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> Hits:
        """First hit of each ray (origins and unit directions, (n, 3))."""
        n = len(origins)
        hits = Hits(np.full(n, -1, np.int32), np.zeros(n, np.int64), np.zeros((n, 2)), np.full(n, np.inf))
        if self.embree is None or n == 0:
            return hits
        result = self.embree.run((origins - self.centre).astype(np.float32), directions.astype(np.float32),
                                 output=1)
        ray = np.flatnonzero(result["primID"] >= 0)
        tri = result["primID"][ray].astype(np.int64)
        t, u, v = _moller_trumbore(origins[ray], directions[ray], self.a[tri], self.e1[tri], self.e2[tri])
        keep = np.isfinite(t) & (t > 0)
        ray, tri = ray[keep], tri[keep]
        hits.object[ray] = self.owner[tri]
        hits.triangle[ray] = tri - self.first_face[self.owner[tri]]
        hits.bary[ray, 0] = u[keep]
        hits.bary[ray, 1] = v[keep]
        hits.distance[ray] = t[keep]
        return hits

    def visible(self, camera_position: np.ndarray, points: np.ndarray, tolerance: tuple[float, float]) -> np.ndarray:
        """Whether each world point is the first surface seen from the camera.

        A point counts as hidden when a surface lies more than
        `tolerance[0] * d + tolerance[1]` metres in front of it (d its distance).
        """
        delta = points - camera_position
        dist = np.sqrt(np.einsum("ij,ij->i", delta, delta))
        ok = dist > 0
        directions = np.zeros_like(delta)
        directions[ok] = delta[ok] / dist[ok, None]
        hits = self.cast(np.broadcast_to(camera_position, points.shape), directions)
        return ok & (hits.distance >= dist - (tolerance[0] * dist + tolerance[1]))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], -1)


def _moller_trumbore(origins: np.ndarray, directions: np.ndarray, a: np.ndarray, e1: np.ndarray, e2: np.ndarray):
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


def _corner_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(face_n, axis=1, keepdims=True)
    face_n = np.divide(face_n, norm, out=np.zeros_like(face_n), where=norm > 0)
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
    same_fan = np.einsum("ij,ij->i", face_n[fa], face_n[fb]) >= np.cos(SMOOTH_ANGLE) - 1e-12
    weights = angles.reshape(-1)[pair_b] * same_fan
    out = np.zeros((len(corner_vertex), 3))
    np.add.at(out, pair_a, weights[:, None] * face_n[fb])
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    flat = face_n[corner_face]
    out = np.where(norm > 1e-12, out / np.maximum(norm, 1e-300), flat)
    return out.reshape(-1, 3, 3)
