"""Kubric's own asset manifests (GSO, KuBasic, HDRI_haven) read from tiny mirrors in Kubric's
layout: local folders, file:// and memory:// URLs, archives beside the manifest or in data_dir."""

from __future__ import annotations

import json

import fsspec
import numpy as np
import pytest
from assetgen import GSO_OBJECTS, make_kubric_mirror

import kubric_gen as kg
from kubric_gen.assets import AssetLibrary
from kubric_gen.assets.kubric_format import GSO_CATEGORIES, KUBASIC_SHAPES
from kubric_gen.errors import AssetError


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBRIC_GEN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_gso_mirror_makes_textured_objects_with_movis_category_ids(tmp_path, cache):
    manifest = make_kubric_mirror(tmp_path)
    lib = AssetLibrary.load(manifest)
    assert lib.name == "GSO" and set(lib.ids) == {name for name, *_ in GSO_OBJECTS}
    assert lib.categories == GSO_CATEGORIES  # MOVi-C..F's label ids, whatever subset the mirror holds
    for name, category, mesh, textured, _ in GSO_OBJECTS:
        entry = lib.entry(name)
        assert entry.category == category and entry.kind == "object"
        obj = lib.make(name, name=f"o_{name}", position=(0, 0, 1))
        assert isinstance(obj, kg.MeshObject) and obj.labels["category"] == category
        assert obj.path.startswith(str(cache)) and obj.path.endswith(f"{name}/visual_geometry.obj")
        assert obj.collision_path.endswith(f"{name}/collision_geometry.obj")
        assert (obj.material.texture is not None) == textured
        np.testing.assert_allclose(obj.mass, mesh.volume, rtol=1e-6)  # Kubric's mass (volume x 1)
    kept = {p.name for p in next(cache.rglob("Big_Shoe")).iterdir()}
    assert {"data.json", "visual_geometry.obj", "texture.png", "collision_geometry.obj"} <= kept


def test_archives_in_data_dir_and_fsspec_urls(tmp_path):
    manifest = make_kubric_mirror(tmp_path, beside_manifest=False)
    assert AssetLibrary.load(f"file://{manifest}").make("Toy_Ball").labels["category"] == "Toys"
    memory = fsspec.filesystem("memory")
    for path in manifest.parent.rglob("*"):
        if path.is_file():
            memory.pipe(f"/kubric_mirror/{path.relative_to(manifest.parent).as_posix()}", path.read_bytes())
    lib = AssetLibrary.load("memory://kubric_mirror/GSO.json")
    assert lib.make("Odd_Thing").labels["category"] == "None"  # an archive with one folder inside


def test_kubasic_mirror_keeps_movi_b_shape_order_and_leaves_out_the_dome(tmp_path):
    lib = AssetLibrary.load(make_kubric_mirror(tmp_path, "KuBasic"))
    assert lib.categories == KUBASIC_SHAPES
    assert not lib.entry("dome").available and "dome" not in [e.id for e in lib.entries("object")]
    assert lib.make("cube", scale=0.7).labels["category"] == "cube"


def test_hdri_haven_mirror_gives_backgrounds(tmp_path):
    lib = AssetLibrary.load(make_kubric_mirror(tmp_path, "HDRI_haven"))
    hdri = lib.sample(np.random.default_rng(0), kind="background")
    assert lib.texture(hdri).endswith(f"{hdri}/environment_4k.hdr")


def test_missing_or_broken_archives_are_clear_errors(tmp_path):
    manifest = make_kubric_mirror(tmp_path)
    (manifest.parent / "Toy_Ball.tar.gz").unlink()
    lib = AssetLibrary.load(manifest)
    with pytest.raises(AssetError, match="archive of asset 'Toy_Ball' not found .*GSO/Toy_Ball.tar.gz: not found; "
                                         "gs://kubric-public/assets/GSO/Toy_Ball.tar.gz"):
        lib.make("Toy_Ball")  # beside the manifest, then Kubric's data_dir
    data = json.loads(manifest.read_text())
    data["assets"]["Toy_Ball"]["kwargs"]["bounds"] = [[0, 0, 0], [-1, 1, 1]]
    manifest.write_text(json.dumps(data))
    with pytest.raises(AssetError, match=r"Toy_Ball.*kwargs.bounds"):
        AssetLibrary.load(manifest)
    data["assets"]["Toy_Ball"]["asset_type"] = "Sound"
    manifest.write_text(json.dumps(data))
    with pytest.raises(AssetError, match="asset_type: must be one of FileBasedObject, Texture"):
        AssetLibrary.load(manifest)


def test_archive_without_data_json_is_refused(tmp_path):
    import io
    import tarfile

    manifest = make_kubric_mirror(tmp_path)
    with tarfile.open(manifest.parent / "Toy_Ball.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("visual_geometry.obj")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"v 0"))
    with pytest.raises(AssetError, match="must hold data.json"):
        AssetLibrary.load(manifest).make("Toy_Ball")
