"""Converting meshes into a library: normalise, keep UV textures, collision meshes, manifest.

`convert_folder(src, out)` takes any folder of meshes (OBJ, GLB/GLTF, PLY, STL, OFF,
DAE), including the Google Scanned Objects layout (`<model>/meshes/model.obj` with
`<model>/materials/textures/texture.png`), and writes `out/<id>/visual.obj` (+ `.mtl`
and the texture), `out/<id>/collision.obj` and `out/manifest.json`. Re-running it skips
models whose source files (mesh, MTL, texture) are unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from kubric_gen.assets import meshfile
from kubric_gen.assets.manifest import AssetEntry, Manifest, parse_manifest_text
from kubric_gen.errors import AssetError

log = logging.getLogger(__name__)

COLLISION_MODES = ("auto", "vhacd", "convex_hull", "lazy")
CONVERTER_VERSION = 1


# ---------------------------------------------------------------- textures
def _mtl_texture_refs(obj_path: Path) -> list[tuple[Path, Path]]:
    """(MTL file, image) for each map_Kd of an OBJ's MTL files (images resolved, existing or not)."""
    try:
        text = obj_path.read_text(errors="replace")
    except OSError:
        return []
    refs = []
    for name in re.findall(r"^mtllib\s+(.+?)\s*$", text, flags=re.M):
        mtl = obj_path.parent / name
        if not mtl.is_file():
            continue
        for image in re.findall(r"^\s*map_Kd\s+(.+?)\s*$", mtl.read_text(errors="replace"), flags=re.M):
            refs.append((mtl, mtl.parent / image.split()[-1]))
    return refs


def _mtl_textures(obj_path: Path) -> list[Path]:
    """The map_Kd images named by an OBJ's MTL files (resolved, existing or not)."""
    return [image for _, image in _mtl_texture_refs(obj_path)]


def source_files(mesh_path: Path) -> list[Path]:
    """The files a mesh's conversion depends on: the mesh, its MTLs and textures (hashing input)."""
    files = [mesh_path]
    if mesh_path.suffix.lower() == ".obj":
        text = mesh_path.read_text(errors="replace")
        files += [mesh_path.parent / m for m in re.findall(r"^mtllib\s+(.+?)\s*$", text, flags=re.M)]
        files += _mtl_textures(mesh_path)
        files.append(_gso_texture(mesh_path))
    return [f for f in dict.fromkeys(files) if f.is_file()]


def _gso_texture(mesh_path: Path) -> Path:
    return mesh_path.parent.parent / "materials" / "textures" / "texture.png"


def find_texture(mesh_path: Path, mesh: trimesh.Trimesh, workdir: Path) -> Path | None:
    """The base-colour image of a UV-mapped mesh: the MTL's map_Kd file, else the GSO layout's
    materials/textures/texture.png, else the image trimesh decoded (saved as PNG in `workdir`).

    A map_Kd naming a file that does not exist is logged as a warning (one line naming the MTL
    and the file, and what the asset gets instead): the asset is still converted, untextured
    unless another texture is found, so one bad MTL does not stop a folder of meshes."""
    found = _find_texture(mesh_path, mesh, workdir)
    if mesh_path.suffix.lower() == ".obj":
        for mtl, image in dict.fromkeys(_mtl_texture_refs(mesh_path)):
            if not image.is_file():
                log.warning("%s: map_Kd names %s, which does not exist; %s", mtl, image.name,
                            f"using {found} instead" if found else "the asset is converted without a texture")
    return found


def _find_texture(mesh_path: Path, mesh: trimesh.Trimesh, workdir: Path) -> Path | None:
    if not meshfile.has_uv(mesh):
        return None
    named = _mtl_textures(mesh_path) if mesh_path.suffix.lower() == ".obj" else []
    existing = list(dict.fromkeys(p for p in named if p.is_file()))
    if len(set(named)) <= 1:
        if existing:
            return existing[0]
        if _gso_texture(mesh_path).is_file():
            return _gso_texture(mesh_path)
    image = meshfile.texture_image(mesh)  # several materials: trimesh packed them into one atlas
    if image is not None:
        target = workdir / "texture.png"
        meshfile.save_image(image, target)
        return target
    return None


# ---------------------------------------------------------------- one mesh
def _transformed(mesh: trimesh.Trimesh, scale: Sequence[float] | None, euler: Sequence[float] | None) -> None:
    if euler is not None and any(euler):
        from kubric_gen import geometry

        matrix = np.eye(4)
        matrix[:3, :3] = geometry.quat_to_matrix(geometry.quat_from_euler(euler))
        mesh.apply_transform(matrix)
    if scale is not None:
        mesh.apply_scale(np.asarray(scale, dtype=np.float64))


