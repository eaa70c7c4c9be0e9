"""The meshes shipped in the `pybullet_data` package as a ready asset library.

Named objects (duck, bunny, teddy, soccer ball, jenga block, lego brick, torus, mug,
toys, ...) and the 1000 procedurally made objects of `random_urdfs/NNN/NNN.obj`. URDF
files are read as data only (XML with the standard library) for the mesh file, its
scale, the collision mesh, the mass and the friction. Each mesh is normalised like
KuBasic (centre of mass at the origin, fits in [-1, 1]^3) into
`cache_dir()/assets/pybullet_data-<pybullet version>/`, once; its default scale
restores the size it has in pybullet_data. Collision meshes are the URDF's own
decomposition where it names one (duck, lego, mug), else made on first use.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from kubric_gen.assets import meshfile
from kubric_gen.assets.convert import convert_mesh
from kubric_gen.assets.manifest import AssetEntry, Manifest
from kubric_gen.errors import AssetError

log = logging.getLogger(__name__)

LICENCE = "zlib (pybullet_data, Bullet Physics SDK)"
# id, mesh file, URDF (or None), category, euler (degrees) making the model upright (z up), licence note
NAMED = (
    ("duck", "duck.obj", "duck_vhacd.urdf", "duck", (90, 0, 0),
     "the COLLADA sample duck (SCEA Shared Source License 1.0) as shipped in pybullet_data"),
    ("bunny", "bunny.obj", None, "bunny", (90, 0, 0), "the Stanford bunny (Stanford 3D Scanning Repository)"),
    ("teddy", "teddy2_VHACD_CHs.obj", "teddy_vhacd.urdf", "teddy", (90, 0, 0), None),
    ("soccerball", "soccerball.obj", "soccerball.urdf", "ball", (0, 0, 0), None),
    ("sphere", "sphere_smooth.obj", None, "ball", (0, 0, 0), None),
    ("textured_sphere", "textured_sphere_smooth.obj", None, "ball", (0, 0, 0), None),
    ("jenga", "jenga/jenga.obj", "jenga/jenga.urdf", "block", (0, 0, 0), None),
    ("lego", "lego/lego.obj", "lego/lego.urdf", "brick", (90, 0, 0), None),
    ("torus", "torus/torus_textured.obj", None, "torus", (90, 0, 0), None),
    ("mug", "objects/mug.obj", "objects/mug.urdf", "mug", (0, 0, 0), None),
    ("cube", "cube.obj", "cube.urdf", "cube", (0, 0, 0), None),
    ("concave_box", "toys/concave_box.obj", "toys/concave_box.urdf", "toy", (0, 0, 0), None),
    ("shape_sorter", "toys/shape_sorter.obj", None, "toy", (0, 0, 0), None),
    ("toy_prism", "toys/prism.obj", None, "toy", (0, 0, 0), None),
    ("toy_cylinder", "toys/cylinder.obj", None, "toy", (0, 0, 0), None),
)
MANIFEST_VERSION = 2  # bump to rebuild the cached library


def data_path() -> Path:
    """The pybullet_data package's folder, found without importing anything."""
    import importlib.util

    spec = importlib.util.find_spec("pybullet_data")
    if spec is None or not spec.submodule_search_locations:
        raise AssetError("the pybullet_data package is not installed (it comes with pybullet)")
    return Path(list(spec.submodule_search_locations)[0])


def library_dir() -> Path:
    from importlib.metadata import PackageNotFoundError, version

    from kubric_gen.assets.remote import assets_cache

    try:
        v = version("pybullet")
    except PackageNotFoundError:  # pragma: no cover
        v = "unknown"
    return assets_cache() / f"pybullet_data-{v}-{MANIFEST_VERSION}"


