"""Meshes built into Blender, exported as plain arrays (bpy lives under kubric_gen/render only)."""

from __future__ import annotations

import numpy as np


def suzanne() -> tuple[np.ndarray, np.ndarray]:
    """Blender's Suzanne (as `primitive_monkey_add` makes it: z up, facing -y), triangulated.

    Built in a free-standing BMesh: Blender's scene is not touched. Returns float64
    (V, 3) vertices and int64 (F, 3) faces.
    """
    import importlib

    import bpy  # noqa: F401  (initialises Blender; only then is bmesh importable)

    bmesh = importlib.import_module("bmesh")

    bm = bmesh.new()
    try:
        bmesh.ops.create_monkey(bm)
        bmesh.ops.triangulate(bm, faces=bm.faces[:])
        bm.verts.index_update()
        vertices = np.array([v.co[:] for v in bm.verts], dtype=np.float64)
        faces = np.array([[v.index for v in f.verts] for f in bm.faces], dtype=np.int64)
    finally:
        bm.free()
    return vertices, faces
