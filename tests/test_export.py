"""`kubric-gen export`: each format read back by its community's own reader (pycocotools and its
COCOeval, OpenCV's .flo and PNG readers, pickle as TAP-Vid's evaluation loads it, transforms.json
as nerfstudio reads its poses) against the scene directory; resume, parallel workers, failures
and bad input. `tests/test_matrix.py` exports every built-in world's scenes the same way
(`check_export`)."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from kubric_gen import geometry
from kubric_gen.cli import main
from kubric_gen.export import FORMATS, export
from kubric_gen.io import SceneDir

cv2 = pytest.importorskip("cv2")
pytest.importorskip("pycocotools")


@pytest.fixture(scope="module")
def scenes(movi_a_scene, tmp_path_factory):
    """Two copies of the MOVi-A scene under two names (an export of a folder of scenes)."""
    root = tmp_path_factory.mktemp("export_src")
    for name in ("scene_a", "scene_b"):
        shutil.copytree(movi_a_scene, root / name)
    return root


def _units(src: Path) -> dict[str, SceneDir]:
    """Each unit's scene directory by unit name (a view of a scene with several cameras: <scene>_<camera>)."""
    out = {}
    for path in sorted(p for p in src.iterdir() if p.is_dir()):
        sd = SceneDir(path)
        if sd.is_multiview:
            out.update({f"{path.name}_{camera}": sd.view(camera) for camera in sd.camera_names})
        else:
            out[path.name] = sd
    return out


def check_coco(out: Path, src: Path) -> None:
    from pycocotools import mask as mask_api
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    units = _units(src)
    coco = COCO(str(out / "annotations" / "instances.json"))
    assert len(coco.getImgIds()) == sum(sd.num_frames for sd in units.values())
    for image in coco.loadImgs(coco.getImgIds()):
        sd = units[image["video"]]
        seg = sd.layer("segmentation")[image["frame"]]
        amodal = sd.amodal()
        assert (out / "images" / image["file_name"]).read_bytes() == sd.read_bytes(
            sd.frame_files["rgba"][image["frame"]])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert sorted(a["instance"] for a in anns) == sorted(int(i) - 1 for i in np.unique(seg) if i > 0)
        for ann in anns:
            k = ann["instance"]
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), seg == k + 1)
            assert ann["area"] == (seg == k + 1).sum()
            amodal_mask = mask_api.decode(ann["amodal_segmentation"]).astype(bool)
            np.testing.assert_array_equal(amodal_mask, amodal[k, image["frame"]])
            label = sd.metadata["instances"][k]
            assert coco.loadCats(ann["category_id"])[0]["name"] in label.values()
    # the ground truth scored against itself: every AP is 1
    results = [dict(a, score=1.0) for a in coco.loadAnns(coco.getAnnIds())]
    for kind in ("bbox", "segm"):
        evaluation = COCOeval(coco, coco.loadRes([dict(r) for r in results]), kind)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        assert evaluation.stats[0] == pytest.approx(1.0), kind

    video = json.loads((out / "annotations" / "instances_video.json").read_text())
    assert [v["name"] for v in video["videos"]] == sorted(units)
    for track in video["annotations"]:
        sd = units[video["videos"][track["video_id"] - 1]["name"]]
        seg = sd.layer("segmentation")
        for t, rle in enumerate(track["segmentations"]):
            visible = seg[t] == track["instance"] + 1
            if rle is None:
                assert not visible.any()
            else:
                np.testing.assert_array_equal(mask_api.decode(rle).astype(bool), visible)


