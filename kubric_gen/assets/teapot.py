"""The Utah (Newell) teapot, tessellated from its public-domain Bezier patches.

The control points and patches are the well-known 10-patch form (GLUT's teapot.c,
which adds a bottom to Newell's original): the rim, body, lid and bottom patches cover
one quadrant and are mirrored into four; the handle and spout cover one half and are
mirrored in y. We close the ring between lid and rim and cap the ends of the spout and
handle, so each part is a closed surface (spout and handle overlap the body, as in
the original model). Z is up; the spout points along +x.
"""

from __future__ import annotations

import numpy as np
import trimesh

_PATCHES = (
    (102, 103, 104, 105, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),  # rim
    (12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27),  # body
    (24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40),
    (96, 96, 96, 96, 97, 98, 99, 100, 101, 101, 101, 101, 0, 1, 2, 3),  # lid
    (0, 1, 2, 3, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117),
    (118, 118, 118, 118, 124, 122, 119, 121, 123, 126, 125, 120, 40, 39, 38, 37),  # bottom
    (41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56),  # handle
    (53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 28, 65, 66, 67),
    (68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83),  # spout
    (80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95),
)
_QUADRANT_PATCHES = 6  # the first six are mirrored into four quadrants, the others into two halves

_POINTS = (
    (0.2, 0, 2.7), (0.2, -0.112, 2.7), (0.112, -0.2, 2.7), (0, -0.2, 2.7),
    (1.3375, 0, 2.53125), (1.3375, -0.749, 2.53125), (0.749, -1.3375, 2.53125), (0, -1.3375, 2.53125),
    (1.4375, 0, 2.53125), (1.4375, -0.805, 2.53125), (0.805, -1.4375, 2.53125), (0, -1.4375, 2.53125),
    (1.5, 0, 2.4), (1.5, -0.84, 2.4), (0.84, -1.5, 2.4), (0, -1.5, 2.4),
    (1.75, 0, 1.875), (1.75, -0.98, 1.875), (0.98, -1.75, 1.875), (0, -1.75, 1.875),
    (2, 0, 1.35), (2, -1.12, 1.35), (1.12, -2, 1.35), (0, -2, 1.35),
    (2, 0, 0.9), (2, -1.12, 0.9), (1.12, -2, 0.9), (0, -2, 0.9),
    (-2, 0, 0.9),
    (2, 0, 0.45), (2, -1.12, 0.45), (1.12, -2, 0.45), (0, -2, 0.45),
    (1.5, 0, 0.225), (1.5, -0.84, 0.225), (0.84, -1.5, 0.225), (0, -1.5, 0.225),
    (1.5, 0, 0.15), (1.5, -0.84, 0.15), (0.84, -1.5, 0.15), (0, -1.5, 0.15),
    (-1.6, 0, 2.025), (-1.6, -0.3, 2.025), (-1.5, -0.3, 2.25), (-1.5, 0, 2.25),
    (-2.3, 0, 2.025), (-2.3, -0.3, 2.025), (-2.5, -0.3, 2.25), (-2.5, 0, 2.25),
    (-2.7, 0, 2.025), (-2.7, -0.3, 2.025), (-3, -0.3, 2.25), (-3, 0, 2.25),
    (-2.7, 0, 1.8), (-2.7, -0.3, 1.8), (-3, -0.3, 1.8), (-3, 0, 1.8),
    (-2.7, 0, 1.575), (-2.7, -0.3, 1.575), (-3, -0.3, 1.35), (-3, 0, 1.35),
    (-2.5, 0, 1.125), (-2.5, -0.3, 1.125), (-2.65, -0.3, 0.9375), (-2.65, 0, 0.9375),
    (-2, -0.3, 0.9), (-1.9, -0.3, 0.6), (-1.9, 0, 0.6),
    (1.7, 0, 1.425), (1.7, -0.66, 1.425), (1.7, -0.66, 0.6), (1.7, 0, 0.6),
    (2.6, 0, 1.425), (2.6, -0.66, 1.425), (3.1, -0.66, 0.825), (3.1, 0, 0.825),
    (2.3, 0, 2.1), (2.3, -0.25, 2.1), (2.4, -0.25, 2.025), (2.4, 0, 2.025),
    (2.7, 0, 2.4), (2.7, -0.25, 2.4), (3.3, -0.25, 2.4), (3.3, 0, 2.4),
    (2.8, 0, 2.475), (2.8, -0.25, 2.475), (3.525, -0.25, 2.49375), (3.525, 0, 2.49375),
    (2.9, 0, 2.475), (2.9, -0.15, 2.475), (3.45, -0.15, 2.5125), (3.45, 0, 2.5125),
    (2.8, 0, 2.4), (2.8, -0.15, 2.4), (3.2, -0.15, 2.4), (3.2, 0, 2.4),
    (0, 0, 3.15), (0.8, 0, 3.15), (0.8, -0.45, 3.15), (0.45, -0.8, 3.15), (0, -0.8, 3.15),
    (0, 0, 2.85),
    (1.4, 0, 2.4), (1.4, -0.784, 2.4), (0.784, -1.4, 2.4), (0, -1.4, 2.4),
    (0.4, 0, 2.55), (0.4, -0.224, 2.55), (0.224, -0.4, 2.55), (0, -0.4, 2.55),
    (1.3, 0, 2.55), (1.3, -0.728, 2.55), (0.728, -1.3, 2.55), (0, -1.3, 2.55),
    (1.3, 0, 2.4), (1.3, -0.728, 2.4), (0.728, -1.3, 2.4), (0, -1.3, 2.4),
    (0, 0, 0), (1.425, -0.798, 0), (1.5, 0, 0.075), (1.425, 0, 0), (0.798, -1.425, 0),
    (0, -1.5, 0.075), (0, -1.425, 0), (1.5, -0.84, 0.075), (0.84, -1.5, 0.075),
)
_GAP_RING = (114, 115, 116, 117, 102, 103, 104, 105)  # lid edge (r=1.3) to rim start (r=1.4), at z=2.4