def read_urdf(path: Path) -> dict:
    """Mesh files, scales, mass and friction of a URDF's first link (data only; no includes, no code)."""
    try:
        root = ET.fromstring(path.read_bytes())
    except (ET.ParseError, OSError) as e:
        raise AssetError(f"{path}: cannot read URDF ({e})") from None
    link = root.find("link")
    if link is None:
        raise AssetError(f"{path}: URDF without a link")
    info: dict = {}
    for role in ("visual", "collision"):
        mesh = link.find(f"{role}/geometry/mesh")
        if mesh is not None and mesh.get("filename"):
            info[role] = mesh.get("filename")
            scale = [float(s) for s in mesh.get("scale", "1 1 1").split()]
            info[f"{role}_scale"] = scale if len(scale) == 3 else [scale[0]] * 3
    mass = link.find("inertial/mass")
    if mass is not None and float(mass.get("value", "0")) > 0:
        info["mass"] = float(mass.get("value"))
    friction = link.find("contact/lateral_friction")
    if friction is not None:
        info["friction"] = min(1.0, max(0.0, float(friction.get("value", "0.5"))))
    return info


def _specs(data: Path, random_objects: int | None = None) -> list[dict]:
    specs = []
    for asset_id, mesh, urdf, category, euler, note in NAMED:
        if (data / mesh).is_file():
            specs.append({"id": asset_id, "mesh": mesh, "urdf": urdf if urdf and (data / urdf).is_file() else None,
                          "category": category, "euler": euler, "licence": note})
    folders = sorted((data / "random_urdfs").glob("[0-9][0-9][0-9]"))
    for folder in folders[:random_objects]:
        urdf = folder / f"{folder.name}.urdf"
        if (folder / f"{folder.name}.obj").is_file():
            specs.append({"id": f"random_{folder.name}", "mesh": f"random_urdfs/{folder.name}/{folder.name}.obj",
                          "urdf": f"random_urdfs/{folder.name}/{folder.name}.urdf" if urdf.is_file() else None,
                          "category": "random", "euler": (0, 0, 0), "licence": None})
    return specs


def _entry(spec: dict, data: Path, out: Path) -> AssetEntry:
    import math

    info = read_urdf(data / spec["urdf"]) if spec["urdf"] else {}
    mesh_dir = (data / spec["urdf"]).parent if spec["urdf"] else data
    scale = info.get("visual_scale", [1.0, 1.0, 1.0])
    collision_source = "parts" if spec["category"] == "random" else None  # unions of convex pieces
    if info.get("collision") and info["collision"] != info.get("visual"):
        candidate = mesh_dir / info["collision"]
        if candidate.is_file() and info.get("collision_scale", scale) == scale:
            collision_source = candidate
    physics = {k: info[k] for k in ("mass", "friction") if k in info}
    euler = [math.radians(a) for a in spec["euler"]]
    return convert_mesh(
        data / spec["mesh"], out, spec["id"], collision="lazy", scale=scale, euler=euler,
        collision_source=collision_source, measure=False, category=spec["category"], physics=physics,
        licence=spec["licence"],
        source={"generator": "pybullet_data", "file": spec["mesh"], "urdf": spec["urdf"], "euler": list(spec["euler"])},
        metadata={"pybullet_data_file": spec["mesh"]})


def build(random_objects: int | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Normalise the pybullet_data meshes into the cache once; return the manifest path.

    `random_objects` limits how many of the 1000 random objects are included (all: None).
    """
    out = library_dir()
    manifest_path = out / ("manifest.json" if random_objects is None else f"manifest-random{random_objects}.json")
    if manifest_path.is_file():
        return manifest_path
    data = data_path()
    specs = _specs(data, random_objects)
    entries = []
    for i, spec in enumerate(specs):
        try:
            entries.append(_entry(spec, data, out))
        except AssetError as e:  # a broken file in the package: list it as unavailable
            log.warning("pybullet_data: %s", e)
            entries.append(AssetEntry(id=spec["id"], kind="object", category=spec["category"], available=False,
                                      reason=str(e)))
        if progress is not None:
            progress(i + 1, len(specs))
    manifest = Manifest(name="pybullet_data", assets=tuple(entries), licence=LICENCE,
                        description=f"meshes of the pybullet_data package ({data}), normalised")
    meshfile._atomic_write(manifest_path, manifest.to_json().encode())
    return manifest_path


def regenerate(entry: AssetEntry, root: Path) -> None:
    """Re-make one entry's files (e.g. after part of the cache was deleted)."""
    data = data_path()
    source = entry.source
    spec = {"id": entry.id, "mesh": source["file"], "urdf": source.get("urdf"), "category": entry.category,
            "euler": source.get("euler", (0, 0, 0)), "licence": entry.licence}
    _entry(spec, data, Path(root))

