"""The triangle meshes of scene objects, shared by physics, rendering and ground truth.

Primitives are tessellated once here and the very same triangles go to Blender and
to the ray caster, so the rendered image and the ground truth never disagree about
the geometry. Meshes are in the object's local, unscaled frame.

Texture coordinates: a mesh file with UVs (OBJ `vt`, glTF TEXCOORD_0) keeps them per
vertex (`object_uv`, V up as in OpenGL and Blender). trimesh loads such a file with one
vertex per distinct (position, UV) pair and merges only vertices whose UVs agree too (to
1e-4), so UV seams survive as separate vertices with the same position, in the ground
truth as in Blender.
"""

from __future__ import annotations

import functools
import hashlib
import os

import numpy as np
import trimesh

from kubric_gen import geometry, mesh_files
from kubric_gen.errors import AssetError
from kubric_gen.scene import ArticulatedObject, Cube, Cylinder, DeformableObject, MeshObject, SceneObject, Sphere
from kubric_gen.scene.urdf import Visual, read_urdf

SPHERE_SUBDIVISIONS = 4  # 5120 triangles: silhouette within 1.2e-4 of the radius
CYLINDER_SECTIONS = 64


@functools.cache
def _primitive(kind: str) -> trimesh.Trimesh:
    if kind == "cube":
        mesh = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    elif kind == "sphere":
        mesh = trimesh.creation.icosphere(subdivisions=SPHERE_SUBDIVISIONS, radius=1.0)
    elif kind == "cylinder":
        mesh = trimesh.creation.cylinder(radius=1.0, height=2.0, sections=CYLINDER_SECTIONS)
    else:  # pragma: no cover - guarded by the scene types
        raise ValueError(kind)
    mesh.vertices.flags.writeable = False
    mesh.faces.flags.writeable = False
    return mesh


def _load(path: str, mtime_ns: int, size: int) -> trimesh.Trimesh:
    try:
        return mesh_files.read(path, mtime_ns, size)
    except mesh_files.MeshFileError as e:
        raise AssetError(f"{path}: {e}") from None


@functools.lru_cache(maxsize=64)
def _load_uv(path: str, mtime_ns: int, size: int) -> np.ndarray | None:
    mesh = _load(path, mtime_ns, size)
    visual = mesh.visual
    uv = getattr(visual, "uv", None) if getattr(visual, "kind", None) == "texture" else None
    if uv is None:
        return None
    uv = np.array(uv, dtype=np.float64)
    if uv.shape != (len(mesh.vertices), 2) or not np.isfinite(uv).all():
        return None
    uv.flags.writeable = False
    return uv


def object_mesh(obj: SceneObject) -> trimesh.Trimesh:
    """The unscaled local triangle mesh of an object (cached; do not modify)."""
    if isinstance(obj, Cube):
        return _primitive("cube")
    if isinstance(obj, Sphere):
        return _primitive("sphere")
    if isinstance(obj, Cylinder):
        return _primitive("cylinder")
    if isinstance(obj, MeshObject):
        stat = os.stat(obj.path)
        return _load(os.path.abspath(obj.path), stat.st_mtime_ns, stat.st_size)
    if isinstance(obj, DeformableObject):
        return obj.rest_mesh()
    raise TypeError(f"no mesh for {type(obj).__name__}")


def object_uv(obj: SceneObject) -> np.ndarray | None:
    """Per-vertex texture coordinates (V, 2) aligned with `object_mesh(obj).vertices`
    (read-only), or None when the mesh has none (primitives, files without UVs)."""
    if isinstance(obj, MeshObject):
        stat = os.stat(obj.path)
        return _load_uv(os.path.abspath(obj.path), stat.st_mtime_ns, stat.st_size)
    if isinstance(obj, (Cube, Sphere, Cylinder)):
        return None
    if isinstance(obj, DeformableObject):
        return obj.rest_uv()
    raise TypeError(f"no mesh for {type(obj).__name__}")


def mesh_key(obj: SceneObject) -> str:
    """A short key that is equal for objects sharing one local mesh."""
    if isinstance(obj, MeshObject):
        return "mesh:" + hashlib.sha1(os.path.abspath(obj.path).encode()).hexdigest()[:12]
    if isinstance(obj, DeformableObject):  # its mesh data changes per frame: never shared
        return f"deformable:{obj.name}"
    return obj.kind


def local_bounds(obj: SceneObject) -> np.ndarray:
    """(2, 3) unscaled local bounds [min, max] of the object's mesh."""
    return np.array(object_mesh(obj).bounds, dtype=np.float64)


@functools.lru_cache(maxsize=64)
def _solid_properties(path: str, mtime_ns: int, size: int) -> tuple[float, tuple[float, float, float]]:
    mesh = _load(path, mtime_ns, size).copy()
    mesh.merge_vertices(merge_tex=True, merge_norm=True)  # UV seams split vertices; volume needs them joined
    solid = mesh if mesh.is_watertight else mesh.convex_hull
    return float(abs(solid.volume)), tuple(float(v) for v in solid.center_mass)


