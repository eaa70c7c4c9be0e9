"""TFDS packaging (kubric_gen.datasets): MOVi's features, decoding, downscaling, splits, loading, robustness.

Builds from 4 tiny real scenes (32x32, 4 frames) rendered once per module.
"""

import argparse
import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_tree

pytestmark = pytest.mark.filterwarnings("ignore:label\\(\\) is deprecated:DeprecationWarning")
tf = pytest.importorskip("tensorflow")
tfds = pytest.importorskip("tensorflow_datasets")

from kubric_gen.datasets import DatasetError, build_dataset, decode_depth, decode_flow  # noqa: E402
from kubric_gen.datasets.builder import VERSION  # noqa: E402
from kubric_gen.datasets.config import assign_splits, parse_splits, scene_hash  # noqa: E402
from kubric_gen.datasets.loading import builder_from_directory, dataset_dir, load  # noqa: E402
from kubric_gen.generate import generate_scene  # noqa: E402
from kubric_gen.io import read_float_layers, read_layers, read_rgba  # noqa: E402
from kubric_gen.render.settings import RenderSettings  # noqa: E402

REFERENCE = Path(__file__).parents[2] / "shared" / "reference" / "kubric_movi_a_128"
NAME = "kg_test_movi"
T, H, W = 4, 32, 32
SEEDS = (0, 1, 2, 3)

# MOVI_FORMAT.md's table as tf.data element specs: path -> (shape, dtype) of one example.
# N: per-instance / per-collision (variable), None: ragged.
N = None
MOVI_A = {
    "metadata/video_name": ((), tf.string),
    "metadata/width": ((), tf.int32), "metadata/height": ((), tf.int32), "metadata/num_frames": ((), tf.int32),
    "metadata/num_instances": ((), tf.uint16),
    "metadata/depth_range": ((2,), tf.float32), "metadata/forward_flow_range": ((2,), tf.float32),
    "metadata/backward_flow_range": ((2,), tf.float32),
    "video": (("T", "H", "W", 3), tf.uint8),
    "segmentations": (("T", "H", "W", 1), tf.uint8),
    "forward_flow": (("T", "H", "W", 2), tf.uint16), "backward_flow": (("T", "H", "W", 2), tf.uint16),
    "depth": (("T", "H", "W", 1), tf.uint16),
    "normal": (("T", "H", "W", 3), tf.uint16), "object_coordinates": (("T", "H", "W", 3), tf.uint16),
    "camera/focal_length": ((), tf.float32), "camera/sensor_width": ((), tf.float32),
    "camera/field_of_view": ((), tf.float32),
    "camera/positions": (("T", 3), tf.float32), "camera/quaternions": (("T", 4), tf.float32),
    "instances/mass": ((N,), tf.float32), "instances/friction": ((N,), tf.float32),
    "instances/restitution": ((N,), tf.float32),
    "instances/positions": ((N, "T", 3), tf.float32), "instances/quaternions": ((N, "T", 4), tf.float32),
    "instances/velocities": ((N, "T", 3), tf.float32), "instances/angular_velocities": ((N, "T", 3), tf.float32),
    "instances/bboxes_3d": ((N, "T", 8, 3), tf.float32), "instances/image_positions": ((N, "T", 2), tf.float32),
    "instances/bboxes": ((N, None, 4), tf.float32), "instances/bbox_frames": ((N, None), tf.int32),
    "instances/visibility": ((N, "T"), tf.uint16),
    "instances/shape_label": ((N,), tf.int64), "instances/size_label": ((N,), tf.int64),
    "instances/color": ((N, 3), tf.float32), "instances/color_label": ((N,), tf.int64),
    "instances/material_label": ((N,), tf.int64),
    "events/collisions/instances": ((N, 2), tf.uint16), "events/collisions/frame": ((N,), tf.int32),
    "events/collisions/force": ((N,), tf.float32), "events/collisions/position": ((N, 3), tf.float32),
    "events/collisions/image_position": ((N, 2), tf.float32),
    "events/collisions/contact_normal": ((N, 3), tf.float32),
}
CLASS_NAMES = {"shape_label": ["cube", "cylinder", "sphere"], "size_label": ["small", "large"],
               "color_label": ["blue", "brown", "cyan", "gray", "green", "purple", "red", "yellow"],
               "material_label": ["metal", "rubber"]}
# How MOVi stores them (the "encodings"): feature class and dtype.
ENCODINGS = {"video": ("Video", np.uint8), "normal": ("Video", np.uint16), "object_coordinates": ("Video", np.uint16),
             "segmentations": ("Sequence/Image", np.uint8), "depth": ("Sequence/Image", np.uint16),
             "forward_flow": ("Sequence/Tensor", np.uint16), "backward_flow": ("Sequence/Tensor", np.uint16)}
