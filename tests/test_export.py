"""`kubric-gen export`: each format read back by its community's own reader (pycocotools and its
COCOeval, OpenCV's .flo and PNG readers, pickle as TAP-Vid's evaluation loads it, transforms.json
as nerfstudio reads its poses) against the scene directory; resume, parallel workers, failures
and bad input. `tests/test_matrix.py` exports every built-in world's scenes the same way
(`CHECKS`)."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE

from kubric_gen import geometry
from kubric_gen.cli import main
from kubric_gen.export import FORMATS, export
from kubric_gen.io import SceneDir
from kubric_gen.io.reader import list_scene_dirs

pytestmark = pytest.mark.filterwarnings("ignore:label\\(\\) is deprecated:DeprecationWarning")  # TFDS's own
cv2 = pytest.importorskip("cv2")
pytest.importorskip("pycocotools")


@pytest.fixture(scope="module")
def scenes(movi_a_scene, tmp_path_factory):
    """Two copies of the MOVi-A scene under two names (an export of a folder of scenes)."""
    root = tmp_path_factory.mktemp("export_src")
    for name in ("scene_a", "scene_b"):
        shutil.copytree(movi_a_scene, root / name)
    return root


def _scene_paths(src: Path) -> list[Path]:
    """The scene directories of a folder, as the export lists them (a run's _status/ left out)."""
    return [Path(p) for p in list_scene_dirs(src)]


def _units(src: Path) -> dict[str, SceneDir]:
    """Each unit's scene directory by unit name (a view of a scene with several cameras: <scene>_<camera>)."""
    out = {}
    for path in _scene_paths(src):
        sd = SceneDir(path)
        if sd.is_multiview:
            out.update({f"{path.name}_{camera}": sd.view(camera) for camera in sd.camera_names})
        else:
            out[path.name] = sd
    return out


def check_coco(out: Path, src: Path, ours=lambda name: name) -> None:
    """(`ours`: the unit name of our scene directories for each name in the export, e.g. without
    a dataset's split prefix.)"""
    from pycocotools import mask as mask_api
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    units = _units(src)
    coco = COCO(str(out / "annotations" / "instances.json"))
    assert len(coco.getImgIds()) == sum(sd.num_frames for sd in units.values())
    for image in coco.loadImgs(coco.getImgIds()):
        sd = units[ours(image["video"])]
        seg = sd.layer("segmentation")[image["frame"]]
        amodal = sd.amodal()
        png = cv2.imread(str(out / "images" / image["file_name"]), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(png[..., [2, 1, 0]], sd.stored("rgba")[image["frame"], ..., :3])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert sorted(a["instance"] for a in anns) == sorted(int(i) - 1 for i in np.unique(seg) if i > 0)
        for ann in anns:
            k = ann["instance"]
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), seg == k + 1)
            assert ann["area"] == (seg == k + 1).sum()
            if "amodal_segmentation" in ann:  # (Kubric's scene directories and datasets without --extras: none)
                amodal_mask = mask_api.decode(ann["amodal_segmentation"]).astype(bool)
                np.testing.assert_array_equal(amodal_mask, amodal[k, image["frame"]])
            category = coco.loadCats(ann["category_id"])[0]["name"]
            assert category in sd.metadata["instances"][k].values() or category == "object"
    # the ground truth scored against itself: every AP is 1
    results = [dict(a, score=1.0) for a in coco.loadAnns(coco.getAnnIds())]
    for kind in ("bbox", "segm"):
        evaluation = COCOeval(coco, coco.loadRes([dict(r) for r in results]), kind)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        assert evaluation.stats[0] == pytest.approx(1.0), kind

    video = json.loads((out / "annotations" / "instances_video.json").read_text())
    assert sorted(ours(v["name"]) for v in video["videos"]) == sorted(units)
    for track in video["annotations"]:
        sd = units[ours(video["videos"][track["video_id"] - 1]["name"])]
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
        has_occlusion = sd.has("forward_flow_occlusion")  # (Kubric's scene directories have none)
        occluded = sd.layer("forward_flow_occlusion").astype(bool) if has_occlusion else None
        seen = np.isfinite(sd.layer("depth"))
        for t in range(sd.num_frames - 1):
            flo = cv2.readOpticalFlow(str(out / "sintel" / "flow" / name / f"frame_{t + 1:04d}.flo"))
            np.testing.assert_array_equal(flo, flow[t][..., ::-1])  # (u, v) = (d_col, d_row), float32
            occ_file = out / "sintel" / "occlusions" / name / f"frame_{t + 1:04d}.png"
            kinds = [("flow_occ", seen[t])]
            if has_occlusion:
                np.testing.assert_array_equal(cv2.imread(str(occ_file), cv2.IMREAD_UNCHANGED) > 0, occluded[t])
                kinds.append(("flow_noc", seen[t] & ~occluded[t]))
            else:
                assert not occ_file.exists() and not (out / "kitti" / "flow_noc").exists()
            for kind, valid in kinds:
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
    for path in _scene_paths(src):
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


