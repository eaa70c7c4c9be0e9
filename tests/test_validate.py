"""`kubric-gen validate`: a real scene passes; each deliberately broken copy is caught by the
check that should catch it, with the file named and exit status 1."""

import json
import shutil

import numpy as np
import pytest
from conftest import REFERENCE

from kubric_gen.cli import main
from kubric_gen.io import SceneDir
from kubric_gen.io import layers as L
from kubric_gen.io.validate import check_scene


def _meta(d):
    return json.loads((d / "metadata.json").read_text())


def _write_meta(d, meta):
    (d / "metadata.json").write_text(json.dumps(meta))


def _drop_metadata(d):
    (d / "metadata.json").unlink()


def _drop_frame(d):
    (d / "rgba_00001.png").unlink()


def _corrupt_png16(d):
    f = d / "normal_00002.png"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))


def _nan_depth(d):
    depth = L.read_depth(d / "depth_00001.tiff")
    depth[3, 4] = np.nan
    L.write_depth(d / "depth_00001.tiff", depth)


def _nan_in_metadata(d):
    text = (d / "metadata.json").read_text()
    meta = json.loads(text)
    meta["instances"][0]["positions"][1][2] = float("nan")
    (d / "metadata.json").write_text(json.dumps(meta))  # json.dumps writes NaN


def _segmentation_id_too_large(d):
    seg = L.read_segmentation(d / "segmentation_00000.png")
    seg[0, 0] = len(_meta(d)["instances"]) + 3
    L.write_segmentation(d / "segmentation_00000.png", seg)


def _visibility_lies(d):
    meta = _meta(d)
    meta["instances"][0]["visibility"][1] += 7
    _write_meta(d, meta)


def _label_outside_vocabulary(d):
    meta = _meta(d)
    meta["instances"][0]["color_label"] = "pink"
    _write_meta(d, meta)


def _flow_range_inflated(d):  # the stored values then decode to the wrong flow
    ranges = json.loads((d / "data_ranges.json").read_text())
    ranges["forward_flow"]["max"] = ranges["forward_flow"]["max"] * 2 + 1
    (d / "data_ranges.json").write_text(json.dumps(ranges))


def _depth_range_wrong(d):
    ranges = json.loads((d / "data_ranges.json").read_text())
    ranges["depth"]["max"] += 1.0
    (d / "data_ranges.json").write_text(json.dumps(ranges))


def _flow_frames_swapped(d):
    a, b = d / "forward_flow_00000.png", d / "forward_flow_00001.png"
    data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data)


def _camera_moved(d):
    meta = _meta(d)
    meta["camera"]["positions"][1][0] += 0.5
    _write_meta(d, meta)


def _frame_of_wrong_size(d):
    L.write_png16(d / "object_coordinates_00001.png", np.zeros((16, 16, 3), np.uint16))


def _normals_not_unit(d):
    L.write_png16(d / "normal_00000.png", np.zeros((32, 32, 3), np.uint16))


def _tracks_outside(d):
    with np.load(d / "tracks.npz") as f:
        arrays = {k: f[k] for k in f.files}
    visible = np.argwhere(~arrays["occluded"])[0]
    arrays["target_points"][visible[0], visible[1]] = (500.0, -20.0)
    L.save_npz(d / "tracks.npz", arrays)


def _collision_with_unknown_instance(d):
    events = json.loads((d / "events.json").read_text())
    events["collisions"].append({"instances": [0, 99], "frame": 1.0, "force": 1.0, "position": [0, 0, 0],
                                 "contact_normal": [0, 0, 1], "image_position": [0.5, 0.5]})
    (d / "events.json").write_text(json.dumps(events))


def _quaternion_not_unit(d):
    meta = _meta(d)
    meta["instances"][0]["quaternions"][0] = [2.0, 0.0, 0.0, 0.0]
    _write_meta(d, meta)


def _bbox_wrong(d):
    meta = _meta(d)
    inst = meta["instances"][0]
    inst["bboxes"][0] = [0.0, 0.0, 1.0, 1.0]
    _write_meta(d, meta)


def _amodal_misses_a_visible_pixel(d):
    with np.load(d / "amodal_masks.npz") as f:
        masks = L.read_amodal({k: f[k] for k in f.files})
    seg = L.read_segmentation(d / "segmentation_00001.png")
    row, col = np.argwhere(seg == 1)[0]
    masks[0, 1, row, col] = False
    L.write_amodal(d / "amodal_masks.npz", masks)


def _amodal_dropped(d):
    (d / "amodal_masks.npz").unlink()


def _first_instance_edited(key, value, name):
    """A breaker setting the first entry of instance 0's `key` in metadata.json to value(it)."""
    def edit(d):
        meta = _meta(d)
        meta["instances"][0][key][0] = value(meta["instances"][0][key][0])
        _write_meta(d, meta)
    edit.__name__ = name
    return edit


