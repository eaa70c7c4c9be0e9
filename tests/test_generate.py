"""One scene end to end (real PyBullet and bpy): layout, MOVi metadata, determinism, atomicity."""

import dataclasses
import json

import numpy as np
import pytest
from conftest import REFERENCE, TINY

from kubric_gen import io
from kubric_gen.errors import KubricGenError
from kubric_gen.generate import generate_scene


def test_scene_directory_layout(movi_a_scene):
    names = {p.name for p in movi_a_scene.iterdir()}
    per_frame = ["rgba_{:05d}.png", "depth_{:05d}.tiff", "segmentation_{:05d}.png", "normal_{:05d}.png",
                 "object_coordinates_{:05d}.png", "forward_flow_{:05d}.png", "backward_flow_{:05d}.png",
                 "occlusion_forward_{:05d}.png", "occlusion_backward_{:05d}.png"]
    expected = {p.format(t) for p in per_frame for t in range(3)} | {
        "events.json", "metadata.json", "data_ranges.json", "preview.mp4", "contact_sheet.png", "provenance.json",
        "scene.json", "tracks.npz", "layers.npz", "amodal_masks.npz", "scene_flow.npz", "occlusion_boundaries.npz",
        "intrinsic_images.npz", "_COMPLETE"}
    assert names == expected
    from kubric_gen.pipeline.outputs import is_our_file

    assert [n for n in names if not is_our_file(n)] == []  # resume would take any other file for a user's
    rgba = io.read_rgba(movi_a_scene)
    assert rgba.shape == (3, 32, 32, 4) and rgba.dtype == np.uint8
    assert not any(p.name.startswith(".tmp-") for p in movi_a_scene.parent.iterdir())


@pytest.mark.skipif(not REFERENCE.exists(), reason="needs ../shared/reference")
def test_metadata_has_kubric_movi_a_structure(movi_a_scene):
    ours = io.read_metadata(movi_a_scene)
    with open(REFERENCE / "metadata.json") as f:
        kubric = json.load(f)
    assert set(kubric) <= set(ours)
    assert set(kubric["metadata"]) <= set(ours["metadata"])
    assert set(kubric["camera"]) <= set(ours["camera"])
    missing = set(kubric["instances"][0]) - set(ours["instances"][0])
    assert not missing, missing
    meta, cam, inst = ours["metadata"], ours["camera"], ours["instances"]
    assert meta["num_instances"] == len(inst) and meta["resolution"] == [32, 32] and meta["seed"] == 5
    assert np.asarray(cam["positions"]).shape == (3, 3) and np.asarray(cam["quaternions"]).shape == (3, 4)
    assert np.asarray(cam["R"]).shape == (4, 4)
    for instance in inst:
        assert np.asarray(instance["positions"]).shape == (3, 3)
        assert np.asarray(instance["bboxes_3d"]).shape == (3, 8, 3)
        assert np.asarray(instance["bounds"]).shape == (2, 3) and len(instance["scale"]) == 3
        assert instance["shape"] in ("cube", "cylinder", "sphere") and instance["material"] in ("metal", "rubber")
        assert instance["mass"] > 0
    for c in json.loads((movi_a_scene / "events.json").read_text())["collisions"]:
        assert len(c["instances"]) == 2 and all(-1 <= i < len(inst) for i in c["instances"])
    prov = json.loads((movi_a_scene / "provenance.json").read_text())
    assert prov["seed"] == 5 and prov["versions"]["bpy"].startswith("5.0")
    assert {"physics", "render", "write"} <= set(prov["timings"])


def test_same_world_seed_config_give_identical_outputs(movi_a_scene, tmp_path):
    """(The intrinsic images too: Cycles' passes of a seeded render are the same bytes.)"""
    again = tmp_path / "again"
    generate_scene("movi_a", 5, again, dataclasses.replace(TINY, intrinsics=True),
                   {"resolution": [32, 32], "num_frames": 3}, num_tracks=40,
                   float_layers=True)
    again_files = sorted(p.name for p in again.iterdir())
    assert again_files == sorted(p.name for p in movi_a_scene.iterdir())
    for name in again_files:
        if name != "provenance.json":  # holds timings
            assert (again / name).read_bytes() == (movi_a_scene / name).read_bytes(), name


def test_quantised_layers_decode_to_the_float_layers(movi_a_scene):
    decoded = io.read_layers(movi_a_scene)
    exact = io.read_float_layers(movi_a_scene)
    ranges = json.loads((movi_a_scene / "data_ranges.json").read_text())
    for name in ("forward_flow", "backward_flow"):
        step = (ranges[name]["max"] - ranges[name]["min"]) / 65535
        assert np.abs(decoded[name] - exact[name]).max() <= step / 2 + 1e-6, name
        assert np.abs(exact[name]).max() > 0.1, name  # objects move
    assert np.abs(decoded["normal"] - exact["normal"]).max() <= 1 / 65535 + 1e-7
    np.testing.assert_array_equal(decoded["depth"], exact["depth"])
    np.testing.assert_array_equal(decoded["segmentation"], exact["segmentation"])
    meta = io.read_metadata(movi_a_scene)
    assert meta["metadata"]["num_instances"] == int(exact["segmentation"].max())
    for k, instance in enumerate(meta["instances"]):
        counts = (exact["segmentation"] == k + 1).sum(axis=(1, 2))
        assert instance["visibility"] == counts.tolist()
        assert instance["bbox_frames"] == np.flatnonzero(counts).tolist()
    tracks = io.read_tracks(movi_a_scene)
    assert tracks.query_points.shape == (40, 3) and tracks.occluded.shape == (40, 3)