def check_stereo(out: Path, src: Path) -> None:
    """OpenCV reads each PFM to the scene's disparity (x_left - x_right), the right camera's too;
    the occlusion PNGs are the cross-view masks; a disparity moves a left pixel onto the right
    camera's pixel that sees the same point."""
    for path in _scene_paths(src):
        sd = SceneDir(path)
        left, right = sd.camera_names
        occluded = sd.cross_view().correspondence_occluded
        expected = {"left": sd.disparity(), "right": -_disparity(sd, right, left)}
        for side, (a, b) in (("left", (0, 1)), ("right", (1, 0))):
            for t in range(sd.num_frames):
                pfm = cv2.imread(str(out / "disparity" / path.name / side / f"{t:04d}.pfm"), cv2.IMREAD_UNCHANGED)
                assert pfm.dtype == np.float32
                np.testing.assert_array_equal(pfm, expected[side][t])
                occ = cv2.imread(str(out / "disparity_occlusions" / path.name / side / f"{t:04d}.png"),
                                 cv2.IMREAD_UNCHANGED)
                np.testing.assert_array_equal(occ > 0, occluded[a, b, t])
                image = cv2.imread(str(out / "frames_cleanpass" / path.name / side / f"{t:04d}.png"))
                np.testing.assert_array_equal(image[..., ::-1], sd.views[a].stored("rgba")[t, ..., :3])
        # where both see a point, the left disparity at a pixel and the right one where it lands agree
        d = expected["left"]
        visible = ~occluded[0, 1] & np.isfinite(d)
        t, rows, cols = np.nonzero(visible)
        landing = np.floor(cols + 0.5 - d[t, rows, cols]).astype(int)
        inside = (landing >= 0) & (landing < d.shape[2])
        back = expected["right"][t[inside], rows[inside], landing[inside]]
        assert np.nanmedian(np.abs(back - d[t[inside], rows[inside], cols[inside]])) < 0.1