def check_flow(out: Path, src: Path) -> None:
    for name, sd in _units(src).items():
        flow = sd.layer("forward_flow")
        occluded = sd.layer("forward_flow_occlusion").astype(bool)
        seen = np.isfinite(sd.layer("depth"))
        for t in range(sd.num_frames - 1):
            flo = cv2.readOpticalFlow(str(out / "sintel" / "flow" / name / f"frame_{t + 1:04d}.flo"))
            np.testing.assert_array_equal(flo, flow[t][..., ::-1])  # (u, v) = (d_col, d_row), float32
            occ = cv2.imread(str(out / "sintel" / "occlusions" / name / f"frame_{t + 1:04d}.png"), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(occ > 0, occluded[t])
            for kind, valid in (("flow_occ", seen[t]), ("flow_noc", seen[t] & ~occluded[t])):
                png = cv2.imread(str(out / "kitti" / kind / f"{name}-{t:04d}_10.png"), cv2.IMREAD_UNCHANGED)
                assert png.dtype == np.uint16
                b, g, r = (png[..., i].astype(np.float64) for i in range(3))  # OpenCV reads BGR
                np.testing.assert_array_equal(b > 0, valid)
                u, v = r / 64 - 512, g / 64 - 512
                assert np.abs(u - flow[t][..., 1])[valid].max(initial=0) <= 1 / 128 + 1e-6
                assert np.abs(v - flow[t][..., 0])[valid].max(initial=0) <= 1 / 128 + 1e-6
            for suffix, frame in (("_10", t), ("_11", t + 1)):
                image = cv2.imread(str(out / "kitti" / "image_2" / f"{name}-{t:04d}{suffix}.png"))
                np.testing.assert_array_equal(image[..., ::-1], sd.stored("rgba")[frame, ..., :3])


def check_tapvid(out: Path, src: Path) -> None:
    with open(out / "tapvid.pkl", "rb") as f:
        videos = pickle.load(f)
    units = _units(src)
    assert sorted(videos) == sorted(units)
    for name, sd in units.items():
        entry = videos[name]
        tracks = sd.tracks()
        width, height = sd.resolution
        assert entry["video"].dtype == np.uint8 and entry["video"].shape == (sd.num_frames, height, width, 3)
        np.testing.assert_array_equal(entry["video"], sd.stored("rgba")[..., :3])
        np.testing.assert_allclose(entry["points"] * np.array([width, height]), tracks.target_points, rtol=1e-6,
                                   atol=1e-4)
        np.testing.assert_array_equal(entry["occluded"], tracks.occluded)


def check_nerf(out: Path, src: Path, tolerance_px: float = 1e-3) -> int:
    """Points of each scene's static background (segmentation 0 on a static object) at the track
    queries: lifted to 3D with our own camera and depth, projected into every frame with the
    pose and intrinsics of transforms.json (OpenGL axes flipped to OpenCV's) onto the tracks'
    target points. Returns how many (point, frame) pairs were compared."""
    compared = 0
    for path in sorted(p for p in src.iterdir() if p.is_dir()):
        transforms = json.loads((out / path.name / "transforms.json").read_text())
        frames = transforms["frames"]
        sd = SceneDir(path)
        for camera, view in zip(sd.camera_names, sd.views, strict=True):
            own = [f for f in frames if f["camera"] == camera]
            assert len(own) == view.num_frames
            cam = view.metadata["camera"]
            depth = view.layer("depth")
            seg = view.layer("segmentation")
            tracks = view.tracks()
            q = tracks.query_points
            t0, rows, cols = q[:, 0].astype(int), (q[:, 1] - 0.5).astype(int), (q[:, 2] - 0.5).astype(int)
            background = (seg[t0, rows, cols] == 0) & np.isfinite(depth[t0, rows, cols])
            positions, quats = np.asarray(cam["positions"]), np.asarray(cam["quaternions"])
            for i in np.flatnonzero(background):
                origin, direction = geometry.image_rays(np.array([q[i, 2], q[i, 1]]), positions[t0[i]],
                                                        quats[t0[i]], cam["focal_length"], cam["sensor_width"],
                                                        view.resolution)
                world = origin + direction * depth[t0[i], rows[i], cols[i]]
                for t, frame in enumerate(own):
                    f = {**transforms, **frame}
                    opencv = np.asarray(frame["transform_matrix"]) @ np.diag([1.0, -1.0, -1.0, 1.0])
                    p = np.linalg.inv(opencv) @ np.append(world, 1.0)
                    xy = np.array([f["fl_x"] * p[0] / p[2] + f["cx"], f["fl_y"] * p[1] / p[2] + f["cy"]])
                    assert np.abs(xy - tracks.target_points[i, t]).max() <= tolerance_px, (path.name, camera, i, t)
                    assert (out / path.name / frame["file_path"]).read_bytes() == \
                        view.read_bytes(view.frame_files["rgba"][t])
                    compared += 1
    return compared


CHECKS = {"coco": check_coco, "flow": check_flow, "tapvid": check_tapvid, "nerf": check_nerf}


def test_every_format_has_its_readers_check():
    assert set(CHECKS) == set(FORMATS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_each_format_reads_back_as_its_community_reads_it(name, scenes, tmp_path, capsys):
    out = tmp_path / name
    assert main(["export", name, str(scenes), str(out), "--workers", "1"]) == 0
    assert "exported 2 of 2 units" in capsys.readouterr().out
    result = CHECKS[name](out, scenes)
    if name == "nerf":
        assert result >= 10  # background points compared over the frames


def test_parallel_workers_write_the_same_files(scenes, tmp_path):
    one = export("coco", scenes, tmp_path / "one", workers=1)
    two = export("coco", scenes, tmp_path / "two", workers=2)
    assert sorted(one.exported) == sorted(two.exported) == ["scene_a", "scene_b"]
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*")
                   if p.is_file() and "_export" not in p.parts)
    assert files and files == sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*")
                                     if p.is_file() and "_export" not in p.parts)
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f