def mass_properties(obj: SceneObject) -> tuple[float, np.ndarray]:
    """Unscaled volume and centre of mass of a mesh object's solid: the mesh itself when
    it is closed (seams joined), else its convex hull. Primitives: analytic, at the origin."""
    if not isinstance(obj, MeshObject):
        return {"cube": 8.0, "sphere": 4.0 / 3.0 * np.pi, "cylinder": 2.0 * np.pi}[obj.kind], np.zeros(3)
    stat = os.stat(obj.path)
    volume, com = _solid_properties(os.path.abspath(obj.path), stat.st_mtime_ns, stat.st_size)
    return volume, np.asarray(com)


def scaled_volume(obj: SceneObject) -> float:
    """Volume of the scaled object in m^3 (analytic for primitives)."""
    sx, sy, sz = obj.scale
    return float(mass_properties(obj)[0] * sx * sy * sz)


def object_mass(obj: SceneObject) -> float:
    """Mass in kg: `obj.mass` if given, else density times scaled volume; 0 if static. An
    articulated object's: its URDF links' masses."""
    if isinstance(obj, DeformableObject):
        return float(obj.mass or 0.0)
    if obj.motion != "dynamic":
        return 0.0
    if isinstance(obj, ArticulatedObject):
        return float(sum(obj.robot.masses.values()))
    if obj.mass is not None:
        return float(obj.mass)
    return float(obj.density * scaled_volume(obj))


def _visual_mesh(visual: Visual) -> trimesh.Trimesh:
    """One URDF visual's triangles in its link's frame."""
    if visual.geometry == "mesh":
        assert visual.filename is not None  # urdf.py: a mesh visual names its file
        stat = os.stat(visual.filename)
        mesh = _load(visual.filename, stat.st_mtime_ns, stat.st_size).copy()
        mesh.apply_scale(visual.scale)
    elif visual.geometry == "box":
        mesh = trimesh.creation.box(extents=visual.size)
    elif visual.geometry == "sphere":
        mesh = _primitive("sphere").copy()
        mesh.apply_scale(visual.radius)
    elif visual.geometry == "cylinder":
        mesh = trimesh.creation.cylinder(radius=visual.radius, height=visual.length, sections=CYLINDER_SECTIONS)
    else:  # capsule: `length` between the centres of its end spheres
        mesh = trimesh.creation.capsule(height=visual.length, radius=visual.radius, count=[32, 32])
    matrix = np.eye(4)
    matrix[:3, :3] = geometry.quat_to_matrix(geometry.quat_from_euler(visual.rpy))  # URDF's rpy: Rz Ry Rx
    matrix[:3, 3] = visual.xyz
    mesh.apply_transform(matrix)
    return mesh


@functools.lru_cache(maxsize=16)
def _link_meshes(path: str, mtime_ns: int, size: int, scale: float) -> dict[str, trimesh.Trimesh]:
    robot = read_urdf(path)
    out = {}
    for link in robot.links:
        visuals = robot.visuals[link]
        if not visuals:
            continue
        mesh = trimesh.util.concatenate([_visual_mesh(v) for v in visuals])
        mesh = trimesh.Trimesh(mesh.vertices * scale, mesh.faces, process=False)
        mesh.vertices.flags.writeable = False
        mesh.faces.flags.writeable = False
        out[link] = mesh
    return out


def link_meshes(obj: ArticulatedObject) -> dict[str, trimesh.Trimesh]:
    """Every link's triangles (its visuals, or collision shapes when it has none: as PyBullet
    shows it) in the link's URDF frame, with the object's scale applied; links without any are
    left out (cached; do not modify)."""
    stat = os.stat(obj.path)
    return _link_meshes(os.path.abspath(obj.path), stat.st_mtime_ns, stat.st_size, float(obj.scale[0]))


def link_colors(obj: ArticulatedObject) -> dict[str, tuple[float, float, float]]:
    """Each link's colour: its URDF material's (the first visual that has one), else the
    mesh file's own diffuse colour, else a light grey."""
    robot = obj.robot
    out = {}
    for link in link_meshes(obj):
        rgba = next((v.rgba for v in robot.visuals[link] if v.rgba is not None), None)
        if rgba is None:
            files = [v.filename for v in robot.visuals[link] if v.filename]
            rgba = _file_color(files[0]) if files else None
        out[link] = tuple(float(min(max(c, 0.0), 1.0)) for c in (rgba or (0.7, 0.7, 0.7, 1.0))[:3])
    return out


def _file_color(path: str) -> tuple[float, ...] | None:
    stat = os.stat(path)
    material = getattr(_load(path, stat.st_mtime_ns, stat.st_size).visual, "material", None)
    diffuse = getattr(material, "diffuse", None)
    return tuple(float(c) / 255.0 for c in diffuse[:3]) if diffuse is not None else None
