"""TFDS and PyTorch datasets of scenes with several cameras (kubric_gen.datasets).

Two tiny stereo scenes (2 cameras, 32x32, 4 frames) are rendered once per module and packaged
for real: every decoded feature of a multi-camera example equals what `SceneDir` reads from the
views (to the quantisation step), the cross-view tracks equal `SceneDir.cross_view()`'s, each
camera's slice of a downscaled config equals the one-camera packaging of that view, TFDS loads
the dataset in a fresh process (which imports the camera-axis feature by name), PyTorch samples
from the scene directories equal those from the ArrayRecord build, and a folder mixing one- and
two-camera scenes is a one-line error naming the scene.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY, assert_same_tree

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
tfds = pytest.importorskip("tensorflow_datasets")

from kubric_gen import geometry  # noqa: E402
from kubric_gen.datasets import DatasetError, Resolution, build_dataset, decode_depth, decode_flow  # noqa: E402
from kubric_gen.datasets.loading import numpy_examples, view_examples  # noqa: E402
from kubric_gen.datasets.scenes import read_example  # noqa: E402
from kubric_gen.io import SceneDir, SceneDirError  # noqa: E402

NAME = "kg_test_stereo"
T, H, W = 4, 32, 32
CAMERAS = ["left", "right"]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Two stereo scene directories (views left/ and right/), rendered once (with intrinsic images)."""
    from kubric_gen.generate import generate_scene

    root = tmp_path_factory.mktemp("stereo_scenes")
    for seed in (0, 1):
        generate_scene("stereo", seed, root / f"scene_{seed:05d}", dataclasses.replace(TINY, intrinsics=True),
                       {"resolution": [W, H], "num_frames": T},
                       num_tracks=48, preview=False)
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("stereo_tfds")


@pytest.fixture(scope="module")
def built(scenes, data_dir):
    result = build_dataset(scenes, NAME, data_dir, splits="train=1.0")
    assert result.splits == {"train": 2} and not result.skipped, result.skipped
    return result


@pytest.fixture(scope="module")
def examples(built, data_dir):
    """The TFRecord build's examples through tfds.load, by scene name."""
    ds = tfds.load(NAME, data_dir=str(data_dir), split="train", download=False)
    return {ex["metadata"]["video_name"].decode(): ex for ex in tfds.as_numpy(ds)}


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_features_have_a_camera_axis(built, data_dir):
    builder = tfds.builder_from_directory(built.path)
    features = builder.info.features
    c = len(CAMERAS)
    assert features["video"].shape == (c, T, H, W, 3) and features["video"].dtype == np.uint8
    for key, shape, dtype in [("segmentations", (c, T, H, W, 1), np.uint8), ("depth", (c, T, H, W, 1), np.uint16),
                              ("forward_flow", (c, T, H, W, 2), np.uint16), ("normal", (c, T, H, W, 3), np.uint16),
                              ("object_coordinates", (c, T, H, W, 3), np.uint16),
                              ("forward_flow_occlusion", (c, T, H, W, 1), np.uint8)]:
        assert (features[key].shape, features[key].dtype) == (shape, dtype), key
    instances = features["instances"].feature
    assert instances["visibility"].shape == (c, T) and instances["bboxes"].shape == (c, T, 4)
    assert instances["positions"].shape == (T, 3) and "bbox_frames" not in instances
    assert features["camera"]["positions"].shape == (c, T, 3) and features["camera"]["intrinsics"].shape == (c, 3, 3)
    assert features["multiview_tracks"]["target_points"].shape == (c, None, T, 2)
    assert builder.info.metadata["kubric_gen"]["cameras"] == CAMERAS
    # the stored encodings: each view's frames as the PNGs of a one-camera dataset
    assert type(features["video"].feature).__name__ == "Video"
    assert type(features["depth"].feature.feature).__name__ == "Image"
    assert "Cameras: 2 (left, right)" in (data_dir / NAME / "32x32" / "1.0.0" / "README.md").read_text()


def test_every_feature_equals_the_views(scenes, examples):
    assert sorted(examples) == ["scene_00000", "scene_00001"]
    for name, ex in examples.items():
        _check_against_views(ex, SceneDir(scenes / name))