OURS = {"forward_flow_occlusion": (("T", "H", "W", 1), tf.uint8),
        "backward_flow_occlusion": (("T", "H", "W", 1), tf.uint8),
        "tracks/query_points": ((None, 3), tf.float32), "tracks/target_points": ((None, "T", 2), tf.float32),
        "tracks/occluded": ((None, "T"), tf.bool), "camera/intrinsics": ((3, 3), tf.float32),
        "provenance/world": ((), tf.string), "provenance/seed": ((), tf.int64),
        "provenance/config": ((), tf.string), "provenance/record": ((), tf.string)}


def _flat(spec, prefix=""):
    out = {}
    for k, v in spec.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[prefix + k] = v
    return out


def _expected_shape(shape, t, h, w):
    return tuple({"T": t, "H": h, "W": w}.get(d, d) if isinstance(d, str) else d for d in shape)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("datasets")


@pytest.fixture(scope="module")
def scenes(root):
    out = root / "scenes"
    for seed in SEEDS:
        generate_scene("movi_a", seed, out / f"seed_{seed:05d}", RenderSettings(samples=4, denoise=False, threads=1),
                     {"resolution": [W, H], "num_frames": T}, num_tracks=16, float_layers=True, preview=False)
    return out


@pytest.fixture(scope="module")
def built(scenes, root):
    return build_dataset(scenes, NAME, root / "tfds")


@pytest.fixture(scope="module")
def examples(built):
    """All examples of the native config, by scene name, as numpy (through tfds.as_numpy)."""
    out = {}
    for split in built.splits:
        for ex in tfds.as_numpy(load(NAME, built.data_dir, split=split)):
            out[ex["metadata"]["video_name"].decode()] = ex
    return out