def convert_mesh(mesh_path: str | os.PathLike, out: str | os.PathLike, asset_id: str, *, collision: str = "auto",
                 scale: Sequence[float] | None = None, euler: Sequence[float] | None = None,
                 collision_source: str | os.PathLike | None = None, measure: bool = True,
                 **entry_fields) -> AssetEntry:
    """Normalise the mesh file `mesh_path` into `out/<asset_id>/` and return its manifest entry.

    `scale` (3 factors) and `euler` (radians, Blender's XYZ order) are applied first. The
    default scale of the entry is the size factor, so `make()` reproduces the original
    size. `collision`: "auto" (convex hull for a watertight mesh filling >= 95 % of it,
    else VHACD), "vhacd", "convex_hull" (computed now) or "lazy" (shape chosen as in
    auto, file made on first use). `collision_source` is a ready collision mesh in the
    source's frame (transformed like the mesh), or "parts" for a mesh that is a union of
    convex pieces. `measure` reloads the written file to record bounds, volume and
    watertightness exactly as kubric_gen.meshes sees them.
    Other keyword arguments are AssetEntry fields (category, physics, licence, metadata, source).
    """
    mesh_path, out = Path(mesh_path), Path(out)
    if collision not in COLLISION_MODES:
        raise AssetError(f"collision: must be one of {', '.join(COLLISION_MODES)} (got {collision!r})")
    mesh = meshfile.load_mesh(mesh_path)
    _transformed(mesh, scale, euler)
    _check_solid(mesh, mesh_path)
    folder = out / asset_id
    created = not folder.exists()
    try:
        return _convert_into(mesh_path, mesh, folder, asset_id, collision, scale, euler, collision_source, measure,
                             entry_fields)
    except Exception as e:
        if created:  # what this conversion began goes with it
            shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, AssetError):
            raise
        if isinstance(e, (ValueError, RuntimeError, IndexError, OSError)):  # trimesh, Qhull (QhullError), VHACD
            reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise AssetError(f"{mesh_path}: cannot convert ({type(e).__name__}: {reason})") from None
        raise


def _check_solid(mesh: trimesh.Trimesh, mesh_path: Path) -> None:
    """AssetError unless the vertices span three dimensions: a flat mesh (one triangle, a plane)
    has no convex hull, volume or centre of mass to simulate with (Qhull fails on it)."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    spread = np.linalg.svd(vertices - vertices.mean(axis=0), compute_uv=False)
    if len(spread) < 3 or spread[2] <= 1e-9 * spread[0]:
        raise AssetError(f"{mesh_path}: the mesh is flat (its {len(vertices)} vertices lie in one plane), so it "
                         f"has no volume, convex hull or centre of mass to simulate with")


def _convert_into(mesh_path: Path, mesh: trimesh.Trimesh, folder: Path, asset_id: str, collision: str,
                  scale: Sequence[float] | None, euler: Sequence[float] | None,
                  collision_source: str | os.PathLike | None, measure: bool, entry_fields: dict) -> AssetEntry:
    """`convert_mesh`'s work once the mesh is loaded and checked: the files in `folder` and the entry."""
    normalised, factor, centre = meshfile.normalize(mesh)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        texture = find_texture(mesh_path, mesh, Path(work))
        written = meshfile.write_mesh(normalised, folder / "visual.obj", texture=texture)
    visual = folder / "visual.obj"
    if collision_source == "parts":  # the mesh is a union of convex pieces: they are the decomposition
        meshfile.write_parts(normalised, folder / "collision.obj")
        shape = "vhacd"
    elif collision_source is not None:
        parts = meshfile.load_mesh(collision_source)
        _transformed(parts, scale, euler)
        parts.apply_translation(-centre)
        parts.apply_scale(1.0 / factor)
        meshfile.write_plain_mesh(parts, folder / "collision.obj")
        shape = "vhacd"
    else:
        convex = meshfile.is_convex_enough(normalised) if collision in ("auto", "lazy") else None
        shape = "convex_hull" if collision == "convex_hull" or convex else "vhacd"
        if collision != "lazy":
            if shape == "vhacd":
                meshfile.vhacd_into(visual, folder / "collision.obj")
            else:
                meshfile.convex_hull_file(visual, folder / "collision.obj")
    if measure:
        stats = meshfile.mesh_stats(visual)
        bounds, volume, watertight = stats.bounds, stats.volume, stats.watertight
    else:
        lo, hi = normalised.bounds
        bounds = (meshfile._rounded(lo), meshfile._rounded(hi))
        volume, watertight = round(meshfile.solid_volume(normalised), 9), bool(normalised.is_watertight)
    rel = f"{asset_id}/"
    return AssetEntry(
        id=asset_id, kind="object", visual=rel + written["visual"], collision=rel + "collision.obj",
        collision_shape=shape, texture=rel + written["texture"] if "texture" in written else None,
        bounds=bounds, volume=volume, watertight=watertight, scale=round(factor, 9), **entry_fields)


