"""The asset library: manifests, KuBasic, pybullet_data, conversion, remote loading, archives, domes, CLI."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from assetgen import make_gso_folder, write_hdr
from PIL import Image

import kubric_gen as kg
from kubric_gen import meshes
from kubric_gen.assets import (
    AssetLibrary,
    convert_folder,
    dome_mesh,
    extract_archive,
    kubasic,
    make_dome,
    meshfile,
    parse_manifest,
)
from kubric_gen.assets import cli as assets_cli
from kubric_gen.assets.dome import equirect_uv
from kubric_gen.errors import AssetError, ConfigError, KubricGenError
from kubric_gen.simulation import physics

KUBASIC_SHAPES = [s for s in kubasic.SHAPES if s != "spot"]
VHACD_MADE_ELSEWHERE = ("torus", "teapot")  # other tests of this module make these (their VHACD is cached)


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """Every test of this module caches into one fresh folder, except VHACD results: those are
    keyed by the mesh's content, so the module shares the suite's (the default cache's), which
    the worlds' tests fill with the same KuBasic shapes (~8 s a shape saved where both run)."""
    from kubric_gen.cache import cache_dir

    folder = tmp_path_factory.mktemp("cache")
    shared = Path(cache_dir()) / "vhacd"
    shared.mkdir(parents=True, exist_ok=True)
    (folder / "vhacd").symlink_to(shared, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBRIC_GEN_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def kubasic_lib():
    return AssetLibrary.kubasic()


# ---------------------------------------------------------------- KuBasic
def test_kubasic_shapes_are_normalised_solids(kubasic_lib):
    assert set(kubasic_lib.ids) == set(kubasic.SHAPES)
    for shape in KUBASIC_SHAPES:
        entry = kubasic_lib.entry(shape)
        if entry.collision_shape == "convex_hull" or shape in VHACD_MADE_ELSEWHERE:
            obj = kubasic_lib.make(shape, name=f"{shape}_0", scale=0.5)
            assert isinstance(obj, kg.MeshObject) and obj.asset_id == shape and obj.labels["category"] == shape
            assert obj.collision == entry.collision_shape
        else:  # make() would compute its VHACD decomposition (~8 s a shape): the visual mesh is what is checked
            obj = kg.MeshObject(name=f"{shape}_0", path=kubasic_lib.path(shape), scale=0.5)
        mesh = meshes.object_mesh(obj)
        assert meshes.scaled_volume(obj) > 0 and meshes.object_mass(obj) > 0, shape
        assert np.abs(mesh.vertices).max() == pytest.approx(1.0, abs=1e-6), shape  # fits [-1, 1]^3, touching
        assert np.abs(meshfile.centre_of_mass(mesh)).max() < 1e-5, shape  # centred at its centre of mass
        np.testing.assert_allclose(mesh.bounds, entry.bounds, atol=1e-6, err_msg=shape)  # shipped bounds honest
        assert entry.watertight == mesh.is_watertight, shape
        if not mesh.is_watertight:  # documented in the manifest
            assert "not watertight" in entry.metadata["description"], shape
        assert entry.collision_shape == ("convex_hull" if shape in ("cube", "cylinder", "sphere", "cone") else "vhacd")


@pytest.mark.parametrize("shape", ["cube", "cone", "sphere", "cylinder", "torus"])
def test_kubasic_collision_mesh_inside_visual_bounds(kubasic_lib, shape):
    # convex hulls for the convex shapes; VHACD (~10 s) only for the torus
    collision = trimesh.load(kubasic_lib.collision_file(shape), force="mesh")
    lo, hi = np.asarray(kubasic_lib.entry(shape).bounds)
    tolerance = 0.01 * (hi - lo).max()  # VHACD's hull vertices sit on its voxel grid, a little outside
    assert len(collision.faces) > 0
    assert (collision.bounds[0] >= lo - tolerance).all() and (collision.bounds[1] <= hi + tolerance).all()
    assert collision.volume > 0


def test_kubasic_spot_is_unavailable_with_a_reason(kubasic_lib):
    entry = kubasic_lib.entry("spot")
    assert not entry.available and "offline" in entry.reason
    with pytest.raises(AssetError, match="'spot' is not available.*offline"):
        kubasic_lib.make("spot")


def test_made_object_rests_on_a_floor(kubasic_lib, floor):
    torus = kubasic_lib.make("torus", name="torus", scale=0.5, position=(0, 0, 0.6))  # VHACD collision
    scene = kg.Scene(num_frames=36, frame_rate=12, objects=[floor, torus])
    traj = physics.simulate(scene)
    i = traj.index("torus")
    half_height = 0.5 * kubasic_lib.entry("torus").bounds[1][2]
    assert traj.positions[i, -1, 2] == pytest.approx(half_height, abs=0.02)
    assert np.linalg.norm(traj.velocities[i, -1]) < 0.05
    assert any(set(c.objects) == {"floor", "torus"} for c in traj.collisions)


# ---------------------------------------------------------------- make
def test_make_applies_overrides_and_manifest_defaults(kubasic_lib):
    material = kg.Principled(color=(0.9, 0.1, 0.1), metallic=1.0)
    obj = kubasic_lib.make("teapot", name="t0", scale=0.8, material=material, position=(1, 2, 3),
                           quaternion=(0, 0, 0, 1), velocity=(1, 0, 0), motion="dynamic", friction=0.9,
                           labels={"color": "red"}, collision="convex_hull")
    assert obj.name == "t0" and obj.scale == (0.8, 0.8, 0.8) and obj.material == material
    assert obj.position == (1, 2, 3) and obj.quaternion == (0, 0, 0, 1) and obj.velocity == (1, 0, 0)
    assert obj.friction == 0.9 and obj.restitution == 0.5 and obj.density == 1000.0
    assert obj.labels == {"category": "teapot", "color": "red"} and obj.collision == "convex_hull"
    static = kubasic_lib.make("cube", motion="static", euler=(0, 0, 1))
    assert static.name == "cube" and static.motion == "static"
    scene = kg.Scene(objects=[obj, static])
    again = kg.Scene.from_json(scene.to_json())  # plain data: survives JSON
    assert again.objects[0] == obj
    with pytest.raises(AssetError, match="unknown option 'colour'"):
        kubasic_lib.make("cube", colour="red")
    with pytest.raises(AssetError, match="unknown asset id 'teapott'.*did you mean 'teapot'"):
        kubasic_lib.make("teapott")
    with pytest.raises(kg.SceneError, match="scale"):
        kubasic_lib.make("cube", scale=-1)


# ---------------------------------------------------------------- conversion
def test_convert_gso_folder_keeps_textures_and_reruns_incrementally(tmp_path):
    src = make_gso_folder(tmp_path)
    out = tmp_path / "lib"
    calls = []
    result = convert_folder(src, out, progress=lambda done, total, asset_id: calls.append((done, total)))
    assert sorted(result.converted) == ["ball", "box"] and not result.skipped and calls[-1] == (2, 2)
    data = json.loads((out / "manifest.json").read_text())
    assert data["format"] == "kubric_gen.assets" and data["version"] == 1
    entries = {e["id"]: e for e in data["assets"]}
    assert entries["box"]["texture"] == "box/visual_texture.png" and "texture" not in entries["ball"]
    assert entries["box"]["scale"] == pytest.approx(0.15)  # the original half-size: make() restores 10x20x30 cm
    library = AssetLibrary.load(out)
    for asset_id in ("box", "ball"):
        entry = library.entry(asset_id)
        obj = library.make(asset_id)
        mesh = meshes.object_mesh(obj)
        np.testing.assert_allclose(mesh.bounds, entry.bounds, atol=1e-6)
        assert np.abs(mesh.vertices).max() == pytest.approx(1.0, abs=1e-6)
        assert entry.collision_shape == "convex_hull"  # both are convex: no VHACD needed
        assert Path(library.collision_file(asset_id)).is_file()
    box = library.make("box", name="box0")
    assert box.material.texture == str(out / "box" / "visual_texture.png")
    assert Image.open(box.material.texture).size == (8, 8)
    uv = meshes.object_mesh(box).visual.uv  # kubric_gen.meshes reloads the UVs
    assert uv is not None and len(uv) == len(meshes.object_mesh(box).vertices)
    np.testing.assert_allclose(np.asarray(box.scale) * 2, 0.3, atol=1e-6)  # longest side 30 cm again
    # incremental: nothing changed -> both skipped; a changed texture -> only that model again
    again = convert_folder(src, out, progress=False)
    assert sorted(again.skipped) == ["ball", "box"] and not again.converted
    Image.new("RGB", (4, 4), (255, 0, 0)).save(src / "box" / "materials" / "textures" / "texture.png")
    third = convert_folder(src, out, progress=False)
    assert third.converted == ["box"] and third.skipped == ["ball"]


def test_convert_names_the_file_that_cannot_be_read(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    trimesh.creation.box().export(src / "good.obj")
    (src / "broken.obj").write_text("this is not a mesh\n")
    with pytest.raises(AssetError, match="broken.obj"):
        convert_folder(src, tmp_path / "lib", progress=False)
    result = convert_folder(src, tmp_path / "lib", progress=False, skip_errors=True)
    assert result.converted == ["good"] or result.skipped == ["good"]
    assert [f for f, _ in result.failed] == ["broken.obj"] and "no triangles" in result.failed[0][1]
    assert AssetLibrary.load(tmp_path / "lib").ids == ["good"]
    with pytest.raises(AssetError, match="empty.ply: cannot read mesh|empty.ply: the file holds no triangles"):
        meshfile.load_mesh(_write(tmp_path / "empty.ply", b""))


def test_convert_warns_once_about_a_missing_map_kd_and_converts_untextured(tmp_path, caplog):
    """An MTL naming a texture that does not exist: one warning line naming the MTL and the file;
    the asset is converted without a texture (the folder's other meshes are not held up)."""
    src = tmp_path / "src"
    src.mkdir()
    box = trimesh.creation.box()
    box.visual = trimesh.visual.TextureVisuals(uv=np.random.default_rng(0).random((len(box.vertices), 2)))
    box.export(src / "box.obj", include_texture=True, mtl_name="box.mtl")
    (src / "box.mtl").write_text("newmtl material_0\nKd 1 1 1\nmap_Kd missing_texture.png\n")
    trimesh.creation.icosphere().export(src / "ball.obj")
    with caplog.at_level("WARNING", logger="kubric_gen.assets.convert"):
        result = convert_folder(src, tmp_path / "lib", progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "\n" not in warnings[0], warnings
    assert str(src / "box.mtl") in warnings[0] and "missing_texture.png" in warnings[0]
    assert "converted without a texture" in warnings[0]
    assert sorted(result.converted) == ["ball", "box"]
    library = AssetLibrary.load(tmp_path / "lib")
    assert library.texture("box") is None and meshes.object_mesh(library.make("box")).faces.shape == (12, 3)


def test_convert_of_a_flat_mesh_says_so_and_leaves_nothing(tmp_path):
    """One triangle has no convex hull (Qhull would fail): an AssetError naming the file, and no
    library folder left behind."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "t.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(AssetError, match=r"t\.obj: the mesh is flat"):
        convert_folder(src, tmp_path / "lib", progress=False)
    assert not (tmp_path / "lib").exists()
    trimesh.creation.box().export(src / "a_box.obj")  # converted first: kept, and the flat one leaves no folder
    with pytest.raises(AssetError, match="flat"):
        convert_folder(src, tmp_path / "lib", progress=False)
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == ["a_box", "manifest.json"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- remote libraries
def test_library_from_an_fsspec_memory_url(tmp_path, cache):
    import fsspec

    src = make_gso_folder(tmp_path)
    convert_folder(src, tmp_path / "lib", progress=False)
    fs = fsspec.filesystem("memory")
    for path in (tmp_path / "lib").rglob("*"):
        if path.is_file():
            fs.pipe(f"/remote_lib/{path.relative_to(tmp_path / 'lib').as_posix()}", path.read_bytes())
    library = AssetLibrary.load("memory://remote_lib/manifest.json")
    assert sorted(library.ids) == ["ball", "box"]
    box = library.make("box", scale=0.1)
    assert box.path.startswith(str(cache)) and Path(box.path).is_file()
    assert box.material.texture.startswith(str(cache))
    mesh = meshes.object_mesh(box)
    assert mesh.visual.uv is not None  # the MTL and the texture came along
    # cached: with the remote gone, the library still loads (cached manifest) and makes objects
    fs.rm("/remote_lib", recursive=True)
    offline = AssetLibrary.load("memory://remote_lib")
    assert offline.make("box").path == box.path
    with pytest.raises(AssetError, match="memory://remote_lib/ball/visual.obj: not found"):
        offline.make("ball")


# ---------------------------------------------------------------- archives
def _zip(path: Path, members: dict[str, bytes], symlink: tuple[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        if symlink:
            info = zipfile.ZipInfo(symlink[0])
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, symlink[1])
    return path


def _tar(path: Path, members: dict[str, bytes], symlink: tuple[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink[0])
            info.type, info.linkname = tarfile.SYMTYPE, symlink[1]
            tf.addfile(info)
    return path


@pytest.mark.parametrize("make", [_zip, _tar], ids=["zip", "tar.gz"])
@pytest.mark.parametrize("members,symlink,message", [
    ({"ok.txt": b"x", "../escape.txt": b"x"}, None, r"'\.\./escape.txt' contains '\.\.'"),
    ({"ok.txt": b"x", "/abs/escape.txt": b"x"}, None, "absolute path"),
    ({"ok.txt": b"x"}, ("link", "../../outside"), "link|symbolic link"),
])
def test_unsafe_archives_are_rejected_and_extract_nothing(tmp_path, make, members, symlink, message):
    archive = make(tmp_path / ("evil.zip" if make is _zip else "evil.tar.gz"), members, symlink)
    target = tmp_path / "out" / "target"
    with pytest.raises(AssetError, match=message) as info:
        extract_archive(archive, target)
    assert str(archive) in str(info.value)
    assert not target.exists() and list((tmp_path / "out").iterdir()) == []  # no temporary folder left either
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "escape.txt").exists()


def test_safe_archive_extracts_and_loads_as_a_library(tmp_path):
    src = make_gso_folder(tmp_path)
    convert_folder(src, tmp_path / "lib", progress=False)
    files = {f"lib/{p.relative_to(tmp_path / 'lib').as_posix()}": p.read_bytes()
             for p in (tmp_path / "lib").rglob("*") if p.is_file()}
    archive = _tar(tmp_path / "lib.tar.gz", files, symlink=("lib/alias.obj", "box/visual.obj"))
    extracted = extract_archive(archive, tmp_path / "x")
    assert "lib/manifest.json" in extracted and (tmp_path / "x" / "lib" / "alias.obj").is_symlink()
    library = AssetLibrary.load(_zip(tmp_path / "lib.zip", files))
    assert sorted(library.ids) == ["ball", "box"] and Path(library.make("ball").path).is_file()


# ---------------------------------------------------------------- manifest validation
def _manifest(**entry):
    return {"format": "kubric_gen.assets", "version": 1, "name": "t",
            "assets": [{"id": "a", "kind": "object", "visual": "a.obj", "bounds": [[-1, -1, -1], [1, 1, 1]],
                        **entry}]}


@pytest.mark.parametrize("data,message", [
    (_manifest(colour="red"), r"assets\[0\] \('a'\)\.colour: unknown field \(known: .*\) \(got 'red'\)"),
    (_manifest(scale="big"), r"\('a'\)\.scale: expected a positive number or 3 positive numbers \(got 'big'\)"),
    (_manifest(physics={"mass": -1}), r"physics\.mass: must be > 0 \(got -1\.0\)"),
    (_manifest(physics={"density": 1, "bounciness": 1}), r"physics\.bounciness: unknown field"),
    (_manifest(kind="furniture"), r"\.kind: must be one of object, texture, background \(got 'furniture'\)"),
    (_manifest(visual="../../etc/passwd"), r"\.visual: must be a relative path inside the library"),
    (_manifest(bounds=[[1, 1, 1], [0, 0, 0]]), r"\.bounds: min must not exceed max"),
    (_manifest(available=False), r"\.reason: an unavailable asset needs a reason"),
    ({"version": 1, "assets": [{"kind": "object"}]}, r"assets\[0\]\.id: missing field"),
    ({"version": 2, "assets": []}, r"manifest\.version: unsupported manifest version .* \(got 2\)"),
    ({"version": 1, "assets": [], "extra": 1}, r"manifest\.extra: unknown field"),
    ({"version": 1, "assets": {"a": {}}}, r"manifest\.assets: expected a list"),
])
def test_malformed_manifests_are_rejected_naming_field_and_value(data, message):
    with pytest.raises(AssetError, match=message):
        parse_manifest(data)


def test_manifest_file_errors_and_unknown_ids(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(AssetError, match="manifest.json: not valid JSON"):
        AssetLibrary.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "assets": [_manifest()["assets"][0]] * 2}))
    with pytest.raises(AssetError, match="duplicate id"):
        AssetLibrary.load(tmp_path)
    with pytest.raises(AssetError, match="no asset manifest there"):
        AssetLibrary.load(tmp_path / "missing")
    manifest = parse_manifest(_manifest())
    assert parse_manifest(json.loads(manifest.to_json())) == manifest  # JSON round trip
    with pytest.raises(AssetError, match="unknown asset id 'b'"):
        manifest.entry("b")


# ---------------------------------------------------------------- pybullet_data
def test_pybullet_data_library(floor):
    library = AssetLibrary.pybullet_data(random_objects=2)
    assert {"duck", "bunny", "teddy", "soccerball", "jenga", "lego", "torus", "random_000", "random_001"} <= set(
        library.ids)
    duck = library.make("duck", position=(0, 0, 0.5))
    mesh = meshes.object_mesh(duck)
    assert np.abs(mesh.vertices).max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(mesh.bounds, library.entry("duck").bounds, atol=1e-6)
    assert mesh.visual.uv is not None and Path(duck.material.texture).is_file()
    assert duck.mass == pytest.approx(0.1)  # the URDF's mass at the URDF's scale
    assert library.make("duck", scale=2 * duck.scale[0]).mass == pytest.approx(0.8)  # scales with the volume
    rnd = library.make("random_000", collision="convex_hull")
    assert rnd.labels["category"] == "random" and meshes.scaled_volume(rnd) > 0
    parts = Path(library.collision_file("random_000")).read_text().count("\no part_")
    assert parts >= 1  # its convex pieces are its collision decomposition
    scene = kg.Scene(num_frames=12, objects=[floor, rnd.__class__(**{**_fields(rnd), "position": (0, 0, 0.3)})])
    traj = physics.simulate(scene)
    assert traj.positions[1, -1, 2] < 0.3  # it fell onto the floor and stays above it
    assert traj.positions[1, -1, 2] > 0


def _fields(obj):
    import dataclasses

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


# ---------------------------------------------------------------- domes and HDRIs
def test_dome_mesh_has_a_floor_uvs_and_is_closed(tmp_path):
    path = dome_mesh(radius=10.0, camera_height=1.5, directory=tmp_path)
    mesh = trimesh.load(path, force="mesh", process=True)
    assert mesh.bounds.tolist() == [[-10, -10, 0], [10, 10, 10]]
    floor = np.abs(mesh.triangles_center[:, 2]) < 1e-9
    assert floor.sum() > 100 and (mesh.face_normals[floor][:, 2] > 0.999).all()  # facing up, into the dome
    uv = mesh.visual.uv
    assert uv is not None and len(uv) == len(mesh.vertices) and (uv >= 0).all() and (uv <= 1).all()
    closed = mesh.copy()
    closed.merge_vertices(merge_tex=True, merge_norm=True)
    assert closed.is_watertight and closed.volume < 0  # closed once the UV seam is merged; faces point inside
    # a vertex away from the seam: its UV is Blender's equirectangular mapping seen from the camera height
    i = np.argmax((mesh.vertices[:, 2] > 1) & (np.abs(mesh.vertices[:, 1]) > 1))
    np.testing.assert_allclose(uv[i], equirect_uv((mesh.vertices[i] - [0, 0, 1.5])[None])[0], atol=1e-6)
    np.testing.assert_allclose(equirect_uv(np.array([[1.0, 0, 0], [0, 0, 1], [0, 1, 0]])),
                               [[0.5, 0.5], [0.5, 1.0], [0.25, 0.5]], atol=1e-12)


def test_hdri_folder_and_dome_object(tmp_path):
    folder = tmp_path / "hdris"
    folder.mkdir()
    write_hdr(folder / "sky.hdr", np.random.default_rng(0).uniform(0, 4, (8, 16, 3)))
    write_hdr(folder / "studio.hdr", np.ones((4, 8, 3)))
    (folder / "notes.txt").write_text("not an image")
    assert (folder / "sky.hdr").read_bytes().startswith(b"#?RADIANCE")
    library = AssetLibrary.from_hdri_folder(folder)
    assert library.ids == ["sky", "studio"] and {e.kind for e in library} == {"background"}
    dome = library.make("sky", radius=8.0)
    assert isinstance(dome, kg.MeshObject) and dome.is_background and dome.motion == "static"
    assert dome.material.texture == str(folder / "sky.hdr") and dome.material.roughness == 1.0
    assert dome.collision == "mesh" and dome.asset_id == "sky"
    with pytest.raises(AssetError, match="HDRI image not found"):
        make_dome(folder / "missing.hdr")
    box = kg.Cube(name="box", scale=0.5, position=(1, 1, 1.0))
    traj = physics.simulate(kg.Scene(num_frames=24, objects=[dome, box]))
    assert traj.positions[1, -1, 2] == pytest.approx(0.5, abs=0.01)  # rests on the dome's floor


# ---------------------------------------------------------------- command line
def _run_cli(argv):
    parser = argparse.ArgumentParser(prog="kubric-gen")
    sub = parser.add_subparsers(dest="command", required=True)
    assets_cli.add_commands(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_list_and_convert(tmp_path, capsys):
    assert _run_cli(["assets", "list"]) == 0
    out = capsys.readouterr().out
    assert "kubasic" in out and "pybullet_data" in out
    assert _run_cli(["assets", "list", "kubasic"]) == 0
    out = capsys.readouterr().out
    assert "teapot" in out and "spot" in out and "no: " in out and "[-1 -1 -1]..[1 1 1]" in out
    src = make_gso_folder(tmp_path)
    assert _run_cli(["assets", "convert", str(src), "--output", str(tmp_path / "lib")]) == 0
    assert "2 converted, 0 unchanged, 0 failed" in capsys.readouterr().out
    assert _run_cli(["assets", "list", str(tmp_path / "lib" / "manifest.json")]) == 0
    assert "box" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="SRC_DIR: not a folder"):
        _run_cli(["assets", "convert", str(tmp_path / "nope"), "--output", str(tmp_path / "lib2")])
    with pytest.raises(KubricGenError, match="no asset manifest there"):
        _run_cli(["assets", "list", str(tmp_path / "nope")])


def test_importing_assets_imports_neither_pybullet_nor_bpy():
    code = ("import sys, kubric_gen.assets, kubric_gen.assets.cli; "
            "print(sorted(m for m in ('pybullet', 'bpy', 'fsspec') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}).stdout
    assert out.strip() == "[]"


def test_prepare_makes_every_missing_file_once_in_worker_processes(tmp_path, capsys):
    src = make_gso_folder(tmp_path)
    out = tmp_path / "lib"
    convert_folder(src, out, collision="lazy", progress=False)
    library = AssetLibrary.load(out)
    assert sorted(library.unprepared()) == ["ball", "box"]  # collision meshes are made on first use
    calls = []
    assert sorted(library.prepare(workers=2, progress=lambda done, total: calls.append((done, total)))) == \
        ["ball", "box"]
    assert calls[-1] == (2, 2) and library.unprepared() == []
    for asset_id in ("ball", "box"):
        assert Path(library.collision_file(asset_id)).is_file()
    assert library.prepare() == []
    assert _run_cli(["assets", "prepare", str(out)]) == 0
    assert "0 of 2 assets prepared" in capsys.readouterr().out