def test_importing_kubric_gen_does_not_import_tensorflow():
    code = ("import sys, kubric_gen, kubric_gen.datasets, kubric_gen.datasets.cli; "
            "bad = [m for m in ('tensorflow', 'tensorflow_datasets', 'apache_beam') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_build_makes_train_and_validation_with_a_card(built):
    assert built.splits.keys() == {"train", "validation"} and built.num_examples == len(SEEDS)
    assert all(n > 0 for n in built.splits.values()) and not built.skipped and not built.reused
    assert built.config == f"{W}x{H}" and Path(built.path) == Path(built.data_dir) / NAME / f"{W}x{H}" / VERSION
    info = builder_from_directory(NAME, built.data_dir).info
    assert "movi_a" in info.description and "Kubric" in info.citation
    assert info.metadata["kubric_gen"]["world"] == "movi_a"
    assert info.metadata["kubric_gen"]["card"]["world"]["name"] == "movi_a"
    card = (Path(built.path) / "README.md").read_text()
    assert "movi_a" in card and "depth_range" in card
    assert not (Path(built.data_dir) / "downloads").exists()


def test_loads_both_ways(built, examples):
    by_load = tfds.builder(NAME, data_dir=built.data_dir)  # no builder class registered: read from the files
    by_dir = tfds.builder_from_directory(dataset_dir(NAME, built.data_dir))
    assert by_load.info.splits["train"].num_examples == by_dir.info.splits["train"].num_examples
    assert by_dir.info.splits.total_num_examples == len(SEEDS)
    ds = tfds.load(NAME, data_dir=built.data_dir, split="validation")
    names = {ex["metadata"]["video_name"].numpy().decode() for ex in ds}
    ds2 = by_dir.as_dataset(split="validation")
    assert names == {ex["metadata"]["video_name"].numpy().decode() for ex in ds2}
    assert set(examples) == {f"seed_{s:05d}" for s in SEEDS}


def test_features_are_movis_plus_extras(built):
    b = builder_from_directory(NAME, built.data_dir)
    spec = _flat(b.as_dataset(split="train").element_spec)
    for path, (shape, dtype) in {**MOVI_A, **OURS}.items():
        assert path in spec, path
        assert spec[path].dtype == dtype, (path, spec[path].dtype)
        assert tuple(spec[path].shape) == _expected_shape(shape, T, H, W), (path, spec[path].shape)
    assert set(spec) == set(MOVI_A) | set(OURS)  # nothing else, e.g. no top-level rng, no instances/segmentations
    features = b.info.features
    for name, names in CLASS_NAMES.items():
        assert features["instances"].feature[name].names == names
    for name, (kind, dtype) in ENCODINGS.items():
        feature = features[name]
        if kind == "Video":
            assert isinstance(feature, tfds.features.Video)
        else:
            assert isinstance(feature, tfds.features.Sequence) and feature.feature.__class__.__name__ == \
                kind.split("/")[1]
        assert np.dtype(feature.np_dtype) == np.dtype(dtype), name
    assert isinstance(features["instances"].feature["bboxes"].feature, tfds.features.BBoxFeature)


def test_decoded_layers_equal_the_scenes(scenes, examples):
    for name, ex in examples.items():
        exact = read_float_layers(scenes / name)
        meta = json.loads((scenes / name / "metadata.json").read_text())
        assert ex["metadata"]["num_instances"] == meta["metadata"]["num_instances"] == len(ex["instances"]["mass"])
        np.testing.assert_array_equal(ex["video"], read_rgba(scenes / name)[..., :3])
        np.testing.assert_array_equal(ex["segmentations"][..., 0], exact["segmentation"])
        lo, hi = ex["metadata"]["depth_range"]
        depth, finite = decode_depth(ex)[..., 0], np.isfinite(exact["depth"])
        step = (hi - lo) / 65535
        assert np.abs(depth - exact["depth"])[finite].max() <= step / 2 * 1.01 + 1e-5
        for direction in ("forward", "backward"):
            lo, hi = ex["metadata"][f"{direction}_flow_range"]
            err = np.abs(decode_flow(ex, direction) - exact[f"{direction}_flow"]).max()
            assert err <= (hi - lo) / 65535 / 2 * 1.01 + 1e-6, (name, direction, err)
            np.testing.assert_array_equal(ex[f"{direction}_flow_occlusion"][..., 0],
                                          exact[f"{direction}_flow_occlusion"].astype(np.uint8))
        normal = ex["normal"] / 65535 * 2 - 1
        assert np.abs(normal - exact["normal"]).max() <= 1 / 65535 + 1e-6
        assert np.abs(ex["object_coordinates"] / 65535 - exact["object_coordinates"]).max() <= 1 / 65535
        inst = meta["instances"]
        labels = [CLASS_NAMES["shape_label"][k] for k in ex["instances"]["shape_label"]]
        assert labels == [i["shape"] for i in inst]
        np.testing.assert_allclose(ex["instances"]["positions"], [i["positions"] for i in inst], rtol=1e-6)
        np.testing.assert_array_equal(ex["instances"]["visibility"], [i["visibility"] for i in inst])
        np.testing.assert_array_equal(ex["camera"]["intrinsics"], np.float32(meta["camera"]["intrinsics"]))
        assert ex["provenance"]["world"] == b"movi_a" and ex["provenance"]["seed"] == meta["metadata"]["seed"]
        assert ex["tracks"]["query_points"].shape == (16, 3)


def _movi_rule(a, f):
    """Kubric's subsample_nearest_neighbor on (T, H, W, ...): the pixel at floor((f-1)/2) of each block."""
    o = int(np.floor((f - 1) / 2))
    return a[:, o::f, o::f]


@pytest.mark.parametrize("f", [2, 4])
def test_downscaled_config_follows_movis_rule(built, scenes, examples, f):
    """A config downscaled by f (2: 16x16, 4: 8x8) is MOVi's: block-mean video, every other layer
    the full-resolution layer indexed [o::f, o::f] with o = floor((f-1)/2), flow ranges / f,
    the full-resolution visibility and bboxes; tracks and intrinsics follow the kept pixels."""
    from kubric_gen.io import SceneDir

    size = W // f
    config = f"{size}x{size}"
    small = build_dataset(scenes, NAME, built.data_dir, config=config)
    assert small.config == config and small.splits == built.splits
    b = tfds.builder_from_directory(dataset_dir(NAME, built.data_dir, config))
    spec = _flat(b.as_dataset(split="train").element_spec)
    for path, (shape, _) in {**MOVI_A, **OURS}.items():
        assert tuple(spec[path].shape) == _expected_shape(shape, T, size, size), path
    o = int(np.floor((f - 1) / 2))
    assert o == {2: 0, 4: 1}[f]
    seen = 0
    for split in small.splits:
        for ex in tfds.as_numpy(tfds.load(f"{NAME}/{config}", data_dir=built.data_dir, split=split)):
            name = ex["metadata"]["video_name"].decode()
            full, sd = examples[name], SceneDir(scenes / name)
            assert (ex["metadata"]["width"], ex["metadata"]["height"]) == (size, size)
            blocks = read_rgba(scenes / name)[..., :3].reshape(T, size, f, size, f, 3).mean(axis=(2, 4))
            np.testing.assert_array_equal(ex["video"], np.round(blocks).astype(np.uint8))
            for key in ("segmentations", "depth", "normal", "object_coordinates", "forward_flow", "backward_flow",
                        "forward_flow_occlusion", "backward_flow_occlusion"):
                np.testing.assert_array_equal(ex[key], _movi_rule(full[key], f), err_msg=key)
            np.testing.assert_array_equal(ex["segmentations"][..., 0], _movi_rule(sd.stored("segmentation"), f))
            for key in ("forward_flow_range", "backward_flow_range"):
                np.testing.assert_allclose(ex["metadata"][key], full["metadata"][key] / f, rtol=1e-6)
            np.testing.assert_array_equal(ex["metadata"]["depth_range"], full["metadata"]["depth_range"])
            # MOVi keeps the full-resolution visibility and (normalised) boxes
            for key in ("visibility", "bboxes", "bbox_frames", "image_positions"):
                a, b = ex["instances"][key], full["instances"][key]
                a, b = (v.to_list() if hasattr(v, "to_list") else v.tolist() for v in (a, b))  # ragged ones
                assert a == b, key
            # positions follow the kept pixels: the centre of full-resolution pixel (r*f+o, c*f+o) is the
            # centre of pixel (r, c): x -> (x - o - 0.5) / f + 0.5
            k_full, k = full["camera"]["intrinsics"].astype(np.float64), ex["camera"]["intrinsics"]
            corner = np.array([o + 0.5, o + 0.5, 1.0])  # pixel (0, 0)'s kept centre, homogeneous
            np.testing.assert_allclose(k @ np.linalg.solve(k_full, corner), [0.5, 0.5, 1.0], atol=1e-5)
            np.testing.assert_allclose(k[0, 0], k_full[0, 0] / f, rtol=1e-6)
            q, q_full = ex["tracks"]["query_points"], full["tracks"]["query_points"]
            np.testing.assert_allclose(q[:, 1:], (q_full[:, 1:] - o - 0.5) / f + 0.5, atol=1e-5)
            xy, xy_full = ex["tracks"]["target_points"], full["tracks"]["target_points"]
            behind = (xy_full == -1).all(-1)
            np.testing.assert_allclose(xy[~behind], (xy_full[~behind] - o - 0.5) / f + 0.5, atol=1e-5)
            assert (xy[behind] == -1).all()
            seen += 1
    assert seen == len(SEEDS)
    from kubric_gen.datasets.validate import check_dataset

    problems, count = check_dataset(small.path)
    assert problems == [] and count == len(SEEDS)
    with pytest.raises(DatasetError, match="integer factor"):
        build_dataset(scenes, NAME, built.data_dir, config="20x20")


def test_movi_style_input_pipeline_runs_an_epoch(built):
    def preprocess(ex):
        video = tf.cast(ex["video"], tf.float32) / 255.0
        flow = decode_flow(ex, "backward")
        return {"video": video, "segmentations": tf.cast(ex["segmentations"], tf.int32), "flow": flow,
                "depth": decode_depth(ex)}

    ds = load(NAME, built.data_dir, split="train", shuffle_files=True)
    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).batch(2).prefetch(1)
    seen = 0
    for batch in ds:
        assert batch["video"].shape[1:] == (T, H, W, 3) and batch["flow"].shape[1:] == (T, H, W, 2)
        assert batch["segmentations"].dtype == tf.int32 and float(tf.reduce_max(batch["video"])) <= 1.0
        seen += int(batch["video"].shape[0])
    assert seen == built.splits["train"]
    flows = load(NAME, built.data_dir, split="train").map(
        lambda ex: {"backward_flow": ex["backward_flow"], "metadata": {"backward_flow_range":
                                                                       ex["metadata"]["backward_flow_range"]}})
    batched = next(iter(tfds.as_numpy(flows.batch(2))))
    per_example = [decode_flow({"backward_flow": batched["backward_flow"][i],
                                "metadata": {"backward_flow_range": batched["metadata"]["backward_flow_range"][i]}},
                               "backward") for i in range(len(batched["backward_flow"]))]
    np.testing.assert_allclose(decode_flow(batched, "backward"), np.stack(per_example), rtol=1e-6)