def check_bop(out: Path, src: Path) -> int:
    """BOP's documented rules: mask/ is our amodal mask, mask_visib/ our visible one, visib_fract
    = px_count_visib / px_count_all; each model (PLY, mm) posed by cam_R_m2c, cam_t_m2c and seen
    through cam_K covers exactly its object's pixels, and its box corners are metadata.json's
    bboxes_3d; depth * depth_scale is the camera z in mm.
    Returns how many objects were checked."""
    import trimesh

    units = _units(src)
    info = json.loads((out / "models" / "models_info.json").read_text())
    camera = json.loads((out / "camera.json").read_text())
    assert {"fx", "fy", "cx", "cy", "width", "height", "depth_scale"} <= set(camera)
    checked = 0
    for index, (name, sd) in enumerate(sorted(units.items())):
        folder = out / "train_pbr" / f"{index:06d}"
        gt = json.loads((folder / "scene_gt.json").read_text())
        gt_info = json.loads((folder / "scene_gt_info.json").read_text())
        cams = json.loads((folder / "scene_camera.json").read_text())
        seg, amodal, depth = sd.layer("segmentation"), sd.amodal(), sd.layer("depth")
        for t in range(sd.num_frames):
            k = np.asarray(cams[str(t)]["cam_K"]).reshape(3, 3)
            stored = cv2.imread(str(folder / "depth" / f"{t:06d}.png"), cv2.IMREAD_UNCHANGED)
            assert stored.dtype == np.uint16
            z_mm = stored * cams[str(t)]["depth_scale"]
            rows, cols = np.mgrid[:seg.shape[1], :seg.shape[2]]
            rays = np.stack([(cols + 0.5 - k[0, 2]) / k[0, 0], (rows + 0.5 - k[1, 2]) / k[1, 1],
                             np.ones(cols.shape)], -1).reshape(-1, 3)
            ray = np.sqrt(1 + ((cols + 0.5 - k[0, 2]) / k[0, 0]) ** 2 + ((rows + 0.5 - k[1, 2]) / k[1, 1]) ** 2)
            seen = np.isfinite(depth[t])
            assert np.abs(z_mm * ray / 1000 - np.where(seen, depth[t], 0))[seen].max() <= \
                cams[str(t)]["depth_scale"] * ray.max() / 1000
            present = [i for i in range(amodal.shape[0]) if amodal[i, t].any()]
            assert len(gt[str(t)]) == len(gt_info[str(t)]) == len(present)
            for n, (i, obj, meta) in enumerate(zip(present, gt[str(t)], gt_info[str(t)], strict=True)):
                full = cv2.imread(str(folder / "mask" / f"{t:06d}_{n:06d}.png"), cv2.IMREAD_UNCHANGED) > 0
                visible = cv2.imread(str(folder / "mask_visib" / f"{t:06d}_{n:06d}.png"), cv2.IMREAD_UNCHANGED) > 0
                np.testing.assert_array_equal(full, amodal[i, t])
                np.testing.assert_array_equal(visible, seg[t] == i + 1)
                assert meta["px_count_all"] == full.sum() and meta["px_count_visib"] == visible.sum()
                assert meta["visib_fract"] == pytest.approx(meta["px_count_visib"] / meta["px_count_all"])
                model = trimesh.load(out / "models" / f"obj_{obj['obj_id']:06d}.ply", process=False)
                r, tr = np.asarray(obj["cam_R_m2c"]).reshape(3, 3), np.asarray(obj["cam_t_m2c"])
                p = np.asarray(model.vertices) @ r.T + tr
                # the model's corners posed by BOP are metadata.json's bboxes_3d seen by our camera, in mm
                inst, cam = sd.metadata["instances"][i], sd.metadata["camera"]
                corners = np.asarray(inst["bboxes_3d"][t])
                lo = np.asarray(model.vertices).min(axis=0)
                hi = np.asarray(model.vertices).max(axis=0)
                box = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
                expected = geometry.world_to_camera(corners, cam["positions"][t], cam["quaternions"][t]) * 1000
                np.testing.assert_allclose(np.sort(box @ r.T + tr, axis=0), np.sort(expected, axis=0), atol=1e-2)
                # the posed model ray cast at the pixel centres (trimesh's own ray caster, camera axes,
                # mm) is the object's whole silhouette, mask/: at most a pixel whose ray grazes an edge may
                # differ (measured: none, on every built-in world)
                posed = trimesh.Trimesh(vertices=p, faces=np.asarray(model.faces), process=False)
                hit = posed.ray.intersects_any(np.zeros_like(rays), rays).reshape(full.shape)
                assert (hit != full).sum() <= 1, (name, t, i, int((hit != full).sum()), int(full.sum()))
                assert str(obj["obj_id"]) in info and info[str(obj["obj_id"])]["diameter"] > 0
                checked += 1
    return checked


def _disparity(sd: SceneDir, a: str, b: str) -> np.ndarray:
    from kubric_gen.truth.result import disparity_of

    return disparity_of(sd.correspondences(a, b))


CHECKS = {"coco": check_coco, "flow": check_flow, "tapvid": check_tapvid, "nerf": check_nerf,
          "stereo": check_stereo, "bop": check_bop}


def test_every_format_has_its_readers_check():
    assert set(CHECKS) == set(FORMATS)


@pytest.fixture(scope="module")
def stereo_scenes(tmp_path_factory):
    """One scene of the stereo world (two cameras), 32x32, 2 frames."""
    from conftest import TINY

    from kubric_gen.generate import generate_scene

    root = tmp_path_factory.mktemp("export_stereo")
    generate_scene("stereo", 0, root / "scene_00000000", TINY, {"resolution": [32, 32], "num_frames": 2},
                   num_tracks=16, preview=False)
    return root


