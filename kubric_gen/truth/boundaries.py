"""Occlusion boundaries: the pixel edges across which the visible surface changes.

An edge between two 4-neighbours is a boundary when they see different objects (nothing
counts as one) or the same object across a depth discontinuity (a fold of the object in front
of itself). A candidate discontinuity is a pair where neither pixel's tangent plane (its surface
point and shading normal) predicts the other's depth within DEPTH_JUMP of it; the ground truth
then bisects the segment between the two pixel centres with rays (`truth.compute`): the jump is
a discontinuity when it does not shrink with the interval (a surface seen at a grazing angle, or
two faces meeting at an edge, is continuous: its jump shrinks).
Each pixel gets a byte: bit k (k = 0..3 for the neighbour to the right, below, to the left,
above) when the edge to that neighbour is a boundary and this pixel's surface is the nearer
one (the occluding side), bit k + 4 when it is the farther one (the occluded side; a pixel that
sees nothing is always farther). Equal depths (two objects touching at the edge) mark both
sides as nearer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEPTH_JUMP = 0.05  # relative
NEIGHBOURS = ((0, 1), (1, 0), (0, -1), (-1, 0))  # (d_row, d_col): right, below, left, above
FRONT, BEHIND = 0, 4  # bit offsets


def _plane_depth(points: np.ndarray, normals: np.ndarray, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Distance along unit `directions` from `origins` to the planes (points, normals); inf where parallel."""
    along = np.einsum("...i,...i->...", normals, directions)
    reach = np.einsum("...i,...i->...", normals, points - origins)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(along) > 1e-9, reach / along, np.inf)


def occlusion_boundaries(object_index: np.ndarray, depth: np.ndarray, normal: np.ndarray,
                         origins: np.ndarray, directions: np.ndarray,
                         is_jump: Callable[[np.ndarray, int, int], np.ndarray] | None = None) -> np.ndarray:
    """(T, H, W) uint8 boundary bits (module doc) from the exact layers: object_index, depth
    (T, H, W), world normals (T, H, W, 3), and each frame's camera centre (T, 3) and unit world
    ray directions through the pixel centres (T, H, W, 3). `is_jump(pixels, d_row, d_col)` decides
    which candidate pairs (pixels: (n, 3) frame, row, col; the neighbour at +d_row, +d_col) are
    discontinuities; without it every candidate is one."""
    depth = depth.astype(np.float64)
    origins = origins[:, None, None, :]
    points = origins + directions * np.where(np.isfinite(depth), depth, 0.0)[..., None]
    normal = normal.astype(np.float64)
    out = np.zeros(depth.shape, dtype=np.uint8)
    for d_row, d_col in NEIGHBOURS[:2]:  # each edge once: from a pixel to its right and lower neighbour
        k, back = NEIGHBOURS.index((d_row, d_col)), NEIGHBOURS.index((-d_row, -d_col))
        t, h, w = depth.shape
        a = (slice(None), slice(0, h - d_row), slice(0, w - d_col))  # the pixels with such a neighbour
        b = (slice(None), slice(d_row, h), slice(d_col, w))  # their neighbours
        obj_a, obj_b, depth_a, depth_b = object_index[a], object_index[b], depth[a], depth[b]
        with np.errstate(invalid="ignore"):
            off_b = np.abs(_plane_depth(points[a], normal[a], origins, directions[b]) - depth_b) > DEPTH_JUMP * depth_b
            off_a = np.abs(_plane_depth(points[b], normal[b], origins, directions[a]) - depth_a) > DEPTH_JUMP * depth_a
        fold = (obj_a >= 0) & (obj_a == obj_b) & off_a & off_b
        if is_jump is not None and fold.any():
            pixels = np.argwhere(fold)
            fold[tuple(pixels.T)] = is_jump(pixels, d_row, d_col)
        edge = (obj_a != obj_b) | fold
        out[a] |= ((edge & (depth_a <= depth_b)).astype(np.uint8) << (FRONT + k)) | \
            ((edge & (depth_a > depth_b)).astype(np.uint8) << (BEHIND + k))
        out[b] |= ((edge & (depth_b <= depth_a)).astype(np.uint8) << (FRONT + back)) | \
            ((edge & (depth_b > depth_a)).astype(np.uint8) << (BEHIND + back))
    return out