def test_invalid_scene_directories_are_skipped_with_a_warning(scenes, root, caplog):
    mixed = root / "mixed"
    for seed in (0, 1, 2, 3):
        shutil.copytree(scenes / f"seed_{seed:05d}", mixed / f"seed_{seed:05d}")
    truncated = mixed / "seed_00001" / "metadata.json"
    truncated.write_text(truncated.read_text()[:200])
    (mixed / "seed_00002" / "rgba_00002.png").unlink()
    corrupt = mixed / "seed_00003" / "segmentation_00001.png"
    corrupt.write_bytes(corrupt.read_bytes()[:40])
    shutil.copytree(scenes / "seed_00000", mixed / "seed_00004")  # a damaged 16-bit PNG (CRC mismatch)
    damaged = mixed / "seed_00004" / "normal_00002.png"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    (mixed / ".tmp-seed_00009-abc").mkdir()  # a render in progress is not a scene
    with caplog.at_level(logging.WARNING):
        result = build_dataset(mixed, "kg_test_mixed", root / "tfds", splits="train=0.5,validation=0.5")
    assert result.num_examples == 1
    reasons = dict(result.skipped)
    assert len(reasons) == 4
    assert "metadata.json is not valid JSON" in reasons[str(mixed / "seed_00001")]
    assert "missing frames [2]" in reasons[str(mixed / "seed_00002")]
    assert str(mixed / "seed_00003") in reasons
    text = caplog.text
    assert all(f"seed_0000{k}" in text for k in (1, 2, 3)) and "skipping scene directory" in text
    assert "segmentation_00001.png" in text and "normal_00002.png" in text
    broken = root / "broken"
    shutil.copytree(mixed / "seed_00001", broken / "seed_00001")
    with pytest.raises(DatasetError, match="no complete scene directory"):
        build_dataset(broken, "kg_test_none", root / "tfds")


