"""Loading, normalising and writing asset meshes.

Normalised meshes follow Kubric's KuBasic convention: the centre of mass is at the
origin and the mesh fits in [-1, 1]^3, touching it (its largest coordinate magnitude is
1). The centre of mass is computed the way `kubric_gen.simulation.physics` computes it (from the
mesh if it is watertight, else from its convex hull), so a normalised mesh reloaded by
`kubric_gen.meshes` has its centre of mass at its origin.

Textured meshes are written as OBJ + MTL with the texture image beside them, which
trimesh reloads with its UV coordinates.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from kubric_gen.errors import AssetError

log = logging.getLogger(__name__)

MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".ply", ".stl", ".off", ".dae")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_mesh(path: str | os.PathLike) -> trimesh.Trimesh:
    """A mesh file as one triangle mesh (scenes are concatenated); AssetError naming the file otherwise."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AssetError(f"{path}: mesh file not found")
    try:
        logging.getLogger("trimesh").disabled = True  # it warns about every missing texture
        try:
            mesh = trimesh.load(path, force="mesh", process=False)
        finally:
            logging.getLogger("trimesh").disabled = False
    except Exception as e:  # trimesh raises many types for bad files
        raise AssetError(f"{path}: cannot read mesh ({type(e).__name__}: {e})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise AssetError(f"{path}: the file holds no triangles")
    bad = ~np.isfinite(mesh.vertices).all(axis=1)
    if bad.any():  # checked before processing, which would silently drop them
        raise AssetError(f"{path}: {int(bad.sum())} vertices are NaN or infinite (the first is vertex "
                         f"{int(np.flatnonzero(bad)[0]) + 1})")
    mesh.process()
    if float(np.ptp(mesh.vertices, axis=0).max()) <= 0:
        raise AssetError(f"{path}: the mesh is degenerate (all vertices at one point)")
    return mesh


def centre_of_mass(mesh: trimesh.Trimesh) -> np.ndarray:
    """As kubric_gen.simulation.physics computes it: the solid's if watertight, else its convex hull's."""
    if mesh.is_watertight and abs(mesh.volume) > 1e-12:
        return np.asarray(mesh.center_mass, dtype=np.float64)
    return np.asarray(mesh.convex_hull.center_mass, dtype=np.float64)


def solid_volume(mesh: trimesh.Trimesh) -> float:
    """As kubric_gen.meshes computes it: |volume| if watertight, else the convex hull's."""
    return float(abs(mesh.volume) if mesh.is_watertight else mesh.convex_hull.volume)


def normalize(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, float, np.ndarray]:
    """A copy centred at its centre of mass and scaled to fit [-1, 1]^3 (touching it).

    Returns the mesh, the size factor and the centre of mass: a point p of the input
    is at (p - centre) / factor in the output.
    """
    mesh = mesh.copy()
    if mesh.is_watertight and mesh.volume < 0:
        mesh.invert()
    centre = centre_of_mass(mesh)
    mesh.apply_translation(-centre)
    factor = float(np.abs(mesh.vertices).max())
    if not factor > 0:
        raise AssetError("mesh is degenerate (all vertices at its centre of mass)")
    mesh.apply_scale(1.0 / factor)
    return mesh, factor, centre


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def has_uv(mesh: trimesh.Trimesh) -> bool:
    uv = getattr(mesh.visual, "uv", None)
    return uv is not None and len(uv) == len(mesh.vertices)


def texture_image(mesh: trimesh.Trimesh):
    """The PIL image of a mesh's base-colour texture, if trimesh loaded one."""
    material = getattr(mesh.visual, "material", None)
    if material is None:
        return None
    image = getattr(material, "image", None)
    if image is None:
        image = getattr(material, "baseColorTexture", None)
    return image


def write_mesh(mesh: trimesh.Trimesh, path: str | os.PathLike, texture: str | os.PathLike | None = None) -> dict:
    """Write `mesh` to the OBJ file `path` (atomically).

    With UVs and a `texture` image file, also `<stem>.mtl` and the texture copied beside
    it as `<stem>_texture<ext>`. Returns the written file names by role ("visual",
    "texture").
    """
    path = Path(path)
    if path.suffix.lower() != ".obj":
        raise ValueError(f"{path}: asset meshes are written as .obj")
    written = {"visual": path.name}
    if texture is not None and has_uv(mesh):
        texture = Path(texture)
        suffix = texture.suffix.lower() if texture.suffix.lower() in IMAGE_SUFFIXES else ".png"
        texture_name = f"{path.stem}_texture{suffix}"
        mtl_name = f"{path.stem}.mtl"
        text, _files = trimesh.exchange.obj.export_obj(
            mesh, include_normals=False, include_color=False, include_texture=True, return_texture=True,
            mtl_name=mtl_name)
        usemtl = re.search(r"^usemtl (\S+)", text, flags=re.M)
        material = usemtl.group(1) if usemtl else "material_0"
        if not usemtl:
            text = text.replace(f"mtllib {mtl_name}\n", f"mtllib {mtl_name}\nusemtl {material}\n", 1)
        mtl = (f"newmtl {material}\nKa 1.0 1.0 1.0\nKd 1.0 1.0 1.0\nKs 0.0 0.0 0.0\nNs 10.0\nillum 1\n"
               f"map_Kd {texture_name}\n")
        if suffix == texture.suffix.lower():
            atomic_copy(texture, path.parent / texture_name)
        else:  # e.g. GIF, which Blender does not read: re-encode as PNG
            from PIL import Image

            with Image.open(texture) as image:
                save_image(image.convert("RGBA" if "A" in image.getbands() else "RGB"), path.parent / texture_name)
        _atomic_write(path.parent / mtl_name, mtl.encode())
        written["texture"] = texture_name
    else:
        text = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_color=False,
                                               include_texture=False)
    _atomic_write(path, text.encode())
    return written