def test_stereo_reads_back_with_opencv_and_refuses_one_camera(stereo_scenes, scenes, tmp_path, capsys):
    assert main(["export", "stereo", str(stereo_scenes), str(tmp_path / "stereo"), "--workers", "1"]) == 0
    check_stereo(tmp_path / "stereo", stereo_scenes)
    capsys.readouterr()
    assert main(["export", "stereo", str(scenes), str(tmp_path / "mono")]) == 2
    assert "scene_a has 1 camera(s); the stereo export needs scenes with two" in capsys.readouterr().err
    assert not (tmp_path / "mono").exists()


@pytest.mark.parametrize("name", sorted(set(CHECKS) - {"stereo"}))
def test_each_format_reads_back_as_its_community_reads_it(name, scenes, tmp_path, capsys):
    out = tmp_path / name
    assert main(["export", name, str(scenes), str(out), "--workers", "1"]) == 0
    assert "exported 2 of 2 units" in capsys.readouterr().out
    result = CHECKS[name](out, scenes)
    if name == "nerf":
        assert result >= 10  # background points compared over the frames
    if name == "coco":  # our scenes have amodal masks: every annotation carries its amodal mask
        annotations = json.loads((out / "annotations" / "instances.json").read_text())["annotations"]
        assert annotations and all("amodal_segmentation" in a for a in annotations)
    if name == "bop":
        assert result >= 6  # objects over the frames
        info = json.loads((out / "models" / "models_info.json").read_text())
        cube = [v for v in info.values() if len(v.get("symmetries_discrete", [])) == 23]
        assert all(np.isclose(v["size_x"], v["size_y"]) for v in cube)


@pytest.fixture(scope="module")
def dataset(scenes, tmp_path_factory):
    """The two scenes as a prepared TFDS dataset (ArrayRecord) with the amodal masks."""
    pytest.importorskip("tensorflow_datasets")
    from kubric_gen.datasets import build_dataset

    data_dir = tmp_path_factory.mktemp("export_tfds")
    build_dataset(scenes, "kg_export", data_dir, splits="train=1.0", extras="amodal", file_format="array_record")
    return data_dir / "kg_export"


def test_a_prepared_dataset_exports_as_its_scene_directories_do(dataset, scenes, tmp_path):
    """coco, flow, tapvid and nerf from the dataset's examples: the same masks, flow, tracks and
    poses as from the scene directories it was built from (units named <split>_<video name>)."""
    from pycocotools.coco import COCO

    export("nerf", scenes, tmp_path / "nerf_dirs", workers=1)
    for name in ("coco", "flow", "tapvid", "nerf"):
        result = export(name, dataset, tmp_path / name)
        assert sorted(result.exported) == ["train_scene_a", "train_scene_b"] and not result.failed, name
    coco = COCO(str(tmp_path / "coco" / "annotations" / "instances.json"))
    for image in coco.loadImgs(coco.getImgIds()):
        sd = SceneDir(scenes / image["video"].removeprefix("train_"))
        seg = sd.layer("segmentation")[image["frame"]]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert len(anns) == len(np.unique(seg[seg > 0]))
        for ann in anns:
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), seg == ann["instance"] + 1)
            np.testing.assert_array_equal(coco.annToMask({**ann, "segmentation": ann["amodal_segmentation"]}),
                                          sd.amodal()[ann["instance"], image["frame"]])
    for unit in ("scene_a", "scene_b"):
        sd = SceneDir(scenes / unit)
        flo = cv2.readOpticalFlow(str(tmp_path / "flow" / "sintel" / "flow" / f"train_{unit}" / "frame_0001.flo"))
        np.testing.assert_allclose(flo, sd.layer("forward_flow")[0][..., ::-1], atol=1e-5)
        with open(tmp_path / "tapvid" / "videos" / f"train_{unit}.pkl", "rb") as f:
            entry = pickle.load(f)[f"train_{unit}"]
        np.testing.assert_allclose(entry["points"] * np.array(sd.resolution), sd.tracks().target_points, atol=1e-4)
        transforms = json.loads((tmp_path / "nerf" / f"train_{unit}" / "transforms.json").read_text())
        from_dirs = json.loads((tmp_path / "nerf_dirs" / unit / "transforms.json").read_text())
        for key in ("fl_x", "fl_y", "cx", "cy", "w", "h"):
            assert transforms[key] == pytest.approx(from_dirs[key], rel=1e-6), key
        for frame, other in zip(transforms["frames"], from_dirs["frames"], strict=True):
            np.testing.assert_allclose(frame["transform_matrix"], other["transform_matrix"], atol=1e-6)