def _check_against_views(ex: dict, sd: SceneDir) -> None:
    """Every decoded feature of one example equals the scene directory's (to the quantisation step)."""
    name = sd.name
    flat = _flat(ex)
    checked = set()

    def same(key, expected, **tol):
        checked.add(key)
        if tol:
            np.testing.assert_allclose(flat[key], expected, err_msg=key, **tol)
        else:
            np.testing.assert_array_equal(flat[key], expected, err_msg=key)

    meta = sd.metadata
    schema = sd.label_schema
    same("metadata/video_name", name.encode())
    same("metadata/width", W)
    same("metadata/height", H)
    same("metadata/num_frames", T)
    same("metadata/num_instances", len(meta["instances"]))
    same("metadata/num_cameras", 2)
    same("metadata/camera_names", [n.encode() for n in CAMERAS])
    same("camera/name", [n.encode() for n in CAMERAS])
    assert sd.camera_names == CAMERAS
    views = sd.views
    same("metadata/depth_range", [v.range("depth") for v in views], rtol=1e-6)
    for d in ("forward", "backward"):
        same(f"metadata/{d}_flow_range", [v.range(f"{d}_flow") for v in views], rtol=1e-6)
    same("video", np.stack([v.stored("rgba")[..., :3] for v in views]))
    same("segmentations", np.stack([v.layer("segmentation") for v in views])[..., None])
    same("normal", np.stack([v.stored("normal") for v in views]))
    same("object_coordinates", np.stack([v.stored("object_coordinates") for v in views]))
    for d in ("forward", "backward"):
        same(f"{d}_flow_occlusion", np.stack([v.layer(f"{d}_flow_occlusion") for v in views])[..., None])
    depth, checked_depth = decode_depth(ex)[..., 0], flat["depth"]
    for c, v in enumerate(views):
        lo, hi = v.range("depth")
        exact = v.layer("depth")
        seen = np.isfinite(exact)
        assert np.abs(depth[c][seen] - exact[seen]).max() <= (hi - lo) / 65535 / 2 + 1e-4 * hi
        for d in ("forward", "backward"):
            lo, hi = v.range(f"{d}_flow")
            assert np.abs(decode_flow(ex, d)[c] - v.layer(f"{d}_flow")).max() <= (hi - lo) / 65535 / 2 + 1e-5
    assert checked_depth.shape == (2, T, H, W, 1)
    checked |= {"depth", "forward_flow", "backward_flow"}

    cams = [v.metadata["camera"] for v in views]
    for key in ("focal_length", "sensor_width", "field_of_view", "positions", "quaternions"):
        same(f"camera/{key}", [cam[key] for cam in cams], rtol=1e-6, atol=1e-6)
    same("camera/intrinsics", [geometry.intrinsics(cam["focal_length"], cam["sensor_width"], (W, H))
                               for cam in cams], rtol=1e-6)

    # instances: the scene's own (shared ids) and each view's per-camera fields
    shared = meta["instances"]
    for key in ("mass", "friction", "restitution", "positions", "quaternions", "velocities",
                "angular_velocities", "bboxes_3d"):
        same(f"instances/{key}", [inst[key] for inst in shared], rtol=1e-6, atol=1e-6)
    for label in schema.instance:
        values = [schema.instance_values(inst)[label.feature] for inst in shared]
        if label.kind == "class":
            values = [label.names.index(v) for v in values]
        elif label.kind == "text":
            values = [v.encode() for v in values]
        same(f"instances/{label.feature}", values, **({"rtol": 1e-6} if label.kind == "float" else {}))
    per_view = [v.metadata["instances"] for v in views]
    same("instances/image_positions", [[pv[k]["image_positions"] for pv in per_view]
                                       for k in range(len(shared))], rtol=1e-6, atol=1e-6)
    same("instances/visibility", [[pv[k]["visibility"] for pv in per_view] for k in range(len(shared))])
    boxes = np.zeros((len(shared), 2, T, 4), np.float32)
    for k in range(len(shared)):
        for c, pv in enumerate(per_view):
            if pv[k]["bbox_frames"]:
                boxes[k, c, pv[k]["bbox_frames"]] = np.clip(pv[k]["bboxes"], 0, 1)
    same("instances/bboxes", boxes, rtol=1e-6, atol=1e-7)
    assert (flat["instances/visibility"] > 0).any()

    # collisions: one simulation, each camera's image position
    events = [v.events["collisions"] for v in views]
    assert len(events[0]) == len(flat["events/collisions/force"]) > 0
    same("events/collisions/instances", [[i if i >= 0 else 65535 for i in e["instances"]] for e in events[0]])
    same("events/collisions/frame", [int(np.floor(e["frame"] + 0.5)) for e in events[0]])
    for key in ("force", "position", "contact_normal"):
        same(f"events/collisions/{key}", [e[key] for e in events[0]], rtol=1e-6, atol=1e-6)
    same("events/collisions/image_position", [[ev[i]["image_position"] for ev in events]
                                              for i in range(len(events[0]))], rtol=1e-6, atol=1e-6)

    # tracks: each view's own, and the cross-view ones
    tracks = [v.tracks() for v in views]
    for key in ("query_points", "target_points", "occluded"):
        same(f"tracks/{key}", [getattr(t, key) for t in tracks])
    cross = sd.cross_view()
    for key in ("query_points", "query_camera", "target_points", "occluded"):
        same(f"multiview_tracks/{key}", getattr(cross, key))
    same("multiview_tracks/query_world", cross.query_world, rtol=1e-6, atol=1e-5)
    assert flat["multiview_tracks/query_points"].shape == (48, 3)

    same("provenance/world", b"stereo")
    same("provenance/seed", meta["metadata"]["seed"])
    same("provenance/config", json.dumps(meta["flags"], sort_keys=True).encode())
    same("provenance/record", json.dumps(sd.provenance, sort_keys=True).encode())
    for key, value in schema.scene_values(meta).items():
        same(key, value.encode())
    assert checked == set(flat), set(flat) ^ checked  # every decoded feature was compared


