"""Mesh files read once: trimesh's reading of a file, cached by path, modification time and size.

The one reader below `meshes` (objects' meshes) and `scene.deformable` (a deformable's rest shape),
which may not import each other; each turns `MeshFileError` into its own kind of error.
"""

from __future__ import annotations

import functools

import trimesh


class MeshFileError(ValueError):
    """A file trimesh cannot read, or one without triangles (the message says which)."""


@functools.lru_cache(maxsize=64)
def read(path: str, mtime_ns: int, size: int) -> trimesh.Trimesh:
    """The file's triangles (processed: duplicate vertices merged where their UVs agree), read-only."""
    try:
        loaded = trimesh.load(path, force="mesh", process=True)
    except Exception as e:  # trimesh raises many types for bad files
        raise MeshFileError(f"cannot read mesh ({e})") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise MeshFileError("the file holds no triangles")
    loaded.vertices.flags.writeable = False
    loaded.faces.flags.writeable = False
    return loaded
