"""`kubric-gen validate` and `kubric-gen view` on a scene with several cameras (a folder of
views): a real one passes every check and each deliberately broken copy is caught, with the
view's file named; its viewer page shows every camera (in a real headless Chromium). The
validate and view tests share this module so that the scene is rendered once."""

import json
import shutil

import numpy as np
import pytest
from conftest import TINY
from test_view import _check_segmentation_overlay, _screenshot

from kubric_gen.cli import main
from kubric_gen.io import SceneDir
from kubric_gen.io import layers as L
from kubric_gen.io.validate import check_scene
from kubric_gen.visual import colors, html


@pytest.fixture(scope="module")
def rig_scene(tmp_path_factory):
    """A real multiview scene: 3 cameras (the last moving), 3 frames of 32x32, 64 multi-view
    tracks; some instances are seen by some cameras only."""
    from kubric_gen.generate import generate_scene

    out = tmp_path_factory.mktemp("rig") / "scene_00003"
    generate_scene("multiview", 3, out, TINY, {"resolution": [32, 32], "num_frames": 3, "num_cameras": 3},
                   num_tracks=64)
    return out


def _copy(rig_scene, tmp_path):
    broken = tmp_path / rig_scene.name
    shutil.copytree(rig_scene, broken)
    return broken


def _npz(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _errors(path):
    return [p for p in check_scene(SceneDir(path)) if p.severity == "error"]


def _centres(shot, x, y, width, height, k):
    """The screenshot at the centre of every frame pixel of a canvas at (x, y) enlarged k times."""
    return shot[np.ix_(y + np.arange(height) * k + k // 2, x + np.arange(width) * k + k // 2)]


def _one(problems, check, file):
    found = [p for p in problems if p.check == check and p.file == file]
    assert found, problems
    return found[0]


# --------------------------------------------------------------------------- validate


def test_a_real_multi_camera_scene_passes_every_check(rig_scene, capsys):
    sd = SceneDir(rig_scene)
    assert sd.is_multiview and sd.camera_names == ["cam0", "cam1", "cam2"]
    seen = [[sum(i["visibility"]) for i in view.metadata["instances"]] for view in sd.views]
    assert any(0 in counts for counts in seen)  # an instance another camera sees: no warning for that
    assert check_scene(sd) == []
    assert main(["validate", str(rig_scene), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == 1 and report["errors"] == 0 and report["warnings"] == 0  # one scene, not four


def test_a_changed_view_file_is_an_integrity_error_naming_the_view(rig_scene, tmp_path, capsys):
    broken = _copy(rig_scene, tmp_path)
    depth = L.read_depth(broken / "view_cam1" / "depth_00001.tiff")
    depth[5, 6] += 0.25
    L.write_depth(broken / "view_cam1" / "depth_00001.tiff", depth)
    problems = _errors(broken)
    p = _one(problems, "integrity", "view_cam1/depth_00001.tiff")
    assert p.message == "changed since the scene was written (SHA-256 differs from _COMPLETE's)"
    assert len([q for q in problems if q.file == p.file]) == 1  # the view's marker and the rig's: one line
    assert main(["validate", str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"{broken}/view_cam1/depth_00001.tiff: error: changed since the scene was written" in out


def test_a_missing_view(rig_scene, tmp_path):
    broken = _copy(rig_scene, tmp_path)
    count = len(list((broken / "view_cam2").iterdir()))
    shutil.rmtree(broken / "view_cam2")
    problems = _errors(broken)
    assert _one(problems, "listing", "view_cam2").message == "missing: metadata.json lists view_cam2 in views"
    assert _one(problems, "integrity", "view_cam2").message == f"missing: {count} files in it are listed in _COMPLETE"
    assert not [p for p in problems if p.file.startswith("view_cam2/")]  # one line per folder, not per file


def test_cross_view_arrays_of_the_wrong_shape(rig_scene, tmp_path):
    broken = _copy(rig_scene, tmp_path)
    arrays = _npz(broken / "cross_view.npz")
    arrays["correspondence_occluded"] = arrays["correspondence_occluded"][..., :16]
    arrays["occluded"] = arrays["occluded"][:2]
    L.save_npz(broken / "cross_view.npz", arrays)
    messages = {p.message for p in _errors(broken) if p.check == "cross_view" and p.file == "cross_view.npz"}
    assert messages == {"correspondence_occluded has shape (3, 3, 3, 32, 16) (bool), expected (C, C, T, H, W) = "
                        "(3, 3, 3, 32, 32) bool", "occluded has shape (2, 64, 3), expected (C, N, T) = (3, 64, 3)"}


def test_a_moved_track_point(rig_scene, tmp_path):
    broken = _copy(rig_scene, tmp_path)
    arrays = _npz(broken / "cross_view.npz")
    c, n, t = (int(v) for v in np.argwhere(~arrays["occluded"])[17])
    before = arrays["target_points"][c, n, t].copy()
    arrays["target_points"][c, n, t] += (1.5, 0.0)
    L.save_npz(broken / "cross_view.npz", arrays)
    p = _one(_errors(broken), "tracks", "cross_view.npz")
    assert p.message.startswith("1 track positions are not query_world moved with its object and projected (by more "
                                "than 0.01 px); worst: ")
    assert f"track {n} " in p.message and f"in camera cam{c}, frame {t}: target_points " \
           f"{(before + (1.5, 0)).round(4).tolist()}" in p.message


def test_a_track_query_off_its_pixel(rig_scene, tmp_path):
    broken = _copy(rig_scene, tmp_path)
    arrays = _npz(broken / "cross_view.npz")
    arrays["query_world"][5] += 0.2
    L.save_npz(broken / "cross_view.npz", arrays)
    p = _one(_errors(broken), "tracks", "cross_view.npz")
    assert p.message.startswith("track 5: query_world ") and "is not the surface point seen at its query pixel" \
        in p.message


def test_hidden_points_marked_visible(rig_scene, tmp_path):
    """Every on-screen point marked visible: the depth and segmentation of the cameras show
    that many are not (tracks and correspondences alike)."""
    broken = _copy(rig_scene, tmp_path)
    arrays = _npz(broken / "cross_view.npz")
    xy = arrays["target_points"]
    on_screen = (xy[..., 0] >= 0) & (xy[..., 0] < 32) & (xy[..., 1] >= 0) & (xy[..., 1] < 32)
    arrays["occluded"] &= ~on_screen
    sd = SceneDir(rig_scene)
    correspondences = sd.cross_view().correspondences
    on_screen = ((correspondences >= 0) & (correspondences < 32)).all(axis=-1)
    arrays["correspondence_occluded"] &= ~on_screen
    L.save_npz(broken / "cross_view.npz", arrays)
    problems = _errors(broken)
    for check, what in (("tracks", "visible track points"),
                        ("correspondences", "sampled pixels marked visible in another camera")):
        message = _one(problems, check, "cross_view.npz").message
        assert f" {what} (" in message and "are not seen there by the camera's depth and segmentation" in message


def test_instances_that_differ_between_views(rig_scene, tmp_path):
    broken = _copy(rig_scene, tmp_path)
    meta = json.loads((broken / "view_cam1" / "metadata.json").read_text())
    first, second = meta["instances"][0]["name"], meta["instances"][1]["name"]
    meta["instances"][0], meta["instances"][1] = meta["instances"][1], meta["instances"][0]
    (broken / "view_cam1" / "metadata.json").write_text(json.dumps(meta))
    p = _one(_errors(broken), "views", "view_cam1/metadata.json")
    assert p.message == (f"instances[0] is {second!r} but metadata.json's instances[0] is {first!r} (a segmentation "
                         "id must be one object in every view)")


def test_a_folder_of_scenes_reports_each_rig_as_one_scene(rig_scene, tmp_path, capsys):
    for name in ("a", "b"):
        shutil.copytree(rig_scene, tmp_path / "scenes" / name)
    meta = json.loads((tmp_path / "scenes" / "b" / "metadata.json").read_text())
    meta["rig"]["baselines"][0][1] += 1.0
    (tmp_path / "scenes" / "b" / "metadata.json").write_text(json.dumps(meta))
    assert main(["validate", str(tmp_path / "scenes"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == 2 and report["failing"] == 1
    by_name = {item["path"].rsplit("/", 1)[-1]: item for item in report["items"]}
    assert by_name["a"]["ok"] and by_name["a"]["problems"] == []
    checks = {(p["check"], p["file"]): p["message"] for p in by_name["b"]["problems"]}
    assert checks[("metadata", "metadata.json")].startswith("rig.baselines[0][1] is ")


# --------------------------------------------------------------------------- view


def test_view_of_a_multi_camera_scene_shows_every_camera_in_chromium(rig_scene, tmp_path, capsys):
    assert main(["view", str(rig_scene), "--output", str(tmp_path / "view")]) == 0, capsys.readouterr().err
    page = tmp_path / "view" / "index.html"
    data = json.loads((tmp_path / "view" / "data.js").read_text().removeprefix("window.RIG = ").rstrip()
                      .removesuffix(";"))
    sd = SceneDir(rig_scene)
    assert [c["name"] for c in data["cameras"]] == sd.camera_names and data["layers"] == ["rgb", "seg", "depth", "flow"]
    assert np.asarray(data["tracks"]["xy"]).shape == (3, 64, 3, 2)
    assert (tmp_path / "view" / "contact_sheet.png").exists()
    width, height = sd.resolution
    k = html.rig_scale(width, height)
    shot = _screenshot(page, "frame=1", tmp_path / "rig.png", size=(1300, 800))
    overlay = _screenshot(page, "frame=1&seg=1", tmp_path / "rig_seg.png", size=(1300, 800))
    for (x, y), view in zip(html.rig_layout(width, height, 3), sd.views, strict=True):
        frame = view.stored("rgba")[1, ..., :3].astype(int)
        at = _centres(shot, x, y, width, height, k)
        assert np.abs(at - frame).max() <= 2, view.name  # every camera's frame, where the layout puts it
        seg = view.layer("segmentation")[1]
        over = _centres(overlay, x, y, width, height, k)
        palette = colors.segmentation_palette(int(seg.max(initial=1))).astype(int)
        mask = seg > 0
        assert np.abs(over[mask] - (0.4 * frame + 0.6 * palette[seg])[mask]).max() <= 3, view.name
    # each camera has a full page of its own
    _check_segmentation_overlay(tmp_path / "view" / "view_cam2" / "index.html", sd.view("cam2"), 2, tmp_path)
    assert '"back_label":"all cameras"' in (tmp_path / "view" / "view_cam2" / "data.js").read_text()


def test_a_gallery_with_a_multi_camera_scene(rig_scene, movi_a_scene, tmp_path, capsys):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "rig").symlink_to(rig_scene, target_is_directory=True)
    (folder / "single").symlink_to(movi_a_scene, target_is_directory=True)
    assert main(["view", str(folder), "--output", str(tmp_path / "gallery"), "--frames", "2"]) == 0
    gallery = tmp_path / "gallery"
    index = (gallery / "index.html").read_text()
    assert 'href="rig/index.html"' in index and 'href="single/index.html"' in index
    assert "3 cameras · 2 frames" in index and "one RGB row per camera" in index
    assert "window.RIG" in (gallery / "rig" / "data.js").read_text()
    for camera in ("cam0", "cam1", "cam2"):
        frames = sorted(p.name for p in (gallery / "rig" / f"view_{camera}" / "frames").glob("rgb_*"))
        assert frames == ["rgb_00000.png", "rgb_00001.png"]
    assert "window.SCENE" in (gallery / "single" / "data.js").read_text()