_visible_fraction_lies = _first_instance_edited("visible_fraction", lambda v: v * 0.5, "_visible_fraction_lies")
_amodal_bbox_wrong = _first_instance_edited("amodal_bboxes", lambda v: [0.0, 0.0, 1.0, 1.0], "_amodal_bbox_wrong")
_in_image_fraction_above_one = _first_instance_edited("in_image_fraction", lambda v: 1.5,
                                                      "_in_image_fraction_above_one")


def _scene_flow_edited(name):
    def edit(d):
        with np.load(d / "scene_flow.npz") as f:
            arrays = {k: f[k] for k in f.files}
        arrays[name][1] += np.float32(0.05)  # 5 cm everywhere in frame 1
        L.save_npz(d / "scene_flow.npz", arrays)
    edit.__name__ = f"_{name}_off_by_5cm"
    return edit


def _boundary_one_sided(d):
    with np.load(d / "occlusion_boundaries.npz") as f:
        bits = f["boundaries"]
    seg = L.read_segmentation(d / "segmentation_00000.png")
    row, col = np.argwhere(seg[:, :-1] != seg[:, 1:])[0]
    bits[0, row, col] = 0  # the edge to its right neighbour is no longer marked on its side
    L.save_npz(d / "occlusion_boundaries.npz", {"boundaries": bits})


def _intrinsics_edited(name, edit):
    def breaker(d):
        with np.load(d / "intrinsic_images.npz") as f:
            arrays = {k: f[k] for k in f.files}
        edit(arrays[name], L.read_segmentation(d / "segmentation_00000.png"))
        L.save_npz(d / "intrinsic_images.npz", arrays)
    breaker.__name__ = f"_{name}_{edit.__name__}"
    return breaker


def _above_one(a, seg):
    a[0, 3, 3] = 1.5


def _negative(a, seg):
    a[1, 5, 7] = -0.25


def _flipped_on_one_pixel_of_an_instance(a, seg):
    row, col = np.argwhere(seg == 1)[0]
    a[0, row, col] = ~a[0, row, col]


def _standard_claimed(d):
    """The provenance says the frames were rendered with Standard and no denoiser: the intrinsic
    images (of the Filmic frames) no longer encode to them."""
    provenance = json.loads((d / "provenance.json").read_text())
    provenance["render_settings"].update(view_transform="Standard", denoise=False)
    (d / "provenance.json").write_text(json.dumps(provenance))


BROKEN = {  # how the directory is broken: (the check that must find it, the file it must name)
    _drop_metadata: ("listing", "metadata.json"),
    _drop_frame: ("listing", "rgba_%05d.png"),
    _corrupt_png16: ("decode", "normal_00002.png"),
    _nan_depth: ("decode", "depth_00001.tiff"),
    _nan_in_metadata: ("finite", "metadata.json"),
    _segmentation_id_too_large: ("segmentation", "segmentation_00000.png"),
    _visibility_lies: ("segmentation", "metadata.json"),
    _label_outside_vocabulary: ("labels", "metadata.json"),
    _flow_range_inflated: ("flow", "forward_flow_0000"),
    _depth_range_wrong: ("ranges", "data_ranges.json"),
    _flow_frames_swapped: ("flow", "forward_flow_0000"),
    _camera_moved: ("flow", "_flow_0000"),
    _frame_of_wrong_size: ("decode", "object_coordinates_00001.png"),
    _normals_not_unit: ("normals", "normal_00000.png"),
    _tracks_outside: ("tracks", "tracks.npz"),
    _collision_with_unknown_instance: ("events", "events.json"),
    _quaternion_not_unit: ("metadata", "metadata.json"),
    _bbox_wrong: ("segmentation", "metadata.json"),
    _amodal_misses_a_visible_pixel: ("amodal", "amodal_masks.npz"),
    _amodal_dropped: ("amodal", "metadata.json"),
    _visible_fraction_lies: ("amodal", "metadata.json"),
    _amodal_bbox_wrong: ("amodal", "metadata.json"),
    _in_image_fraction_above_one: ("amodal", "metadata.json"),
    _boundary_one_sided: ("boundaries", "occlusion_boundaries.npz"),
    _scene_flow_edited("forward_scene_flow"): ("scene_flow", "scene_flow.npz"),
    _scene_flow_edited("backward_scene_flow"): ("scene_flow", "scene_flow.npz"),
    _intrinsics_edited("albedo", _above_one): ("intrinsics", "intrinsic_images.npz"),
    _intrinsics_edited("shading", _negative): ("intrinsics", "intrinsic_images.npz"),
    _intrinsics_edited("mirror_or_transparent", _flipped_on_one_pixel_of_an_instance):
        ("intrinsics", "intrinsic_images.npz"),
    _standard_claimed: ("intrinsics", "intrinsic_images.npz"),
}


