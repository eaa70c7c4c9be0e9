"""Backgrounds: a dome (hemisphere plus a flat floor) textured with an equirectangular HDRI.

The dome's UV coordinates are those of Blender's equirectangular environment mapping
(u = 0.5 - atan2(d_y, d_x) / 2pi, v = 1 - acos(d_z / |d|) / pi) of the direction d from a
virtual camera at height `camera_height` above the floor's centre to each vertex: seen
from there the dome shows the HDRI as the environment, and its floor shows the HDRI's
lower half projected onto the ground, as if the panorama had been shot from that height.
The floor is real geometry at z = 0 (objects rest on it; it is in the ground truth).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import trimesh

from kubric_gen.assets import meshfile
from kubric_gen.errors import AssetError

DEFAULT_RADIUS = 40.0
DEFAULT_CAMERA_HEIGHT = 1.7  # metres: a typical tripod height for HDRI panoramas
HDRI_SUFFIXES = (".hdr", ".exr")


def equirect_uv(directions: np.ndarray) -> np.ndarray:
    """Blender's equirectangular (u, v) of directions (N, 3); v = 1 at the zenith."""
    d = np.asarray(directions, dtype=np.float64)
    length = np.linalg.norm(d, axis=1)
    u = 0.5 - np.arctan2(d[:, 1], d[:, 0]) / (2 * np.pi)
    v = 1.0 - np.arccos(np.clip(d[:, 2] / np.maximum(length, 1e-300), -1, 1)) / np.pi
    return np.stack([u, v], axis=1)


def dome_trimesh(radius: float = DEFAULT_RADIUS, camera_height: float = DEFAULT_CAMERA_HEIGHT,
                 segments: int = 128, rings: int = 32, floor_rings: int = 24) -> trimesh.Trimesh:
    """The dome as a trimesh with UVs (faces wound to face the inside)."""
    if not radius > 0:
        raise AssetError(f"dome radius: must be > 0 (got {radius!r})")
    if not 0 < camera_height < radius:
        raise AssetError(f"dome camera_height: must be in (0, radius={radius:g}) (got {camera_height!r})")
    columns = np.arange(segments + 1) / segments  # u of each column (the first and last coincide in space)
    phi = np.pi * (1.0 - 2.0 * columns)  # atan2 of the column's direction, so u matches the column
    rows = []  # (positions (S+1, 3)) from the zenith down to the rim, then in to the floor's centre
    for i in range(rings, -1, -1):
        e = 0.5 * np.pi * i / rings
        rows.append(np.stack([radius * math.cos(e) * np.cos(phi), radius * math.cos(e) * np.sin(phi),
                              np.full_like(phi, radius * math.sin(e))], -1))
    for k in range(1, floor_rings + 1):
        r = radius * (1.0 - k / floor_rings)
        rows.append(np.stack([r * np.cos(phi), r * np.sin(phi), np.zeros_like(phi)], -1))
    positions = np.concatenate(rows)
    positions[np.abs(positions) < 1e-9 * radius] = 0.0
    uv = equirect_uv(positions - np.array([0.0, 0.0, camera_height]))
    uv[:, 0] = np.tile(columns, len(rows))  # exact seam and pole columns
    n = segments + 1
    faces = []
    for row in range(len(rows) - 1):
        a, b = row * n, (row + 1) * n
        for j in range(segments):
            quad = (a + j, a + j + 1, b + j + 1, b + j)  # upper row then lower row
            if row == 0:  # zenith: upper row is one point
                faces.append((quad[0], quad[2], quad[3]))
            elif row == len(rows) - 2:  # floor centre: lower row is one point
                faces.append((quad[0], quad[1], quad[2]))
            else:
                faces += [(quad[0], quad[1], quad[2]), (quad[0], quad[2], quad[3])]
    faces = np.asarray(faces)
    mesh = trimesh.Trimesh(positions, faces, process=False,
                           visual=trimesh.visual.TextureVisuals(uv=uv))
    centre = np.array([0.0, 0.0, radius / 3])
    if np.mean(np.sum(mesh.face_normals * (centre - mesh.triangles_center), axis=1)) < 0:
        mesh.invert()  # face the inside
    return mesh


def dome_mesh(radius: float = DEFAULT_RADIUS, camera_height: float = DEFAULT_CAMERA_HEIGHT, segments: int = 128,
              rings: int = 32, floor_rings: int = 24, directory: str | os.PathLike | None = None) -> str:
    """Write (once, into the cache) the dome OBJ with UVs and return its path.

    A hemisphere of `radius` over a flat circular floor at z = 0, UV-mapped so that an
    equirectangular HDRI used as its texture appears as the environment (see the module doc).
    """
    if directory is None:
        from kubric_gen.assets.remote import assets_cache

        directory = assets_cache() / "domes"
    name = f"dome-r{radius:g}-h{camera_height:g}-{segments}x{rings}x{floor_rings}.obj"
    path = Path(directory) / name
    if not path.exists():
        mesh = dome_trimesh(radius, camera_height, segments, rings, floor_rings)
        text = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_color=False,
                                               include_texture=True)
        if isinstance(text, tuple):  # pragma: no cover - trimesh version differences
            text = text[0]
        text = "\n".join(line for line in text.splitlines() if not line.startswith(("mtllib", "usemtl")))
        meshfile._atomic_write(path, (text + "\n").encode())
    return str(path)


def make_dome(hdri_path: str | os.PathLike, radius: float = DEFAULT_RADIUS, *, name: str = "dome",
              camera_height: float = DEFAULT_CAMERA_HEIGHT, asset_id: str = "dome", **kwargs):
    """A static background MeshObject: the dome textured with the HDRI (Principled, roughness 1).

    Its floor at z = 0 collides (exact triangles) and is in the ground truth
    (`is_background=True`: segmentation 0). `kwargs` go to MeshObject (position, labels, ...).
    """
    from kubric_gen.scene import MeshObject, Principled

    hdri_path = os.fspath(hdri_path)
    if not os.path.isfile(hdri_path):
        raise AssetError(f"{hdri_path}: HDRI image not found")
    for key in ("motion", "collision", "path", "is_background"):
        if key in kwargs:
            raise AssetError(f"make_dome: {key!r} is fixed for a dome (got {kwargs[key]!r})")
    material = kwargs.pop("material", None) or Principled(texture=hdri_path, roughness=1.0)
    return MeshObject(name=name, path=dome_mesh(radius, camera_height), motion="static", collision="mesh",
                      is_background=True, material=material, asset_id=asset_id, **kwargs)
