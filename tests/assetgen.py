"""Tiny asset folders made by the tests: HDRI images, a Google-Scanned-Objects-style folder,
and mirrors of Kubric's asset libraries in Kubric's own layout (manifest + one archive per
asset holding data.json)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image


def write_hdr(path: Path, rgb: np.ndarray) -> None:
    """A Radiance RGBE .hdr file (uncompressed scanlines)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    top = rgb.max(axis=2)
    mantissa, exponent = np.frexp(top)
    scale = np.where(top > 1e-32, mantissa * 256.0 / np.maximum(top, 1e-32), 0.0)
    rgbe = np.zeros(rgb.shape[:2] + (4,), dtype=np.uint8)
    rgbe[..., :3] = np.clip(rgb * scale[..., None], 0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(top > 1e-32, exponent + 128, 0).astype(np.uint8)
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {rgb.shape[0]} +X {rgb.shape[1]}\n".encode()
    path.write_bytes(header + rgbe.tobytes())


def sky_and_ground(height: int = 16, tint: tuple[float, float, float] = (0.5, 0.7, 1.0)) -> np.ndarray:
    """An equirectangular environment: a bright tinted sky over a brown ground."""
    rows = np.linspace(0, 1, height)[:, None, None]
    sky = np.asarray(tint) * (1.5 - rows)
    ground = np.array([0.35, 0.25, 0.15])
    image = np.where(rows < 0.5, sky, ground)
    return np.broadcast_to(image, (height, 2 * height, 3)).copy()


def make_hdri_folder(root: Path, count: int = 2) -> Path:
    folder = root / "hdri"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        write_hdr(folder / f"env_{i}.hdr", sky_and_ground(tint=(0.4 + 0.3 * i, 0.7, 1.0 - 0.3 * i)))
    return folder


def _textured_box_obj(extents, mtl_name: str, texture_name: str) -> tuple[str, str, bytes]:
    box = trimesh.creation.box(extents=extents)
    uv = np.random.default_rng(0).uniform(0, 1, (len(box.vertices), 2))
    lines = [f"mtllib {mtl_name}", "usemtl material_0"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in box.vertices]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
    lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in face) for face in box.faces]
    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(png, "PNG")
    return "\n".join(lines) + "\n", f"newmtl material_0\nmap_Kd {texture_name}\n", png.getvalue()


def make_gso_folder(root: Path) -> Path:
    """Two Google-Scanned-Objects-style models: a textured, UV-mapped box and a plain sphere."""
    src = root / "gso"
    (src / "box" / "meshes").mkdir(parents=True)
    (src / "box" / "materials" / "textures").mkdir(parents=True)
    obj, mtl, png = _textured_box_obj((0.1, 0.2, 0.3), "model.mtl", "texture.png")
    (src / "box" / "materials" / "textures" / "texture.png").write_bytes(png)
    (src / "box" / "meshes" / "model.obj").write_text(obj)
    # as in GSO, the MTL names texture.png, which is not beside it but in materials/textures/
    (src / "box" / "meshes" / "model.mtl").write_text(mtl)
    (src / "ball" / "meshes").mkdir(parents=True)
    trimesh.creation.icosphere(subdivisions=2, radius=0.04).export(src / "ball" / "meshes" / "model.obj")
    return src


def _tar_gz(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _object_files(mesh: trimesh.Trimesh, textured: bool) -> dict[str, bytes]:
    if textured:
        lo, hi = mesh.bounds
        obj, mtl, png = _textured_box_obj(hi - lo, "visual_geometry.mtl", "texture.png")
        files = {"visual_geometry.obj": obj.encode(), "visual_geometry.mtl": mtl.encode(), "texture.png": png}
    else:
        files = {"visual_geometry.obj": trimesh.exchange.obj.export_obj(mesh).encode()}
    files["collision_geometry.obj"] = trimesh.exchange.obj.export_obj(mesh.convex_hull).encode()
    files["object.urdf"] = b'<robot name="object"><link name="base"/></robot>\n'
    return files


# name, category, mesh, textured, archive layout ("flat" or "folder")
GSO_OBJECTS = (
    ("Big_Shoe", "Shoe", trimesh.creation.box(extents=(0.3, 0.1, 0.12)), True, "flat"),
    ("Toy_Ball", "Toys", trimesh.creation.icosphere(subdivisions=2, radius=0.08), False, "flat"),
    ("Odd_Thing", "None", trimesh.creation.cylinder(radius=0.05, height=0.2, sections=16), False, "folder"),
)


def make_kubric_mirror(root: Path, library: str = "GSO", beside_manifest: bool = True) -> Path:
    """A mirror of one of Kubric's libraries ("GSO", "KuBasic" or "HDRI_haven") in Kubric's
    layout; returns the manifest's path. The manifest keeps Kubric's own data_dir (a bucket
    that cannot be reached); with `beside_manifest` False the archives go into `data/` and
    data_dir says so."""
    folder = root / library
    data = folder if beside_manifest else folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    assets: dict[str, dict] = {}
    if library == "HDRI_haven":
        for i, name in enumerate(("sunny_field", "grey_studio")):
            entry = {"id": name, "asset_type": "Texture", "license": "CC0 1.0",
                     "kwargs": {"filename": "{asset_dir}/environment_4k.hdr"},
                     "metadata": {"authors": ["test"], "categories": ["outdoor"], "tags": [], "resolution": "4k"}}
            hdr = root / f".{name}.hdr"
            write_hdr(hdr, sky_and_ground(tint=(0.5 + 0.3 * i, 0.7, 1.0)))
            _tar_gz(data / f"{name}.tar.gz", {"environment_4k.hdr": hdr.read_bytes(),
                                              "data.json": json.dumps(entry).encode()})
            assets[name] = entry
    else:
        if library == "GSO":
            objects = GSO_OBJECTS
        else:
            shapes = {"cube": trimesh.creation.box(extents=(2, 2, 2)),
                      "sphere": trimesh.creation.icosphere(subdivisions=2, radius=1.0),
                      "dome": trimesh.creation.box(extents=(10, 10, 0.1))}
            objects = tuple((k, None, m, False, "flat") for k, m in shapes.items())
        for name, category, mesh, textured, layout in objects:
            lo, hi = mesh.bounds
            entry = {"id": name, "asset_type": "FileBasedObject", "license": "CC BY-SA 4.0",
                     "kwargs": {"bounds": [lo.tolist(), hi.tolist()], "mass": float(mesh.volume),
                                "render_filename": "{asset_dir}/visual_geometry.obj",
                                "simulation_filename": "{asset_dir}/object.urdf"},
                     "metadata": {"nr_faces": len(mesh.faces), "nr_vertices": len(mesh.vertices),
                                  "volume": float(mesh.volume)}}
            if category is not None:
                entry["metadata"].update(category=category, description=f"a test {category.lower()}")
            files = {**_object_files(mesh, textured), "data.json": json.dumps(entry).encode()}
            prefix = f"{name}/" if layout == "folder" else ""
            _tar_gz(data / f"{name}.tar.gz", {prefix + k: v for k, v in files.items()})
            assets[name] = entry
    manifest = {"name": library, "data_dir": f"gs://kubric-public/assets/{library}", "version": "1.0",
                "assets": assets}
    if not beside_manifest:
        manifest["data_dir"] = "data"
    path = folder / f"{library}.json"
    path.write_text(json.dumps(manifest, sort_keys=True, indent=4))
    return path