@pytest.mark.skipif(not REFERENCE.exists(), reason="needs ../shared/reference")
@pytest.mark.parametrize("name", ["coco", "flow"])
def test_kubrics_own_scene_directory_exports(name, tmp_path):
    """A MOVi scene directory written by Kubric (no amodal masks, no occlusion masks) exports to
    COCO and flow files that read back to its own layers."""
    src = tmp_path / "src"
    shutil.copytree(REFERENCE, src / REFERENCE.name)
    result = export(name, src, tmp_path / name, workers=1)
    assert result.exported == [REFERENCE.name] and not result.failed
    CHECKS[name](tmp_path / name, src)


def test_parallel_workers_write_the_same_files(scenes, tmp_path, monkeypatch):
    """One worker, two forked workers (the command in a fresh process) and two spawned ones (as
    where TensorFlow or PyTorch is loaded) write the same bytes."""
    import subprocess
    import sys

    one = export("coco", scenes, tmp_path / "one", workers=1)
    forked = subprocess.run([sys.executable, "-m", "kubric_gen.cli", "export", "coco", str(scenes),
                             str(tmp_path / "forked"), "--workers", "2"], capture_output=True, text=True)
    assert forked.returncode == 0 and "exported 2 of 2 units" in forked.stdout, forked.stderr
    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch", object()))
    spawned = export("coco", scenes, tmp_path / "spawned", workers=2)
    assert sorted(one.exported) == sorted(spawned.exported) == ["scene_a", "scene_b"]

    def files(root):
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and "_export" not in p.parts)

    assert files(tmp_path / "one") and files(tmp_path / "one") == files(tmp_path / "forked") == \
        files(tmp_path / "spawned")
    for f in files(tmp_path / "one"):
        data = (tmp_path / "one" / f).read_bytes()
        assert data == (tmp_path / "forked" / f).read_bytes() == (tmp_path / "spawned" / f).read_bytes(), f


def test_progress_lines_in_a_log(scenes, tmp_path, capsys, monkeypatch):
    """Where stderr is not a terminal (a job's log), the export says how far it is in lines."""
    from kubric_gen.export import cli

    monkeypatch.setattr(cli._Progress, "LOG_INTERVAL", 0.0)
    assert main(["export", "tapvid", str(scenes), str(tmp_path / "out"), "--workers", "1"]) == 0
    assert "kubric-gen export tapvid: 1/2 units" in capsys.readouterr().err


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
    (["export", "bop2", "{src}", "{out}"], "FORMAT: 'bop2' is not one of bop, coco"),
    (["export", "coco", "{missing}", "{out}"], "SRC: "),
    (["export", "coco", "{src}", "{file}"], "is a file, not a folder"),
    (["export", "coco", "{src}", "{foreign}"], "is a folder of other files, not an export"),
    (["export", "coco", "{src}", "{out}", "--category", "flavour"], "--category: 'flavour' is not a class label"),
    (["export", "flow", "{src}", "{out}", "--category", "shape"], "--category: not an option of the flow export"),
    (["export", "bop", "{dataset}", "{out}"], "the bop export needs the meshes and scene.json, which a prepared"),
])
def test_bad_input_is_one_line_before_anything_is_written(argv, fragment, scenes, tmp_path, capsys):
    paths = {"src": scenes, "out": tmp_path / "out", "missing": tmp_path / "nowhere", "file": tmp_path / "file",
             "foreign": tmp_path / "foreign", "dataset": tmp_path / "tfds" / "kg_name" / "1.0.0"}
    paths["dataset"].mkdir(parents=True)
    (paths["dataset"] / "dataset_info.json").write_text("{}")  # what marks a prepared TFDS version
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