def test_rebuilding_reuses_or_needs_overwrite(built, scenes, root):
    again = build_dataset(scenes, NAME, built.data_dir)
    assert again.reused and again.splits == built.splits
    subset = root / "subset"
    shutil.copytree(scenes / "seed_00000", subset / "seed_00000")
    shutil.copytree(scenes / "seed_00001", subset / "seed_00001")
    with pytest.raises(DatasetError, match="--overwrite"):
        build_dataset(subset, NAME, root / "tfds")
    other = build_dataset(subset, NAME, root / "tfds_other")
    assert other.num_examples == 2
    shutil.copytree(scenes / "seed_00002", subset / "seed_00002")
    rebuilt = build_dataset(subset, NAME, root / "tfds_other", overwrite=True)
    assert rebuilt.num_examples == 3 and not rebuilt.reused


def test_rebuilt_when_a_scene_changed_refused_while_building_and_leftovers_removed(scenes, root, caplog):
    import fcntl

    mine = root / "changing"
    for seed in (0, 1):
        shutil.copytree(scenes / f"seed_0000{seed}", mine / f"seed_0000{seed}")
    first = build_dataset(mine, "kg_test_changing", root / "tfds_changing")
    assert build_dataset(mine, "kg_test_changing", root / "tfds_changing").reused
    # seed_00001 re-rendered with other content under the same name: not reused, rebuilt from the new files
    shutil.rmtree(mine / "seed_00001")
    shutil.copytree(scenes / "seed_00003", mine / "seed_00001")
    with caplog.at_level(logging.WARNING):
        again = build_dataset(mine, "kg_test_changing", root / "tfds_changing")
    assert not again.reused and "1 scene(s) changed" in caplog.text
    ex = {e["metadata"]["video_name"].decode(): e for e in tfds.as_numpy(
        tfds.builder_from_directory(again.path).as_dataset(split="all"))}
    np.testing.assert_array_equal(ex["seed_00001"]["video"], read_rgba(scenes / "seed_00003")[..., :3])
    # a build killed mid-way leaves TFDS's incomplete.* folder: the next build removes it
    config_dir = Path(first.path).parent
    (config_dir / "incomplete.ABC123_1.0.0").mkdir()
    build_dataset(mine, "kg_test_changing", root / "tfds_changing", overwrite=True)
    assert not list(config_dir.glob("incomplete.*"))
    # while another build holds the config, a second one is refused
    with open(config_dir / ".kubric_gen.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("pid 4242\n")
        lock.flush()
        with pytest.raises(DatasetError, match="being built by pid 4242"):
            build_dataset(mine, "kg_test_changing", root / "tfds_changing", overwrite=True)


def test_beam_build_matches_in_process(built, scenes, root, examples):
    pytest.importorskip("apache_beam")
    result = build_dataset(scenes, "kg_test_beam", root / "tfds", beam_options=["--runner=DirectRunner"])
    assert result.used_beam and result.splits == built.splits
    for split in built.splits:
        by_beam = {}
        for ex in tfds.as_numpy(load("kg_test_beam", result.data_dir, split=split)):
            name = ex["metadata"]["video_name"].decode()
            assert name not in by_beam, f"{split}: {name} twice in the Beam build"
            by_beam[name] = ex
        in_process = [ex["metadata"]["video_name"].decode()
                      for ex in tfds.as_numpy(load(NAME, built.data_dir, split=split))]
        assert sorted(by_beam) == sorted(in_process), split
        for name, ex in by_beam.items():  # every feature, nested: metadata, camera, instances, events, tracks...
            assert_same_tree(ex, examples[name], f"{split}/{name}")


@pytest.mark.skipif(not REFERENCE.exists(), reason="needs ../shared/reference")
def test_kubric_scene_directory_packages_with_movi_a_labels(root, built):
    result = build_dataset(REFERENCE, "kg_test_kubric", root / "tfds", config="64x64", splits="train=1")
    assert result.splits == {"train": 1}
    ex = next(iter(tfds.as_numpy(load("kg_test_kubric", result.data_dir, config="64x64"))))
    assert ex["video"].shape == (8, 64, 64, 3) and ex["metadata"]["num_instances"] == 7
    assert ex["provenance"]["world"] == b"movi_a" and not ex["forward_flow_occlusion"].any()
    ours = _flat(builder_from_directory(NAME, built.data_dir).as_dataset(split="train").element_spec)
    kubric = _flat(builder_from_directory("kg_test_kubric", result.data_dir, "64x64")
                   .as_dataset(split="train").element_spec)
    assert set(ours) == set(kubric)
    lo, hi = ex["metadata"]["depth_range"]
    assert 0 < lo < hi and np.isfinite(decode_depth(ex)).all()
    native = build_dataset(REFERENCE, "kg_test_kubric", root / "tfds", splits="train=1")
    ex = next(iter(tfds.as_numpy(load("kg_test_kubric", native.data_dir, config="128x128"))))
    layers = read_layers(REFERENCE)
    np.testing.assert_array_equal(ex["video"], read_rgba(REFERENCE)[..., :3])
    np.testing.assert_array_equal(ex["segmentations"][..., 0], layers["segmentation"])
    assert np.abs(ex["normal"] / 65535 * 2 - 1 - layers["normal"]).max() < 1e-6
    assert np.abs(decode_flow(ex, "forward") - layers["forward_flow"]).max() < 1e-5


MOVI_WORLDS = ("movi_a", "movi_b", "movi_c", "movi_d", "movi_e", "movi_f")


@pytest.mark.skipif(not REFERENCE.exists(), reason="needs ../shared/reference")
def test_the_name_movi_consumers_write_loads_our_build(root):
    """SAVi & co. write tfds.load("movi_a/128x128:1.0.0", data_dir=...): that exact string (and
    tfds.builder's) reads our build of a 128x128 scene, with no edit to the consumer's code."""
    from kubric_gen.datasets.builder import DatasetSpec, make_builder_class
    from kubric_gen.datasets.config import Resolution, check_name

    data_dir = str(root / "tfds_movi_names")
    for world in ("movi_a", "movi_e"):
        result = build_dataset(REFERENCE, world, data_dir, splits="train=1")
        assert (result.config, result.version) == ("128x128", "1.0.0")
        ds = tfds.load(f"{world}/128x128:1.0.0", data_dir=data_dir, split="train")
        ex = next(iter(tfds.as_numpy(ds)))
        assert ex["video"].shape == (8, 128, 128, 3) and ex["metadata"]["video_name"] == REFERENCE.name.encode()
        builder = tfds.builder(f"{world}/128x128:1.0.0", data_dir=data_dir)
        assert str(builder.info.version) == "1.0.0" and builder.info.splits["train"].num_examples == 1
        assert builder.info.metadata["kubric_gen"]["storage_revision"] >= 2
    assert VERSION == "1.0.0"
    for world in MOVI_WORLDS:  # the rule for every MOVi name: a valid name, no catalog dataset, version 1.0.0
        check_name(world)
        with pytest.raises(tfds.core.registered.DatasetNotFoundError):
            tfds.builder_cls(world)
        spec = DatasetSpec(name=world, world=world, label_schema={}, source=Resolution(256, 256), num_frames=24,
                           configs=(Resolution(256, 256), Resolution(128, 128)), split_paths={}, card={})
        cls = make_builder_class(spec)
        assert str(cls.VERSION) == "1.0.0" and [c.name for c in cls.BUILDER_CONFIGS] == ["256x256", "128x128"]


def test_an_older_storage_revision_is_rebuilt_not_reused(built, scenes, root, caplog):
    """A config prepared under the same version by an older storage (revision 1: flows as integer
    lists) is rebuilt, never served as if it were today's."""
    data_dir = root / "tfds_revision"
    first = build_dataset(scenes, "kg_test_revision", data_dir, config="8x8")
    meta_path = Path(first.path) / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["kubric_gen"].pop("storage_revision")  # as written before revisions were recorded
    meta_path.write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING):
        again = build_dataset(scenes, "kg_test_revision", data_dir, config="8x8")
    assert not again.reused and "stored as revision 1" in caplog.text
    assert json.loads(meta_path.read_text())["kubric_gen"]["storage_revision"] >= 2
    assert build_dataset(scenes, "kg_test_revision", data_dir, config="8x8").reused