def test_different_seeds_differ(movi_a_scene, tmp_path):
    other = tmp_path / "other"
    generate_scene("movi_a", 0, other, TINY, {"resolution": [32, 32], "num_frames": 3})
    # not metadata.json as a whole (it records the seed): what the seed should change
    ours, theirs = io.read_rgba(other), io.read_rgba(movi_a_scene)
    assert ours.shape == theirs.shape
    differing = np.any(ours != theirs, axis=-1).mean()
    assert differing > 0.05, f"only {differing:.1%} of pixels differ between seeds 0 and 5"

    def poses(directory):  # each instance's initial position, in instance order
        return [tuple(np.round(inst["positions"][0], 6)) for inst in io.read_metadata(directory)["instances"]]

    assert set(poses(other)).isdisjoint(poses(movi_a_scene)), "seeds 0 and 5 share object positions"
    cam = [np.asarray(io.read_metadata(d)["camera"]["positions"]) for d in (other, movi_a_scene)]
    assert not np.allclose(*cam), "seeds 0 and 5 have the same camera"


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    import kubric_gen.io.scene_dir as scene_dir

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(scene_dir, "write_preview", broken)
    with pytest.raises(OSError):
        generate_scene("movi_a", 1, tmp_path / "scene", TINY, {"resolution": [16, 16], "num_frames": 1})
    assert list(tmp_path.iterdir()) == []


def test_world_errors_are_user_errors(tmp_path):
    with pytest.raises(KubricGenError):
        generate_scene("movi_a", 1, tmp_path / "x", TINY, {"min_num_objects": 0})
    assert list(tmp_path.iterdir()) == []


MOVI_BUILDER_LAYERS = ("rgba", "segmentation", "forward_flow", "backward_flow", "depth", "normal",
                       "object_coordinates")


def _movi_builder_style_read(directory):
    """What MOVi's TFDS builder does with a scene directory (from its published behaviour):
    complete only if data_ranges/metadata/events exist and the files starting with each layer
    prefix number the same as the rgba files; then it reads `{layer}_{f:05d}.png` as Kubric's
    `read_png` does (pypng: palette indices, 16-bit kept, any bit depth but 8 and 16 an error:
    `kubric_png.kubric_read_png`) and `depth_{f:05d}.tiff`, and scales flow by data_ranges."""
    import imageio.v3 as iio
    from kubric_png import ihdr_bit_depth, kubric_read_png

    names = [p.name for p in directory.iterdir()]
    if not all(n in names for n in ("data_ranges.json", "metadata.json", "events.json")):
        return None
    counts = {key: len([n for n in names if n.startswith(key)]) for key in MOVI_BUILDER_LAYERS}
    if counts["rgba"] == 0 or any(c != counts["rgba"] for c in counts.values()):
        return None
    meta = json.loads((directory / "metadata.json").read_text())
    ranges = json.loads((directory / "data_ranges.json").read_text())
    t = meta["metadata"]["num_frames"]

    def read_png(path):
        assert ihdr_bit_depth(path) in (8, 16), path
        return kubric_read_png(path)

    out = {key: np.stack([read_png(directory / f"{key}_{f:05d}.png") for f in range(t)])
           for key in MOVI_BUILDER_LAYERS if key != "depth"}
    out["depth"] = np.stack([iio.imread(directory / f"depth_{f:05d}.tiff") for f in range(t)])
    for key in ("forward_flow", "backward_flow"):
        lo, hi = ranges[key]["min"], ranges[key]["max"]
        out[key] = out[key][..., :2] / 65535 * (hi - lo) + lo
    return out


def test_movi_builder_style_reader_sees_exactly_movis_files(movi_a_scene):
    read = _movi_builder_style_read(movi_a_scene)
    assert read is not None, "MOVi's builder would count this scene directory as incomplete"
    sd = io.SceneDir(movi_a_scene)
    np.testing.assert_array_equal(read["segmentation"][..., 0], sd.layer("segmentation"))
    np.testing.assert_array_equal(read["rgba"], sd.stored("rgba"))
    np.testing.assert_array_equal(np.squeeze(read["depth"], -1), sd.layer("depth"))
    for key in ("forward_flow", "backward_flow"):
        np.testing.assert_allclose(read[key], sd.layer(key), atol=1e-5)
    np.testing.assert_array_equal(read["normal"], sd.stored("normal"))


@pytest.mark.skipif(not REFERENCE.exists(), reason="needs ../shared/reference")
def test_movi_builder_style_reader_reads_kubrics_own_directory():
    assert _movi_builder_style_read(REFERENCE) is not None  # the reader itself is faithful