# ---------------------------------------------------------------- folders
@dataclass
class ConvertResult:
    """What `convert_folder` did: the manifest it wrote, and the meshes converted and skipped."""

    manifest: Path
    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{len(self.converted)} converted, {len(self.skipped)} unchanged, {len(self.failed)} failed; "
                f"manifest: {self.manifest}")
        return text


def find_models(src: Path) -> list[tuple[str, Path]]:
    """(id, mesh file) of every model under `src`: GSO's <model>/meshes/model.* gives <model>;
    any other mesh file gives its relative path without suffix ('/' -> '_')."""
    found: dict[str, Path] = {}
    for path in sorted(p for p in src.rglob("*") if p.suffix.lower() in meshfile.MESH_SUFFIXES and p.is_file()):
        rel = path.relative_to(src)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if rel.parent.name == "meshes" and path.stem == "model" and len(rel.parts) >= 3:
            asset_id = rel.parts[-3]
        else:
            asset_id = "_".join(rel.with_suffix("").parts)
        asset_id = re.sub(r"[^A-Za-z0-9_.\-]+", "_", asset_id).lstrip("_.-") or "model"
        base, k = asset_id, 2
        while asset_id in found:
            asset_id, k = f"{base}_{k}", k + 1
        found[asset_id] = path
    return list(found.items())


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _load_existing(manifest_path: Path) -> Manifest | None:
    if not manifest_path.is_file():
        return None
    try:
        return parse_manifest_text(manifest_path.read_bytes(), str(manifest_path))
    except AssetError as e:
        log.warning("ignoring the existing manifest: %s", e)
        return None


def convert_folder(src: str | os.PathLike, out: str | os.PathLike, *, collision: str = "auto",
                   progress: bool | Callable[[int, int, str], None] = True, force: bool = False,
                   skip_errors: bool = False, name: str | None = None, category: str | None = None,
                   licence: str | None = None, physics: dict | None = None) -> ConvertResult:
    """Convert every mesh under `src` into the library folder `out` (see the module doc).

    `progress`: True shows a tqdm bar on stderr (when it is a terminal), or a callable
    `(done, total, asset_id)`. Unchanged models are skipped unless `force`. A model that
    cannot be converted raises AssetError naming its file (after writing the manifest of
    the others), or with `skip_errors` is listed in `result.failed`.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise AssetError(f"{src}: source folder not found")
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise AssetError(f"{out}: the output folder must not be inside the source folder {src}")
    models = find_models(src)
    if not models:
        raise AssetError(f"{src}: no mesh files found (looked for {', '.join(meshfile.MESH_SUFFIXES)})")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    existing = _load_existing(manifest_path)
    old = {e.id: e for e in existing.assets} if existing else {}
    result = ConvertResult(manifest=manifest_path)
    entries: list[AssetEntry] = []
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=len(models), desc="converting", unit="mesh", file=sys.stderr, disable=None)
    try:
        for done, (asset_id, path) in enumerate(models, 1):
            rel = path.relative_to(src).as_posix()
            digest = _digest(source_files(path))
            record = {"path": rel, "sha256": digest, "collision": collision, "converter": CONVERTER_VERSION}
            previous = old.get(asset_id)
            if (not force and previous is not None and previous.source == record
                    and all((out / f).exists() for f in previous.files().values())):
                entries.append(previous)
                result.skipped.append(asset_id)
            else:
                try:
                    entry = convert_mesh(path, out, asset_id, collision=collision, category=category or "",
                                         licence=licence, physics=dict(physics or {}), source=record,
                                         metadata={"source_file": rel})
                except AssetError as e:
                    result.failed.append((rel, str(e)))
                    if not skip_errors:
                        if created and not entries:  # nothing converted: leave nothing behind
                            shutil.rmtree(out, ignore_errors=True)
                        else:  # keep what was converted (a re-run goes on from there)
                            _write_manifest(manifest_path, name or out.name, entries)
                        raise AssetError(f"converting {path}: {e}") from None
                else:
                    entries.append(entry)
                    result.converted.append(asset_id)
            if bar is not None:
                bar.update(1)
            elif callable(progress):
                progress(done, len(models), asset_id)
    finally:
        if bar is not None:
            bar.close()
    _write_manifest(manifest_path, name or out.name, entries)
    return result


def _write_manifest(path: Path, name: str, entries: list[AssetEntry]) -> None:
    manifest = Manifest(name=re.sub(r"\s+", "_", name) or "library", assets=tuple(entries),
                        description="converted by kubric_gen.assets.convert_folder")
    meshfile._atomic_write(path, manifest.to_json().encode())