def test_splits_are_a_deterministic_hash_of_the_scene_name():
    names = [f"seed_{i:05d}" for i in range(2000)]
    splits = assign_splits(names, parse_splits(None))
    assert splits == assign_splits(list(reversed(names)), parse_splits("train=0.9,validation=0.1"))
    assert 0.87 < len(splits["train"]) / len(names) < 0.93
    subset = assign_splits(names[:500], parse_splits(None))
    assert set(subset["validation"]) == set(splits["validation"]) & set(names[:500])
    three = assign_splits(names, parse_splits(["train", "validation", "test"]))
    assert [round(len(three[s]) / 2000, 1) for s in ("train", "validation", "test")] == [0.8, 0.1, 0.1]
    tiny = assign_splits(["a", "b"], parse_splits(None))
    assert len(tiny["train"]) == len(tiny["validation"]) == 1
    for name in ("a", "b", "c", "seed_00000"):
        assert assign_splits([name], parse_splits(None)) == {"train": [name], "validation": []}
    assert 0 <= scene_hash("x") < 1 and scene_hash("x") == scene_hash("x")
    for bad in ("train=0.5,validation=0.4", "train=1,all=0", "train=-1,validation=2", "train=x"):
        with pytest.raises(DatasetError):
            parse_splits(bad)


