"""`build-dataset --extras`: amodal masks, scene flow, occlusion boundaries and intrinsic images as TFDS features,
decoded by tfds.load to what SceneDir reads; a build without extras has none of them."""

import shutil

import numpy as np
import pytest

from kubric_gen.cli import main
from kubric_gen.datasets import build_dataset
from kubric_gen.datasets.extras import EXTRAS
from kubric_gen.io import SceneDir
from kubric_gen.io import format as fmt

pytestmark = pytest.mark.filterwarnings("ignore:label\\(\\) is deprecated:DeprecationWarning")  # as test_datasets.py
tfds = pytest.importorskip("tensorflow_datasets")

EXTRA_KEYS = {*fmt.SCENE_FLOW_ARRAYS, "occlusion_boundaries", *fmt.INTRINSIC_IMAGES, fmt.INTRINSIC_MASK}
EXTRA_INSTANCE_KEYS = {"amodal_masks", *fmt.AMODAL_FIELDS}


@pytest.fixture(scope="module")
def scenes(movi_a_scene, tmp_path_factory):
    root = tmp_path_factory.mktemp("extras") / "scenes"
    shutil.copytree(movi_a_scene, root / movi_a_scene.name)
    return root


def _load(name, data_dir, config=None):
    builder = tfds.builder(name if config is None else f"{name}/{config}", data_dir=str(data_dir))
    return builder, next(iter(tfds.as_numpy(builder.as_dataset(split="train"))))


def test_every_extra_decodes_to_the_scene_directorys_values(scenes, tmp_path):
    result = build_dataset(scenes, "kg_extras", tmp_path, splits="train=1", extras=",".join(EXTRAS))
    assert not result.skipped
    _, ex = _load("kg_extras", tmp_path)
    sd = SceneDir(next(scenes.iterdir()))
    masks = sd.amodal()
    for k, inst in enumerate(sd.metadata["instances"]):
        np.testing.assert_array_equal(ex["instances"]["amodal_masks"][k], masks[k])
        for key in ("amodal_pixels", "visible_fraction", "in_image_fraction"):
            got = ex["instances"][key][k]
            np.testing.assert_array_equal(got, np.asarray(inst[key], dtype=got.dtype))
        np.testing.assert_allclose(ex["instances"]["amodal_bboxes"][k], np.reshape(inst["amodal_bboxes"], (-1, 4)),
                                   atol=1e-7)
        np.testing.assert_array_equal(ex["instances"]["amodal_bbox_unclipped_frames"][k],
                                      inst["amodal_bbox_unclipped_frames"])
    flow = sd.scene_flow()
    for name in fmt.SCENE_FLOW_ARRAYS:
        np.testing.assert_array_equal(ex[name], flow[name])  # float32, losslessly deflated
    np.testing.assert_array_equal(ex["occlusion_boundaries"][..., 0], sd.occlusion_boundaries())
    images = sd.intrinsics()
    for name in fmt.INTRINSIC_IMAGES:  # float16, as stored
        assert ex[name].dtype == np.float16
        np.testing.assert_array_equal(ex[name], images[name])
    np.testing.assert_array_equal(ex[fmt.INTRINSIC_MASK], images[fmt.INTRINSIC_MASK])


def test_without_extras_the_features_are_movis_and_ours_as_before(scenes, tmp_path):
    build_dataset(scenes, "kg_plain", tmp_path, splits="train=1")
    builder, ex = _load("kg_plain", tmp_path)
    assert not EXTRA_KEYS & set(ex) and not EXTRA_INSTANCE_KEYS & set(ex["instances"])
    assert "extras" not in builder.info.metadata["kubric_gen"]


def test_a_downscaled_config_subsamples_the_masks_and_scene_flow_as_movi_does(scenes, tmp_path):
    build_dataset(scenes, "kg_extras_small", tmp_path, config="16x16", splits="train=1", extras="amodal,scene_flow")
    _, ex = _load("kg_extras_small", tmp_path, "16x16")
    sd = SceneDir(next(scenes.iterdir()))
    np.testing.assert_array_equal(ex["instances"]["amodal_masks"], sd.amodal()[:, :, ::2, ::2])  # offset 0
    np.testing.assert_array_equal(ex["forward_scene_flow"], sd.scene_flow()["forward_scene_flow"][:, ::2, ::2])


def test_other_extras_rebuild_the_dataset(scenes, tmp_path, caplog):
    build_dataset(scenes, "kg_extras_re", tmp_path, splits="train=1")
    again = build_dataset(scenes, "kg_extras_re", tmp_path, splits="train=1", extras="amodal")
    assert not again.reused and "rebuilding it with ['amodal']" in caplog.text
    _, ex = _load("kg_extras_re", tmp_path)
    assert "amodal_masks" in ex["instances"]
    assert build_dataset(scenes, "kg_extras_re", tmp_path, splits="train=1", extras="amodal").reused


