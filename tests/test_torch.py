"""`kubric_gen.datasets.torch`: samples in documented units from scene directories and from an
ArrayRecord build (the same tensors from both), transforms that keep every label consistent with
the image, and DataLoader workers."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import assert_same_samples

from kubric_gen import geometry
from kubric_gen.datasets.config import DatasetError
from kubric_gen.io import SceneDir
from kubric_gen.io.layers import boxes_from_segmentation

if os.environ.get("KUBRIC_GEN_REQUIRE_CONTAINER_TESTS"):  # CI installs every extra: no skipping there
    import torch
else:
    torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow_datasets")
kt = pytest.importorskip("kubric_gen.datasets.torch")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
NAME = "torch_movi_a"


@pytest.fixture(scope="module")
def scenes(movi_a_scene, tmp_path_factory):
    """A folder holding the shared MOVi-A scene (32x32, 3 frames) twice, under two names."""
    root = tmp_path_factory.mktemp("torch_scenes")
    for name in ("scene_a", "scene_b"):
        (root / name).symlink_to(movi_a_scene, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def array_record(scenes, tmp_path_factory):
    from kubric_gen.datasets import build_dataset

    data_dir = tmp_path_factory.mktemp("torch_tfds")
    result = build_dataset(scenes, NAME, data_dir, file_format="array_record", splits="train=1.0")
    assert result.file_format == "array_record" and result.splits == {"train": 2}
    return data_dir


def test_sample_units_match_the_scene_directory(scenes, movi_a_scene):
    ds = kt.SceneDirDataset(scenes)
    assert len(ds) == 2
    s, sd = ds[0], SceneDir(movi_a_scene)
    t, h, w = 3, 32, 32
    assert s["video"].shape == (t, 3, h, w) and s["video"].dtype == torch.float32
    np.testing.assert_allclose(s["video"].permute(0, 2, 3, 1).numpy(), sd.stored("rgba")[..., :3] / 255, atol=1e-7)
    np.testing.assert_array_equal(s["segmentation"].numpy(), sd.layer("segmentation"))
    lo, hi = sd.range("depth")
    assert np.abs(s["depth"][:, 0].numpy() - sd.layer("depth")).max() <= (hi - lo) / 65535 / 2 + 1e-5 * hi
    for name in ("forward_flow", "backward_flow"):
        lo, hi = sd.range(name)  # (d_row, d_col) pixels, as stored
        assert np.abs(s[name].permute(0, 2, 3, 1).numpy() - sd.layer(name)).max() <= (hi - lo) / 65535 / 2 + 1e-5
        np.testing.assert_array_equal(s[f"{name}_occlusion"].numpy(), sd.layer(f"{name}_occlusion").astype(bool))
    norms = s["normal"].norm(dim=1)[torch.from_numpy(sd.layer("segmentation") > 0)]
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-3)
    meta = sd.metadata
    n = len(meta["instances"])
    assert s["boxes"].shape == (n, t, 4) and s["instances"]["positions"].shape == (n, t, 3)
    vis, boxes, frames = boxes_from_segmentation(sd.layer("segmentation"), n)
    np.testing.assert_array_equal(s["instances"]["visibility"].numpy(), vis)
    for k in range(n):
        np.testing.assert_array_equal(np.nonzero(s["box_valid"][k].numpy())[0], frames[k])
        np.testing.assert_allclose(s["boxes"][k][s["box_valid"][k]].numpy(), boxes[k] * [h, w, h, w], atol=1e-4)
    labels = sd.label_schema
    shapes = next(lb for lb in labels.instance if lb.feature == "shape_label")
    assert [shapes.names[i] for i in s["instances"]["shape_label"].tolist()] == \
        [labels.instance_values(inst)["shape_label"] for inst in meta["instances"]]
    tracks = sd.tracks()
    np.testing.assert_array_equal(s["tracks"]["target_points"].numpy(), tracks.target_points)
    np.testing.assert_array_equal(s["tracks"]["occluded"].numpy(), tracks.occluded)
    cam = meta["camera"]
    np.testing.assert_allclose(s["camera"]["intrinsics"].numpy(),
                               geometry.intrinsics(cam["focal_length"], cam["sensor_width"], (w, h)), rtol=1e-6)
    assert s["video_name"] == "scene_a"


def test_array_record_build_gives_the_same_samples(scenes, array_record):
    from_dirs = kt.SceneDirDataset(scenes)
    from_records = kt.TFDSDataset(NAME, array_record, split="train")
    assert len(from_records) == 2
    by_name = {from_dirs[i]["video_name"]: from_dirs[i] for i in range(len(from_dirs))}
    for i in range(len(from_records)):
        sample = from_records[i]
        assert_same_samples(sample, by_name[sample["video_name"]])
    assert from_records[-1]["video_name"] == from_records[1]["video_name"]
    with pytest.raises(IndexError):
        from_records[2]


def test_layers_pick_what_is_decoded(scenes):
    s = kt.SceneDirDataset(scenes, layers=("video", "forward_flow"))[0]
    assert {"video", "forward_flow"} <= s.keys() and not ({"depth", "segmentation", "normal"} & s.keys())
    with pytest.raises(DatasetError, match="layers: 'flow'"):
        kt.SceneDirDataset(scenes, layers=("flow",))


def test_resize_and_crop_keep_labels_consistent(scenes):
    s = kt.SceneDirDataset(scenes)[0]
    top, left = 5, 9
    big = kt.Resize((64, 64))(s)  # x2: nearest-pixel layers are exact copies of the source pixels
    out = kt.Compose([kt.Resize((64, 64)), kt.CenterCrop((40, 30))])(s)
    top, left = (64 - 40) // 2, (64 - 30) // 2
    assert out["video"].shape == (3, 3, 40, 30) and out["segmentation"].shape == (3, 40, 30)
    rows, cols = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    src = (rows // 2, cols // 2)
    assert torch.equal(big["segmentation"], s["segmentation"][:, src[0], src[1]])
    torch.testing.assert_close(big["forward_flow"], 2 * s["forward_flow"][:, :, src[0], src[1]])  # pixels scale
    assert torch.equal(big["depth"], s["depth"][:, :, src[0], src[1]])  # metres do not
    torch.testing.assert_close(big["camera"]["intrinsics"],
                               torch.from_numpy(geometry.intrinsics(
                                   float(s["camera"]["focal_length"]), float(s["camera"]["sensor_width"]),
                                   (64, 64)).astype(np.float32)))
    assert torch.equal(out["segmentation"], big["segmentation"][:, top:top + 40, left:left + 30])
    k = out["camera"]["intrinsics"]
    assert k[0, 2] == big["camera"]["intrinsics"][0, 2] - left and k[1, 2] == big["camera"]["intrinsics"][1, 2] - top

    # every visible track lands on the same object in the transformed segmentation as before
    xy, occluded = out["tracks"]["target_points"], out["tracks"]["occluded"]
    xy0, occluded0 = s["tracks"]["target_points"], s["tracks"]["occluded"]
    checked = 0
    for p, t in zip(*torch.nonzero(~occluded, as_tuple=True), strict=True):
        x, y = xy[p, t]
        x0, y0 = xy0[p, t]
        assert not occluded0[p, t]
        assert out["segmentation"][t, int(y), int(x)] == s["segmentation"][t, int(y0), int(x0)]
        checked += 1
    assert checked > 20
    outside = (xy[..., 0] < 0) | (xy[..., 0] >= 30) | (xy[..., 1] < 0) | (xy[..., 1] >= 40)
    assert outside.any() and occluded[outside].all()  # out of view counts as occluded

    # boxes: exact after the x2 resize; after the crop they hold the object's visible pixels
    n = s["boxes"].shape[0]
    _, boxes, frames = boxes_from_segmentation(big["segmentation"].numpy(), n)
    for i in range(n):
        np.testing.assert_allclose(big["boxes"][i][big["box_valid"][i]].numpy(), boxes[i] * 64, atol=1e-4)
    _, boxes, frames = boxes_from_segmentation(out["segmentation"].numpy(), n)
    size = np.array([40, 30, 40, 30])
    for i in range(n):
        assert set(frames[i].tolist()) <= set(torch.nonzero(out["box_valid"][i])[:, 0].tolist())
        for b, f in zip(boxes[i] * size, frames[i], strict=True):
            got = out["boxes"][i, f].numpy()
            assert got[0] <= b[0] + 1e-4 and got[1] <= b[1] + 1e-4 and got[2] >= b[2] - 1e-4 and got[3] >= b[3] - 1e-4


def test_random_crop_is_seeded_by_torch(scenes):
    s = kt.SceneDirDataset(scenes)[0]
    crop = kt.RandomCrop(16)
    torch.manual_seed(3)
    a = crop(s)
    torch.manual_seed(3)
    b = crop(s)
    assert_same_samples(a, b)
    with pytest.raises(ValueError, match="larger than the image"):
        kt.RandomCrop(33)(s)


def test_dataloader_workers_and_padding(scenes, array_record):
    loader = torch.utils.data.DataLoader(kt.SceneDirDataset(scenes, transform=kt.RandomCrop(24)), batch_size=2,
                                         num_workers=2, collate_fn=kt.collate)
    (batch,) = list(loader)
    assert batch["video"].shape == (2, 3, 3, 24, 24) and batch["video_name"] == ["scene_a", "scene_b"]
    n = batch["boxes"].shape[1]
    assert batch["instance_valid"].shape == (2, n) and batch["instance_valid"].all()
    records = kt.TFDSDataset(NAME, array_record, layers=("video",))
    loader = torch.utils.data.DataLoader(records, batch_size=1, num_workers=2, collate_fn=kt.collate,
                                         multiprocessing_context="spawn")
    assert sorted(b["video_name"][0] for b in loader) == ["scene_a", "scene_b"]
    records[0]  # this process has read ArrayRecord files: a forked worker says what to do instead of crashing
    loader = torch.utils.data.DataLoader(records, batch_size=1, num_workers=1)
    with pytest.raises(DatasetError, match="multiprocessing_context='spawn'"):
        list(loader)


def test_collate_pads_instances_and_tracks(scenes):
    a = kt.SceneDirDataset(scenes)[0]
    b = dict(a, boxes=a["boxes"][:2], box_valid=a["box_valid"][:2],
             instances={k: v[:2] for k, v in a["instances"].items()},
             tracks={k: v[:5] for k, v in a["tracks"].items()})
    batch = kt.collate([a, b])
    n, p = a["boxes"].shape[0], a["tracks"]["query_points"].shape[0]
    assert batch["instances"]["positions"].shape[:2] == (2, n) and batch["tracks"]["target_points"].shape[:2] == (2, p)
    assert batch["instance_valid"][1].tolist() == [True] * 2 + [False] * (n - 2)
    assert batch["track_valid"][1].sum() == 5 and not batch["box_valid"][1, 2:].any()


def test_a_tfrecord_build_is_refused_with_advice(scenes, tmp_path):
    from kubric_gen.datasets import build_dataset

    build_dataset(scenes, "torch_tfrecord", tmp_path, splits="train=1.0")
    with pytest.raises(DatasetError, match="--file-format array_record"):
        kt.TFDSDataset("torch_tfrecord", tmp_path)


def test_a_worker_failing_on_a_corrupt_scene_names_it(movi_a_scene, tmp_path):
    """A scene directory damaged after it was listed (a truncated segmentation PNG): the error that
    reaches the training loop from a DataLoader worker names that scene directory."""
    import shutil

    for name in ("scene_a", "scene_b"):
        shutil.copytree(movi_a_scene, tmp_path / name)
    dataset = kt.SceneDirDataset(tmp_path)
    png = tmp_path / "scene_b" / "segmentation_00001.png"
    png.write_bytes(png.read_bytes()[:40])
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=1, collate_fn=kt.collate)
    with pytest.raises(DatasetError) as raised:
        list(loader)
    message = str(raised.value)
    assert "DataLoader worker" in message  # raised in the worker, re-raised here
    assert f"scene directory {tmp_path / 'scene_b'}: " in message and "segmentation_00001.png" in message
    assert dataset[0]["video_name"] == "scene_a"  # the other scene still reads