def test_a_stopped_export_resumes_with_the_units_left(scenes, tmp_path):
    """A unit whose files were not all moved and recorded (the export killed meanwhile) is
    exported again, and its staging leftovers are removed; finished units are kept."""
    out = tmp_path / "flow"
    export("flow", scenes, out, workers=1)
    (out / "_export" / "done" / "scene_b.json").unlink()
    (out / "sintel" / "flow" / "scene_b" / "frame_0002.flo").unlink()
    leftover = out / "_export" / "staging" / "scene_b" / "sintel" / "junk.flo"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    again = export("flow", scenes, out, workers=1)
    assert again.resumed == ["scene_a"] and again.exported == ["scene_b"]
    assert (out / "sintel" / "flow" / "scene_b" / "frame_0002.flo").is_file()
    assert not (out / "_export" / "staging").exists() or not any((out / "_export" / "staging").iterdir())
    assert not (out / "sintel" / "junk.flo").exists()
    check_flow(out, scenes)


def test_a_scene_that_cannot_be_exported_is_reported_and_the_others_are(scenes, tmp_path, capsys):
    src = tmp_path / "src"
    shutil.copytree(scenes, src)
    (src / "scene_b" / "tracks.npz").unlink()
    assert main(["export", "tapvid", str(src), str(tmp_path / "out"), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "scene_b: tracks.npz is missing" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "out" / "videos" / "scene_a.pkl").is_file()
    assert not (tmp_path / "out" / "videos" / "scene_b.pkl").exists()
    assert not (tmp_path / "out" / "tapvid.pkl").exists()  # not a combined file of some of the scenes


@pytest.mark.parametrize("argv,fragment", [
    (["export", "bop2", "{src}", "{out}"], "FORMAT: 'bop2' is not one of coco"),
    (["export", "coco", "{missing}", "{out}"], "SRC: "),
    (["export", "coco", "{src}", "{file}"], "is a file, not a folder"),
    (["export", "coco", "{src}", "{foreign}"], "is a folder of other files, not an export"),
    (["export", "coco", "{src}", "{out}", "--category", "flavour"], "--category: 'flavour' is not a class label"),
    (["export", "flow", "{src}", "{out}", "--category", "shape"], "--category: not an option of the flow export"),
])
def test_bad_input_is_one_line_before_anything_is_written(argv, fragment, scenes, tmp_path, capsys):
    paths = {"src": scenes, "out": tmp_path / "out", "missing": tmp_path / "nowhere", "file": tmp_path / "file",
             "foreign": tmp_path / "foreign"}
    paths["file"].write_text("x")
    paths["foreign"].mkdir()
    (paths["foreign"] / "notes.txt").write_text("mine")
    assert main([a.format(**paths) for a in argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in paths["foreign"].iterdir()) == ["notes.txt"]


def test_another_format_into_an_export_needs_overwrite(scenes, tmp_path, capsys):
    out = tmp_path / "out"
    export("tapvid", scenes, out, workers=1)
    assert main(["export", "flow", str(scenes), str(out)]) == 2
    assert "holds a 'tapvid' export" in capsys.readouterr().err
    assert main(["export", "flow", str(scenes), str(out), "--overwrite", "--workers", "1"]) == 0
    assert not (out / "tapvid.pkl").exists()
    check_flow(out, scenes)