def test_downscaled_config_is_each_view_downscaled_as_one_camera(scenes, data_dir):
    """A 16x16 config: each camera's slice equals the one-camera packaging of that view at 16x16
    (MOVi's rule: block-mean video, nearest layers, halved flow ranges, the full-resolution
    visibility and boxes); the cross-view tracks follow the kept pixels too (behind-camera points kept)."""
    result = build_dataset(scenes, NAME, data_dir, config="16x16", file_format="array_record", splits="train=1.0")
    builder = tfds.builder_from_directory(result.path)
    assert builder.info.features["video"].shape == (2, T, 16, 16, 3)
    target = Resolution(16, 16)
    for ex in numpy_examples(builder, "train"):
        name = ex["metadata"]["video_name"].decode()
        sd = SceneDir(scenes / name)
        views = view_examples(ex)
        assert list(views) == CAMERAS
        for camera, view in views.items():
            _, one = read_example(sd.view(camera).path, target, check=False)
            for key in ("video", "segmentations", "forward_flow", "backward_flow", "depth", "normal",
                        "object_coordinates", "forward_flow_occlusion", "backward_flow_occlusion", "tracks",
                        "camera"):
                assert_same_tree(view[key], one[key], key)
            for key in ("depth_range", "forward_flow_range", "backward_flow_range", "width", "height"):
                np.testing.assert_array_equal(view["metadata"][key], one["metadata"][key], err_msg=key)
            for k, inst in enumerate(one["instances"]):
                for key in ("visibility", "image_positions", "bbox_frames"):
                    np.testing.assert_array_equal(view["instances"][key][k], inst[key], err_msg=key)
                np.testing.assert_allclose(view["instances"]["bboxes"][k], inst["bboxes"], atol=1e-7)
        cross = sd.cross_view()
        xy = ex["multiview_tracks"]["target_points"]
        behind = (cross.target_points == -1).all(-1)
        # MOVi's rule for f = 2 keeps pixel 2c (offset 0): x -> (x - 0.5) / 2 + 0.5
        np.testing.assert_allclose(xy[~behind], (cross.target_points[~behind] - 0.5) / 2 + 0.5, atol=1e-5)
        assert (xy[behind] == -1).all()
        np.testing.assert_allclose(ex["multiview_tracks"]["query_points"],
                                   cross.query_points * [1, 0.5, 0.5] + [0, 0.25, 0.25], atol=1e-5)