def test_build_dataset_command(scenes, root, capsys):
    from kubric_gen.datasets.cli import add_commands

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true")
    parser = argparse.ArgumentParser(prog="kubric-gen")
    add_commands(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(["build-dataset", str(scenes), "--name", "kg_test_cli", "--data-dir",
                              str(root / "tfds"), "--config", "16x16", "--no-beam"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert f"kg_test_cli/16x16:{VERSION}" in out
    line = next(line for line in out.splitlines() if line.startswith("load it with: "))
    call = line[len("load it with: "):]
    assert call == f"tfds.load('kg_test_cli/16x16:{VERSION}', data_dir={str(root / 'tfds')!r}, split='train')"
    assert len(list(eval(call, {"tfds": tfds}))) > 0  # the printed call works as printed
    for argv, message in ((["--name", "Bad-Name"], "snake_case"), (["--name", "mnist"], "TFDS catalog"),
                          (["--name", "ok", "--config", "abc"], "WxH")):
        args = parser.parse_args(["build-dataset", str(scenes), "--data-dir", str(root / "tfds"), "--no-beam",
                                  *argv])
        with pytest.raises(DatasetError, match=message):
            args.func(args)


def test_validate_reads_every_example_of_a_built_dataset(built, root, capsys):
    from kubric_gen.cli import main

    assert main(["validate", built.path]) == 0
    assert main(["validate", str(Path(built.data_dir) / NAME), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "dataset" and report["ok"]
    assert report["items"] and all(item["examples"] == built.num_examples for item in report["items"])
    damaged = root / "damaged" / NAME / "32x32" / VERSION
    shutil.copytree(built.path, damaged)
    record = sorted(damaged.glob("*train.tfrecord*"))[0]
    record.write_bytes(record.read_bytes()[: len(record.read_bytes()) // 2])  # a truncated record file
    assert main(["validate", str(root / "damaged")]) == 1
    out = capsys.readouterr().out
    assert "train" in out and "error" in out


def test_array_record_build_reads_with_data_source_like_tfds_load(scenes, root, examples, capsys):
    """`--file-format array_record`: tfds.data_source gives random access to every feature, equal to
    what tfds.load gives for the TFRecord build of the same scenes; validate reads it too."""
    from kubric_gen.cli import main
    from kubric_gen.datasets.loading import numpy_examples

    data_dir = root / "tfds_array_record"
    assert main(["build-dataset", str(scenes), "--name", NAME, "--data-dir", str(data_dir), "--no-beam",
                 "--file-format", "array_record"]) == 0
    out = capsys.readouterr().out
    assert "(array_record)" in out
    # what the command prints works for ArrayRecord (tfds.load raises NotImplementedError there): run it
    line = next(line for line in out.splitlines() if line.startswith("load it with: "))
    assert "tfds.load(" not in line.split("(tfds.load cannot")[0]
    source_call = re.search(r"tfds\.data_source\([^)]*\)", line).group(0)
    printed = eval(source_call, {"tfds": tfds})
    assert len(printed) > 0 and len(printed[0]["video"]) == T
    torch_call = re.search(r"kubric_gen\.datasets\.torch\.TFDSDataset\([^)]*\)", line).group(0)
    version = Path(dataset_dir(NAME, data_dir))
    assert list(version.glob("*.array_record-*")) and not list(version.glob("*.tfrecord*"))
    seen = set()
    for split in ("train", "validation"):
        source = tfds.data_source(NAME, data_dir=str(data_dir), split=split, download=False)
        builder = builder_from_directory(NAME, data_dir)
        for i, stacked in enumerate(numpy_examples(builder, split)):
            name = stacked["metadata"]["video_name"].decode()
            assert source[i]["metadata"]["video_name"].decode() == name  # random access, stored order
            assert_same_tree(stacked, examples[name])
            seen.add(name)
    assert seen == set(examples)
    assert main(["validate", str(data_dir)]) == 0
    # another file format for the same scenes rebuilds; the same one is reused
    assert build_dataset(scenes, NAME, data_dir, file_format="array_record").reused
    rebuilt = build_dataset(scenes, NAME, data_dir, file_format="tfrecord")
    assert not rebuilt.reused and list(Path(rebuilt.path).glob("*.tfrecord*"))
    with pytest.raises(DatasetError, match="--file-format: 'parquet'"):
        build_dataset(scenes, NAME, data_dir, file_format="parquet")
    pytest.importorskip("torch")  # the printed PyTorch call, as printed
    import kubric_gen.datasets.torch

    build_dataset(scenes, NAME, data_dir, file_format="array_record")
    torch_dataset = eval(torch_call, {"kubric_gen": kubric_gen})
    assert len(torch_dataset) == len(printed) and tuple(torch_dataset[0]["video"].shape) == (T, 3, H, W)


LABELLED_WORLD = '''
import kubric_gen as kg

CONFIG = {"resolution": [16, 16], "num_frames": 1}


def build(rng, config):
    scene = kg.Scene(resolution=tuple(config["resolution"]), num_frames=config["num_frames"])
    scene.add(kg.Cube(name="floor", scale=(5, 5, 0.1), position=(0, 0, -0.1), motion="static", is_background=True))
    scene.add(kg.Cube(name="rock", scale=0.4, position=(0, 0, 0.5), labels={"kind": "rock", "hardness": 7}))
    scene.add(kg.SunLight(direction=(0, 0.5, -1), strength=2.0))
    scene.camera = kg.PerspectiveCamera(position=(0, -6, 3), look_at=(0, 0, 0.5))
    return scene
'''


def _kubric_gen(*args, cwd):
    return subprocess.run([sys.executable, "-m", "kubric_gen.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_labels_without_a_schema_are_named_once_at_render_and_build(tmp_path):
    """A world that sets labels but declares no LABELS: `render` and `build-dataset` (real processes)
    each say in one line which labels its datasets leave out; build-dataset's stderr holds our lines
    only (no TensorFlow start-up notes, no FeatureConnector.dtype deprecation warnings)."""
    world = tmp_path / "labelled.py"
    world.write_text(LABELLED_WORLD)
    scenes = tmp_path / "scenes"
    render = _kubric_gen("render", world, "--seed", "0", "--output", scenes / "scene_00000000", "--samples", "1",
                         cwd=tmp_path)
    assert render.returncode == 0, render.stderr
    named = [line for line in render.stderr.splitlines() if "declares no label schema" in line]
    assert len(named) == 1 and "'hardness', 'kind'" in named[0], render.stderr
    meta = json.loads((scenes / "scene_00000000" / "metadata.json").read_text())
    assert meta["instances"][0]["kind"] == "rock"  # the labels are in metadata.json ...
    build = _kubric_gen("build-dataset", scenes, "--name", "kg_test_labelled", "--data-dir", tmp_path / "tfds",
                        "--splits", "train=1", cwd=tmp_path)  # Beam's DirectRunner: the default
    assert build.returncode == 0, build.stderr
    named = [line for line in build.stderr.splitlines() if "declares no label schema" in line]
    assert len(named) == 1 and "'hardness', 'kind'" in named[0], build.stderr
    instance = tfds.builder_from_directory(dataset_dir("kg_test_labelled", tmp_path / "tfds")).info.features[
        "instances"].feature
    assert set(instance.keys()) & {"kind", "hardness"} == set() and "asset_id" in instance.keys()  # ... not here
    for noise in ("is deprecated", "oneDNN", "cpu_feature_guard", "TF-TRT", "absl::InitializeLog", "WARNING: All log",
                  "Generating splits", "Shuffling", "\x1b[A", "dataset_builder"):
        assert noise not in build.stderr, (noise, build.stderr)
    lines = [line for line in build.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, build.stderr  # the labels' line; the summary is on stdout
    assert "kg_test_labelled/16x16:1.0.0" in build.stdout


@pytest.fixture
def full_disk(tmp_path):
    """A real file system that runs out of space: a 96 KiB tmpfs (mounting needs root: skipped without)."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("beam", [True, False], ids=["beam", "no-beam"])
def test_a_full_disk_is_one_line_and_leaves_nothing(scenes, full_disk, tmp_path, beam):
    """build-dataset onto a full disk (ENOSPC: TensorFlow's ResourceExhaustedError): exit 2, one line
    naming --data-dir, and nothing of the build left there (no .config/, lock or incomplete.*)."""
    proc = _kubric_gen("build-dataset", scenes, "--name", "kg_test_full", "--data-dir", full_disk,
                       *([] if beam else ["--no-beam"]), cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("kubric-gen: error: --data-dir: cannot write"), proc.stderr
    assert "No space left on device" in lines[0]
    assert list(full_disk.iterdir()) == []