def test_a_real_scene_passes_every_check(movi_a_scene, capsys):
    assert [p for p in check_scene(SceneDir(movi_a_scene)) if p.severity == "error"] == []
    assert main(["validate", str(movi_a_scene)]) == 0


@pytest.mark.skipif(not REFERENCE.exists(), reason="needs ../shared/reference")
def test_kubrics_own_scene_directory_passes_every_check():
    problems = check_scene(SceneDir(REFERENCE))
    assert problems == [], problems


@pytest.mark.parametrize("breaker", list(BROKEN), ids=[f.__name__.lstrip("_") for f in BROKEN])
def test_each_broken_directory_is_found(breaker, movi_a_scene, tmp_path, capsys):
    broken = tmp_path / movi_a_scene.name
    shutil.copytree(movi_a_scene, broken)
    breaker(broken)
    check, file = BROKEN[breaker]
    problems = [p for p in check_scene(SceneDir(broken)) if p.severity == "error"]
    assert any(p.check == check and file in p.file for p in problems), problems
    assert main(["validate", str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"{broken}/" in out and file.split("%")[0] in out and "error" in out


def test_folder_report_as_json_names_the_failing_scene(movi_a_scene, tmp_path, capsys):
    for name in ("scene_a", "scene_b"):
        shutil.copytree(movi_a_scene, tmp_path / name)
    _label_outside_vocabulary(tmp_path / "scene_b")
    assert main(["validate", str(tmp_path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "scenes" and report["checked"] == 2 and report["failing"] == 1
    by_path = {item["path"].rsplit("/", 1)[-1]: item for item in report["items"]}
    assert by_path["scene_a"]["ok"] and not by_path["scene_b"]["ok"]
    checks = {p["check"]: p for p in by_path["scene_b"]["problems"]}
    assert "pink" in checks["labels"]["message"]
    assert checks["integrity"]["file"] == "metadata.json"  # edited after it was written


def test_bad_paths_are_user_errors(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 2
    assert "no scene directory" in capsys.readouterr().err


def test_non_regular_files_are_refused_before_reading_and_links_are_followed(movi_a_scene, tmp_path):
    """A named pipe posing as a frame (or in a view folder) is refused, naming it, when the scenes are
    listed and when a SceneDir lists its folder, before anything opens it (opening it would block
    forever); a symbolic link to a regular file is read as the file."""
    import os

    from kubric_gen.io.reader import NotRegularFileError, SceneDirError, list_scene_dirs

    scene = tmp_path / "scenes" / "scene_00000000"
    shutil.copytree(movi_a_scene, scene)
    frame = scene / "rgba_00001.png"
    (tmp_path / "frame.png").write_bytes(frame.read_bytes())
    frame.unlink()
    frame.symlink_to(tmp_path / "frame.png")
    assert list_scene_dirs(tmp_path / "scenes") == [str(tmp_path / "scenes/scene_00000000")]
    np.testing.assert_array_equal(SceneDir(scene).stored("rgba")[1], SceneDir(movi_a_scene).stored("rgba")[1])
    frame.unlink()
    os.mkfifo(frame)
    for read in (lambda: list_scene_dirs(tmp_path / "scenes"), lambda: list_scene_dirs(scene),
                 lambda: SceneDir(scene).files, lambda: SceneDir(scene).stored("rgba")):
        with pytest.raises(NotRegularFileError, match=r"rgba_00001\.png: a named pipe, not a regular file"):
            read()
    frame.unlink()
    os.symlink(tmp_path / "pipe", frame)  # a link to a named pipe: refused when read
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(NotRegularFileError, match=r"rgba_00001\.png"):
        SceneDir(scene).stored("rgba")
    assert not issubclass(NotRegularFileError, SceneDirError)  # the command stops: not a damaged scene to report


def test_truncated_npz_is_one_problem_naming_it(movi_a_scene, tmp_path):
    scene = tmp_path / "scene"
    shutil.copytree(movi_a_scene, scene)
    for name in ("tracks.npz", "layers.npz"):
        data = (scene / name).read_bytes()
        (scene / name).write_bytes(data[: len(data) // 2])
    messages = [p.message for p in check_scene(SceneDir(scene)) if p.file == "tracks.npz"]
    assert any("cannot read (BadZipFile" in m for m in messages), messages
    with pytest.raises(Exception, match=r"layers\.npz: cannot read \(BadZipFile") as raised:
        SceneDir(scene).float_layers()
    assert raised.type.__name__ == "SceneDirError"