def test_fresh_process_loads_the_dataset_and_validate_passes(built, data_dir, examples):
    """TFDS imports the camera-axis feature by the name features.json records; the dataset's
    own checks (kubric-gen validate DATASET) pass."""
    from kubric_gen.datasets.validate import check_dataset

    code = ("import tensorflow_datasets as tfds, sys; "
            f"ds = tfds.load({NAME!r}, data_dir={str(data_dir)!r}, split='train'); "
            "ex = next(iter(tfds.as_numpy(ds))); print(ex['video'].shape, ex['depth'].dtype, "
            "'kubric_gen.datasets.torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == f"(2, {T}, {H}, {W}, 3) uint16 False"
    problems, count = check_dataset(built.path)
    assert problems == [] and count == 2


def test_validate_finds_problems_of_one_camera_and_across_cameras(examples):
    from kubric_gen.datasets.validate import _check_multiview

    ex = examples["scene_00000"]
    assert _check_multiview(ex, "x", W, H, T, 2) == []
    bad = {**ex, "segmentations": ex["segmentations"].copy(),
           "instances": {**ex["instances"], "visibility": ex["instances"]["visibility"].copy()},
           "multiview_tracks": {**ex["multiview_tracks"], "query_camera": ex["multiview_tracks"]["query_camera"] + 2}}
    bad["segmentations"][1, 0, 0, 0] = 200
    k, c, t = np.argwhere(ex["instances"]["visibility"] > 0)[0]
    bad["instances"]["visibility"][k, c, t] = 0  # its box stays
    messages = [p.message for p in _check_multiview(bad, "x", W, H, T, 2)]
    assert any("bboxes are not zero where the camera does not see" in m for m in messages), messages
    assert any(f"instances/visibility[{k}] is not the pixel count" in m for m in messages), messages
    assert any("segmentation id 200" in m for m in messages), messages
    assert [p.file for p in _check_multiview(bad, "x", W, H, T, 2) if "segmentation id 200" in p.message] == \
        ["x camera right"]
    assert any("query_camera" in m for m in messages), messages
    assert "num_cameras" in _check_multiview(ex, "x", W, H, T, 3)[0].message


def test_mixing_one_and_two_camera_scenes_is_a_clear_error(scenes, movi_a_scene, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a_stereo").symlink_to(scenes / "scene_00000", target_is_directory=True)
    (mixed / "b_movi_a").symlink_to(movi_a_scene, target_is_directory=True)
    with pytest.raises(DatasetError) as e:
        build_dataset(mixed, "kg_test_mixed", tmp_path / "tfds")
    message = str(e.value)
    assert "\n" not in message and "b_movi_a has one camera but a_stereo has 2 cameras (left, right)" in message
    assert message.startswith("SCENES_DIR: ")
    kt = pytest.importorskip("kubric_gen.datasets.torch")
    with pytest.raises(DatasetError, match="b_movi_a has one camera"):
        kt.SceneDirDataset(mixed)
    with pytest.raises(SceneDirError, match="2 cameras \\(left, right\\), the dataset has one camera"):
        read_example(scenes / "scene_00000", cameras=(), check=False)


def test_torch_samples_from_scene_dirs_equal_the_array_record_build(scenes, tmp_path, examples):
    kt = pytest.importorskip("kubric_gen.datasets.torch")
    import torch
    from conftest import assert_same_samples

    build_dataset(scenes, "kg_test_stereo_records", tmp_path, file_format="array_record", splits="train=1.0")
    from_dirs = kt.SceneDirDataset(scenes)
    from_records = kt.TFDSDataset("kg_test_stereo_records", tmp_path)
    assert len(from_dirs) == len(from_records) == 2
    by_name = {from_dirs[i]["video_name"]: from_dirs[i] for i in range(2)}
    for i in range(2):
        sample = from_records[i]
        assert_same_samples(sample, by_name[sample["video_name"]])
    s = by_name["scene_00000"]
    sd = SceneDir(scenes / "scene_00000")
    n = len(sd.metadata["instances"])
    assert s["cameras"] == CAMERAS and s["video"].shape == (2, T, 3, H, W) and s["segmentation"].shape == (2, T, H, W)
    assert s["depth"].shape == (2, T, 1, H, W) and s["boxes"].shape == (n, 2, T, 4)
    assert s["camera"]["intrinsics"].shape == (2, 3, 3) and s["tracks"]["target_points"].shape == (2, 48, T, 2)
    for c, view in enumerate(sd.views):
        np.testing.assert_allclose(s["video"][c].permute(0, 2, 3, 1).numpy(), view.stored("rgba")[..., :3] / 255,
                                   atol=1e-7)
        np.testing.assert_array_equal(s["segmentation"][c].numpy(), view.layer("segmentation"))
        visibility = np.array([inst["visibility"] for inst in view.metadata["instances"]])
        np.testing.assert_array_equal(s["instances"]["visibility"][:, c].numpy(), visibility)
        np.testing.assert_array_equal(s["box_valid"][:, c].numpy(), visibility > 0)
    cross = sd.cross_view()
    np.testing.assert_array_equal(s["multiview_tracks"]["target_points"].numpy(), cross.target_points)
    np.testing.assert_array_equal(s["multiview_tracks"]["query_camera"].numpy(), cross.query_camera)

    # transforms move every camera's layers and labels together; collate pads along the track axis
    out = kt.Compose([kt.Resize((64, 64)), kt.CenterCrop((40, 30))])(s)
    top, left = (64 - 40) // 2, (64 - 30) // 2
    assert out["video"].shape == (2, T, 3, 40, 30) and out["segmentation"].shape == (2, T, 40, 30)
    rows, cols = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    big = s["segmentation"][..., rows // 2, cols // 2]
    assert torch.equal(out["segmentation"], big[..., top:top + 40, left:left + 30])
    k = out["camera"]["intrinsics"]
    torch.testing.assert_close(k[:, 0, 2], s["camera"]["intrinsics"][:, 0, 2] * 2 - left)
    xy, xy0 = out["multiview_tracks"]["target_points"], s["multiview_tracks"]["target_points"]
    visible = ~out["multiview_tracks"]["occluded"]
    torch.testing.assert_close(xy[visible], (xy0 * 2 - torch.tensor([left, top]))[visible])
    short = dict(s, tracks={k_: v[:, :5] for k_, v in s["tracks"].items()},
                 multiview_tracks={k_: v[:, :7] if k_ in ("target_points", "occluded") else v[:7]
                                   for k_, v in s["multiview_tracks"].items()})
    batch = kt.collate([s, short])
    assert batch["video"].shape == (2, 2, T, 3, H, W) and batch["cameras"] == [CAMERAS, CAMERAS]
    assert batch["tracks"]["target_points"].shape == (2, 2, 48, T, 2) and batch["track_valid"][1].sum() == 5
    assert batch["multiview_tracks"]["target_points"].shape == (2, 2, 48, T, 2)
    assert batch["multiview_tracks"]["query_points"].shape == (2, 48, 3)
    assert batch["multiview_track_valid"][1].sum() == 7 and batch["multiview_track_valid"][0].all()


def test_extras_have_a_camera_axis_and_each_cameras_values(scenes, tmp_path):
    """--extras on stereo scenes: every extra feature stacks the views' values along the camera
    axis; the instances' amodal boxes are dense (C, T, 4) with zeros where a view has none."""
    from kubric_gen.io import format as fmt

    build_dataset(scenes, "kg_stereo_extras", tmp_path, splits="train=1.0",
                  extras="amodal,scene_flow,occlusion_boundaries,intrinsics")
    ds = tfds.load("kg_stereo_extras", data_dir=str(tmp_path), split="train", download=False)
    for ex in tfds.as_numpy(ds):
        sd = SceneDir(scenes / ex["metadata"]["video_name"].decode())
        for c, view in enumerate(sd.views):
            masks, flow = view.amodal(), view.scene_flow()
            np.testing.assert_array_equal(ex["instances"]["amodal_masks"][:, c], masks)
            for name in fmt.SCENE_FLOW_ARRAYS:
                np.testing.assert_array_equal(ex[name][c], flow[name])
            np.testing.assert_array_equal(ex["occlusion_boundaries"][c][..., 0], view.occlusion_boundaries())
            images = view.intrinsics()
            for name in (*fmt.INTRINSIC_IMAGES, fmt.INTRINSIC_MASK):
                np.testing.assert_array_equal(ex[name][c], images[name])
            for k, inst in enumerate(view.metadata["instances"]):
                np.testing.assert_array_equal(ex["instances"]["visible_fraction"][k, c],
                                              np.asarray(inst["visible_fraction"], np.float32))
                boxes = ex["instances"]["amodal_bboxes"][k, c]
                frames = inst["amodal_bbox_frames"]
                np.testing.assert_allclose(boxes[frames], np.reshape(inst["amodal_bboxes"], (-1, 4)), atol=1e-7)
                assert not np.delete(boxes, frames, axis=0).any()


def test_pytorch_extras_have_the_camera_axis(scenes):
    kt = pytest.importorskip("kubric_gen.datasets.torch")
    sample = kt.SceneDirDataset(scenes, extras="amodal,scene_flow,occlusion_boundaries,intrinsics")[0]
    sd = SceneDir(sorted(scenes.iterdir())[0])
    n = sample["boxes"].shape[0]
    assert sample["instances"]["amodal_masks"].shape == (n, 2, T, H, W)
    assert sample["forward_scene_flow"].shape == (2, T, 3, H, W)
    assert sample["occlusion_boundaries"].shape == (2, T, H, W)
    assert sample["albedo"].shape == (2, T, 3, H, W) and sample["mirror_or_transparent"].shape == (2, T, H, W)
    for c, view in enumerate(sd.views):
        np.testing.assert_array_equal(sample["instances"]["amodal_masks"][:, c].numpy(), view.amodal())
        valid = sample["amodal_box_valid"][:, c].numpy()
        pixels = np.asarray([inst["amodal_pixels"] for inst in view.metadata["instances"]])
        np.testing.assert_array_equal(valid, pixels > 0)