@pytest.mark.parametrize("argv,fragment", [
    (["--extras", "amodal,depth_of_field"], "--extras: 'depth_of_field' is not one of amodal, scene_flow, "
                                            "occlusion_boundaries"),
    (["--extras", "occlusion_boundaries", "--config", "16x16"], "--extras occlusion_boundaries: only at the "
                                                                "scenes' own resolution"),
])
def test_bad_extras_are_one_line_and_write_nothing(scenes, tmp_path, capsys, argv, fragment):
    status = main(["build-dataset", str(scenes), "--name", "kg_bad_extras", "--data-dir", str(tmp_path / "d"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and fragment in err[0], err
    assert not (tmp_path / "d" / "kg_bad_extras").exists()


def test_run_with_tfds_extras_packages_them(tmp_path, capsys):
    """`run --tfds NAME --tfds-extras amodal`: the run's own dataset has the amodal features."""
    out = tmp_path / "scenes"
    assert main(["run", "movi_a", "--num-scenes", "1", "--output", str(out), "--resolution", "16x16", "--frames", "2",
                 "--samples", "1", "--workers", "1", "--no-preview", "--tfds", "kg_run_extras",
                 "--tfds-extras", "amodal"]) == 0
    capsys.readouterr()
    builder = tfds.builder("kg_run_extras", data_dir=str(out / "_tfds"))
    ex = next(iter(tfds.as_numpy(builder.as_dataset(split="all"))))
    np.testing.assert_array_equal(ex["instances"]["amodal_masks"], SceneDir(next(out.glob("scene_*"))).amodal())


def test_pytorch_gives_the_extras_from_scene_directories_and_from_a_build(scenes, tmp_path):
    """SceneDirDataset(extras=...) and TFDSDataset of an ArrayRecord build with the same extras give
    the same sample; its extras are the scene directory's arrays; a crop cuts the masks and shifts
    the boxes, Resize refuses the boundaries, collate pads the amodal fields per instance."""
    kt = pytest.importorskip("kubric_gen.datasets.torch")
    from conftest import assert_same_samples

    extras = ",".join(EXTRAS)
    from_dirs = kt.SceneDirDataset(scenes, extras=extras)[0]
    build_dataset(scenes, "kg_torch_extras", tmp_path, splits="train=1", extras=extras, file_format="array_record")
    assert_same_samples(kt.TFDSDataset("kg_torch_extras", tmp_path)[0], from_dirs)
    sd = SceneDir(next(scenes.iterdir()))
    np.testing.assert_array_equal(from_dirs["instances"]["amodal_masks"].numpy(), sd.amodal())
    np.testing.assert_array_equal(from_dirs["forward_scene_flow"].numpy(),
                                  np.moveaxis(sd.scene_flow()["forward_scene_flow"], -1, -3))
    np.testing.assert_array_equal(from_dirs["occlusion_boundaries"].numpy(), sd.occlusion_boundaries())
    np.testing.assert_array_equal(from_dirs["albedo"].numpy(), np.moveaxis(sd.intrinsics()["albedo"], -1, -3))
    assert (from_dirs["amodal_box_valid"] >= from_dirs["box_valid"]).all()  # visible somewhere: amodal too

    cropped = kt.CenterCrop(16)(from_dirs)
    np.testing.assert_array_equal(cropped["instances"]["amodal_masks"].numpy(), sd.amodal()[..., 8:24, 8:24])
    np.testing.assert_array_equal(cropped["amodal_boxes_unclipped"].numpy(),
                                  from_dirs["amodal_boxes_unclipped"].numpy() - 8)
    assert cropped["occlusion_boundaries"].shape[-2:] == (16, 16)
    with pytest.raises(ValueError, match="occlusion_boundaries"):
        kt.Resize(16)(from_dirs)
    small = kt.Resize(16)(kt.SceneDirDataset(scenes, extras="amodal,scene_flow,intrinsics")[0])
    assert small["instances"]["amodal_masks"].shape[-2:] == small["forward_scene_flow"].shape[-2:] == (16, 16)
    # Resize picks pixels of the intrinsic images: each is the full-resolution pixel's
    np.testing.assert_array_equal(small["shading"].numpy(), from_dirs["shading"].numpy()[..., 1::2, 1::2])
    np.testing.assert_array_equal(small["mirror_or_transparent"].numpy(),
                                  from_dirs["mirror_or_transparent"].numpy()[..., 1::2, 1::2])
    np.testing.assert_array_equal(cropped["residual"].numpy(), from_dirs["residual"].numpy()[..., 8:24, 8:24])

    plain = kt.SceneDirDataset(scenes)[0]
    assert "amodal_boxes" not in plain and "forward_scene_flow" not in plain
    batch = kt.collate([from_dirs, kt.CenterCrop(32)(from_dirs)])
    n = from_dirs["boxes"].shape[0]
    assert batch["amodal_boxes"].shape == (2, n, 3, 4) and batch["instances"]["amodal_masks"].shape == (2, n, 3, 32, 32)