def save_image(image, path: str | os.PathLike) -> None:
    """Save a PIL image as PNG (atomically), at bit depth 8 or 16 like every PNG we write
    (Pillow would store a 1-bit image, or a palette of up to 16 colours, at 1, 2 or 4 bits)."""
    buf = io.BytesIO()
    if image.mode == "1":
        image = image.convert("L")
    image.save(buf, format="PNG", **({"bits": 8} if image.mode == "P" else {}))
    _atomic_write(Path(path), buf.getvalue())


def write_plain_mesh(mesh: trimesh.Trimesh, path: str | os.PathLike) -> None:
    """Write geometry only (no UVs or materials), e.g. a collision mesh."""
    text = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_color=False, include_texture=False)
    _atomic_write(Path(path), text.encode())


@dataclass(frozen=True)
class MeshStats:
    """What `kubric_gen.meshes` will see when it loads a file."""

    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]
    volume: float
    watertight: bool
    vertices: int
    faces: int
    uv: bool
    centre_of_mass: tuple[float, float, float]


def mesh_stats(path: str | os.PathLike) -> MeshStats:
    mesh = load_mesh(path)
    lo, hi = mesh.bounds
    return MeshStats(bounds=(_rounded(lo), _rounded(hi)), volume=round(solid_volume(mesh), 9),
                     watertight=bool(mesh.is_watertight), vertices=len(mesh.vertices), faces=len(mesh.faces),
                     uv=has_uv(mesh), centre_of_mass=_rounded(centre_of_mass(mesh)))


def _rounded(v) -> tuple[float, float, float]:
    return tuple(round(float(x), 7) + 0.0 for x in v)  # type: ignore[return-value]


def convex_hull_file(visual: str | os.PathLike, target: str | os.PathLike) -> str:
    """Write the convex hull of a mesh file as an OBJ (the collision shape physics uses)."""
    write_plain_mesh(load_mesh(visual).convex_hull, target)
    return os.fspath(target)


def vhacd_into(visual: str | os.PathLike, target: str | os.PathLike) -> str:
    """VHACD convex decomposition of a mesh file (kubric_gen.simulation.physics' cached one), copied to `target`.

    Physics computes the same decomposition, cached by file content, when it simulates an
    object of this mesh with collision="vhacd": computing it here warms that cache.
    """
    from kubric_gen.scene import MeshObject
    from kubric_gen.simulation import physics

    source = physics.vhacd_file(MeshObject(name="vhacd", path=os.fspath(visual)))
    atomic_copy(source, target)
    return os.fspath(target)


def is_convex_enough(mesh: trimesh.Trimesh, ratio: float = 0.95) -> bool:
    """Whether the convex hull is a good collision shape: a closed surface (ignoring UV seams)
    filling >= `ratio` of its hull."""
    closed = mesh.copy()
    closed.merge_vertices(merge_tex=True, merge_norm=True)
    if not closed.is_watertight or closed.body_count != 1:
        return False
    hull = closed.convex_hull.volume
    return hull > 0 and abs(closed.volume) / hull >= ratio


def write_parts(mesh: trimesh.Trimesh, path: str | os.PathLike) -> int:
    """Write a mesh made of separate convex pieces as an OBJ with one object per piece (the
    layout of VHACD's output, which PyBullet reads as a compound of convex hulls)."""
    closed = mesh.copy()
    closed.merge_vertices(merge_tex=True, merge_norm=True)
    groups = trimesh.graph.connected_components(closed.face_adjacency, nodes=np.arange(len(closed.faces)),
                                                min_len=1, engine="scipy")
    parts = closed.submesh(groups, only_watertight=False, repair=False)
    lines, offset = [], 1
    for i, part in enumerate(parts):
        lines.append(f"o part_{i}")
        lines += [f"v {x:.8f} {y:.8f} {z:.8f}" for x, y, z in part.vertices]
        lines += [f"f {a + offset} {b + offset} {c + offset}" for a, b, c in part.faces]
        offset += len(part.vertices)
    _atomic_write(Path(path), ("\n".join(lines) + "\n").encode())
    return len(parts)