def _bernstein(t: np.ndarray) -> np.ndarray:
    s = 1.0 - t
    return np.stack([s ** 3, 3 * t * s ** 2, 3 * t ** 2 * s, t ** 3], axis=-1)


def _grid(control: np.ndarray, n: int) -> np.ndarray:
    """(n+1, n+1, 3) points of a bicubic patch with (4, 4, 3) control points."""
    b = _bernstein(np.linspace(0.0, 1.0, n + 1))
    return np.einsum("ui,vj,ijk->uvk", b, b, control)


def _quads(n: int, offset: int) -> np.ndarray:
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1) + offset
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    return np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])


def _patch_copies() -> list[np.ndarray]:
    pts = np.asarray(_POINTS, dtype=np.float64)
    patches = [pts[list(p)].reshape(4, 4, 3) for p in _PATCHES]
    ring = pts[list(_GAP_RING)]
    patches.insert(_QUADRANT_PATCHES, np.stack([ring[:4] + (ring[4:] - ring[:4]) * t for t in (0, 1 / 3, 2 / 3, 1)]))
    copies = []
    for i, p in enumerate(patches):
        mirrors = [(1, 1), (1, -1)] + ([(-1, 1), (-1, -1)] if i <= _QUADRANT_PATCHES else [])
        for sx, sy in mirrors:
            q = p * np.array([sx, sy, 1.0])
            copies.append(q if sx * sy > 0 else q[:, ::-1])  # keep the winding consistent
    return copies


def _cap(loop: np.ndarray, tube_faces: np.ndarray) -> trimesh.Trimesh:
    """A fan closing `loop`, wound against the tube's boundary edges so the winding stays consistent."""
    centre = loop.mean(axis=0)
    n = len(loop)
    faces = np.array([(n, i, (i + 1) % n) for i in range(n)])
    a, b = np.round(loop[0], 9), np.round(loop[1], 9)
    tri = np.round(tube_faces, 9)  # (F, 3, 3): does a tube triangle run a -> b as well?
    if np.any(np.all(tri == a, axis=2) & np.all(np.roll(tri, -1, axis=1) == b, axis=2)):
        faces = faces[:, ::-1]
    return trimesh.Trimesh(np.vstack([loop, centre]), faces, process=False)


def teapot(subdivisions: int = 12) -> trimesh.Trimesh:
    """A watertight Utah teapot (parts overlap), about 6.4 x 4 x 3.15 units, z up."""
    grids = [_grid(c, subdivisions) for c in _patch_copies()]
    vertices = np.concatenate([g.reshape(-1, 3) for g in grids])
    faces = np.concatenate([_quads(subdivisions, i * (subdivisions + 1) ** 2) for i in range(len(grids))])
    parts = [trimesh.Trimesh(vertices, faces, process=False)]
    # open ends: the handle's and the spout's two ends, each a loop of two mirrored halves
    first = 4 * (_QUADRANT_PATCHES + 1)  # the grids of the y-mirrored parts start here, 2 per patch
    for start in (first, first + 4):  # handle, spout
        for grid, row in ((start, 0), (start + 2, -1)):
            parts.append(_cap(np.vstack([grids[grid][row], grids[grid + 1][row][1:-1]]), parts[0].triangles))
    mesh = trimesh.util.concatenate(parts)
    mesh.merge_vertices(digits_vertex=6)
    mesh.update_faces(mesh.nondegenerate_faces(height=1e-9))
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    if mesh.is_watertight and mesh.volume < 0:
        mesh.invert()
    return mesh
