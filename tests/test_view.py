"""Looking at what was made: colours, contact sheets, preview videos and `kubric-gen view`
(the HTML pages checked in a real headless Chromium, from screenshots)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE
from PIL import Image

from kubric_gen.cli import main
from kubric_gen.io import SceneDir, read_float_layers, read_rgba
from kubric_gen.io import format as fmt
from kubric_gen.io.reader import list_scene_dirs
from kubric_gen.visual import colors, html, sheet, video

REQUIRED = os.environ.get("KUBRIC_GEN_REQUIRE_CONTAINER_TESTS") == "1"
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


# --------------------------------------------------------------------------- colours


def test_flow_wheel_directions_follow_row_col_order():
    right = np.array([[[0.0, 1.0]]])  # (d_row, d_col): one pixel to the right
    down = np.array([[[1.0, 0.0]]])
    assert colors.flow_colors(right, 1.0)[0, 0].tolist() == [255, 0, 0]  # Middlebury: u > 0 is red
    r, g, b = colors.flow_colors(down, 1.0)[0, 0].tolist()
    assert r > 200 and g > 200 and b < 60  # v > 0 (down the image) is yellow
    assert colors.flow_colors(np.zeros((2, 3, 4, 2)), 1.0).tolist() == np.full((2, 3, 4, 3), 255).tolist()


def test_depth_and_segmentation_colours():
    depth = np.array([[1.0, 2.0, np.inf]], dtype=np.float32)
    out = colors.depth_colors(depth)
    assert out[0, 2].tolist() == [0, 0, 0] and out[0, 0].tolist() != out[0, 1].tolist()
    lut = colors.colormap_lut()
    assert out[0, 0].tolist() == lut[0].tolist() and out[0, 1].tolist() == lut[255].tolist()
    palette = colors.segmentation_palette(40)
    assert palette.shape == (41, 3) and palette[0].tolist() == [0, 0, 0]
    assert len({tuple(c) for c in palette}) == 41  # distinct
    np.testing.assert_array_equal(colors.segmentation_colors(np.array([[0, 3]])), palette[[[0, 3]]])


# --------------------------------------------------------------------------- contact sheet, previews


def test_contact_sheet_in_the_scene_directory_shows_the_layers(movi_a_scene):
    written = np.asarray(Image.open(movi_a_scene / fmt.CONTACT_SHEET).convert("RGB"))
    rgba, exact = read_rgba(movi_a_scene), read_float_layers(movi_a_scene)
    seg = exact["segmentation"]
    again = sheet.contact_sheet(rgba, seg, exact["depth"], exact["forward_flow"])
    np.testing.assert_array_equal(np.asarray(again), written)  # made from the arrays in memory, same pixels
    layout = sheet.sheet_layout(3, 32, 32, sheet.ROWS)
    assert written.shape[:2] == layout.size[::-1] and layout.frames == (0, 1, 2)
    palette = colors.segmentation_palette(int(seg.max()))
    for col, frame in enumerate(layout.frames):
        x, y = layout.origin(1, col)  # the segmentation row
        cell = written[y:y + layout.cell_height:layout.scale, x:x + layout.cell_width:layout.scale]
        mask = seg[frame] > 0
        expected = np.rint(0.4 * rgba[frame, ..., :3] + 0.6 * palette[seg[frame]]).astype(int)
        assert np.abs(cell[mask].astype(int) - expected[mask]).max() <= 1
        np.testing.assert_array_equal(cell[~mask], rgba[frame, ..., :3][~mask])
        x, y = layout.origin(2, col)  # depth
        cell = written[y:y + layout.cell_height:layout.scale, x:x + layout.cell_width:layout.scale]
        np.testing.assert_array_equal(cell, colors.depth_colors(exact["depth"][frame],
                                                                colors.finite_range(exact["depth"])))


def test_mp4_preview_is_deterministic_and_handles_odd_sizes(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 17, 33, 4), dtype=np.uint8)
    a = video.write_mp4(tmp_path / "a.mp4", frames, 12)
    b = video.write_mp4(tmp_path / "b.mp4", frames, 12)
    assert a.read_bytes() == b.read_bytes() and a.stat().st_size > 0
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(a))
    meta = next(reader)
    decoded = list(reader)
    assert tuple(meta["size"]) == (34, 18) and len(decoded) == 6
    smooth = np.broadcast_to(np.linspace(0, 255, 33, dtype=np.uint8)[None, None, :, None], (2, 16, 33, 3))
    out = video.write_mp4(tmp_path / "smooth.mp4", smooth, 12)
    reader = imageio_ffmpeg.read_frames(str(out))
    next(reader)
    first = np.frombuffer(next(reader), dtype=np.uint8).reshape(16, 34, 3)
    assert np.abs(first[:, :33].astype(int) - smooth[0].astype(int)).mean() < 6  # the picture survives


def test_preview_falls_back_to_gif_without_ffmpeg(tmp_path, monkeypatch, caplog):
    from kubric_gen.io import scene_dir

    frames = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 4), dtype=np.uint8)
    assert scene_dir.write_preview(tmp_path, frames, 12).name == fmt.PREVIEW

    def no_ffmpeg():
        raise video.VideoError("no ffmpeg (test)")

    monkeypatch.setattr(video, "ffmpeg_exe", no_ffmpeg)
    fallback = tmp_path / "fallback"
    fallback.mkdir()
    assert scene_dir.write_preview(fallback, frames, 12).name == fmt.PREVIEW_GIF
    assert [p.name for p in fallback.iterdir()] == [fmt.PREVIEW_GIF] and "no ffmpeg" in caplog.text
    with Image.open(fallback / fmt.PREVIEW_GIF) as gif:
        assert gif.n_frames == 3
    assert SceneDir(fallback).preview == fmt.PREVIEW_GIF and SceneDir(tmp_path).preview == fmt.PREVIEW


def test_a_failing_ffmpeg_also_falls_back(tmp_path, monkeypatch):
    from kubric_gen.io import scene_dir

    monkeypatch.setattr(video, "mp4_command", lambda *a: ["false"])
    frames = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    assert scene_dir.write_preview(tmp_path, frames, 12).name == fmt.PREVIEW_GIF
    assert not (tmp_path / fmt.PREVIEW).exists()


# --------------------------------------------------------------------------- the command


def _view(capsys, *argv):
    code = main(["view", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_view_bad_input_is_one_line_and_status_2(tmp_path, capsys, movi_a_scene):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    cases = [(tmp_path / "missing",), (afile,), (tmp_path / "empty",),
             (movi_a_scene, "--output", afile / "out"), (movi_a_scene, "--output", movi_a_scene / "view"),
             (movi_a_scene, "--output", tmp_path / "busy"), (movi_a_scene, "--frames", "0")]
    for argv in cases:
        code, out, err = _view(capsys, *argv)
        assert code == 2 and err.startswith("kubric-gen: error: ") and len(err.strip().splitlines()) == 1, (argv, err)
    assert (tmp_path / "busy" / "mine.txt").read_text() == "keep me"
    assert not (movi_a_scene / "view").exists()


def _screenshot(page: Path, state: str, out: Path, size=(1200, 800)) -> np.ndarray:
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail("no chromium binary (and KUBRIC_GEN_REQUIRE_CONTAINER_TESTS=1)")
        pytest.skip("no chromium binary (apt-get install chromium)")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--force-device-scale-factor=1", f"--user-data-dir={out.parent / 'chromium-profile'}",
               "--virtual-time-budget=3000", f"--window-size={size[0]},{size[1]}", f"--screenshot={out}",
               f"{page.resolve().as_uri()}#{state}"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def _at_pixel_centres(shot: np.ndarray, width: int, height: int) -> np.ndarray:
    """The screenshot at the centre of every frame pixel (the canvas is at the page's origin)."""
    k = html.display_scale(width, height)
    centres_y, centres_x = np.arange(height) * k + k // 2, np.arange(width) * k + k // 2
    return shot[np.ix_(centres_y, centres_x)]


def _check_segmentation_overlay(page: Path, sd: SceneDir, frame: int, tmp_path: Path) -> None:
    width, height = sd.resolution
    rgb = _at_pixel_centres(_screenshot(page, f"frame={frame}", tmp_path / "rgb.png"), width, height)
    over = _at_pixel_centres(_screenshot(page, f"frame={frame}&seg=1", tmp_path / "seg.png"), width, height)
    frames = sd.stored("rgba")[..., :3].astype(int)
    assert np.abs(rgb - frames[frame]).max() <= 2  # the frame, where the layout says it is
    seg = sd.layer("segmentation")[frame]
    mask = seg > 0
    palette = colors.segmentation_palette(int(sd.layer("segmentation").max())).astype(int)
    expected = 0.4 * frames[frame] + 0.6 * palette[seg]
    assert mask.sum() > 10 and np.abs(over[mask] - expected[mask]).max() <= 3
    assert np.abs(over[~mask] - rgb[~mask]).max() <= 2


def test_view_of_a_scene_shows_its_layers_in_chromium(movi_a_scene, tmp_path, capsys):
    code, out, err = _view(capsys, movi_a_scene, "--output", tmp_path / "view")
    assert code == 0, err
    page = tmp_path / "view" / "index.html"
    assert page.exists() and str(page) in out
    text = page.read_text() + (tmp_path / "view" / "data.js").read_text()
    assert "http://" not in text and "https://" not in text  # nothing from the network
    sd = SceneDir(movi_a_scene)
    _check_segmentation_overlay(page, sd, 1, tmp_path)
    width, height = sd.resolution
    exact = sd.float_layers()
    depth = _at_pixel_centres(_screenshot(page, "frame=1&view=depth", tmp_path / "depth.png"), width, height)
    expected = colors.depth_colors(exact["depth"][1], sd.range("depth")).astype(int)
    assert np.abs(depth - expected).max() <= 2
    flow = _at_pixel_centres(_screenshot(page, "frame=1&view=flow", tmp_path / "flow.png"), width, height)
    f = sd.layer("forward_flow")
    assert np.abs(flow - colors.flow_colors(f[1], colors.flow_max_radius(f)).astype(int)).max() <= 2
    shot = _screenshot(page, "frame=1&boxes=1&tracks=1&arrows=1", tmp_path / "all.png")
    plain = _screenshot(page, "frame=1", tmp_path / "rgb.png")
    k = html.display_scale(width, height)
    assert (np.abs(shot - plain)[: height * k, : width * k].max(axis=-1) > 30).mean() > 0.01  # overlays drawn


@pytest.mark.skipif(not REFERENCE.exists(), reason="needs ../shared/reference")
def test_view_of_kubrics_scene_and_a_gallery(movi_a_scene, tmp_path, capsys):
    code, out, err = _view(capsys, REFERENCE, "--output", tmp_path / "kubric")
    assert code == 0, err
    _check_segmentation_overlay(tmp_path / "kubric" / "index.html", SceneDir(REFERENCE), 3, tmp_path)
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "kubric").symlink_to(REFERENCE, target_is_directory=True)
    (folder / "ours").symlink_to(movi_a_scene, target_is_directory=True)
    (folder / "not_a_scene").mkdir()
    code, out, err = _view(capsys, folder, "--output", tmp_path / "gallery", "--frames", "2")
    assert code == 0, err
    assert "[1/2] kubric" in err and "[2/2] ours" in err
    gallery = tmp_path / "gallery"
    index = (gallery / "index.html").read_text()
    for name in ("kubric", "ours"):
        assert f'href="{name}/index.html"' in index and (gallery / name / "contact_sheet.png").exists()
        assert "../index.html" in (gallery / name / "data.js").read_text()
        assert sorted(p.name for p in (gallery / name / "frames").glob("rgb_*")) == ["rgb_00000.png", "rgb_00001.png"]
    shot = _screenshot(gallery / "index.html", "", tmp_path / "gallery.png")
    thumbs = shot[80:380, 18:358]  # the first card's image
    assert thumbs.std() > 20  # the contact sheet is shown, not a broken-image icon
    # viewing again replaces the folder it wrote
    code, out, err = _view(capsys, folder, "--output", tmp_path / "gallery")
    assert code == 0, err
    # without --output: beside the input, and a reader of the folder of scenes does not take it for a scene
    before = list_scene_dirs(folder)
    code, out, err = _view(capsys, folder / "ours", "--frames", "1")
    assert code == 0, err
    assert (folder / "_view_ours" / "index.html").is_file() and str(folder / "_view_ours") in out
    assert list_scene_dirs(folder) == before


@pytest.mark.filterwarnings("ignore:label\\(\\) is deprecated:DeprecationWarning")
def test_view_of_a_prepared_dataset(movi_a_scene, tmp_path, capsys):
    pytest.importorskip("tensorflow_datasets")
    from kubric_gen.datasets import build_dataset

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    shutil.copytree(movi_a_scene, scenes / movi_a_scene.name)
    built = build_dataset(scenes, "kg_view_test", tmp_path / "tfds")
    code, out, err = _view(capsys, tmp_path / "tfds", "--output", tmp_path / "view")
    assert code == 0, err
    pages = sorted((tmp_path / "view").glob("*/data.js"))
    assert len(pages) == 1 and "train" in pages[0].parent.name
    import json

    data = json.loads(pages[0].read_text().removeprefix("window.SCENE = ").rstrip().removesuffix(";"))
    assert data["layers"] == ["rgb", "seg", "depth", "flow"] and data["tracks"] is not None
    meta = SceneDir(movi_a_scene).metadata
    assert [i["shape"] for i in data["instances"]] == [i["shape"] for i in meta["instances"]]
    assert data["num_frames"] == 3 and built.num_examples == 1
    rgb = np.asarray(Image.open(pages[0].parent / "frames" / "rgb_00000.png"))
    np.testing.assert_array_equal(rgb, read_rgba(movi_a_scene)[0, ..., :3])


def test_importing_kubric_gen_does_not_import_matplotlib():
    code = ("import sys, kubric_gen, kubric_gen.io, kubric_gen.visual, kubric_gen.cli; "
            "bad = [m for m in ('matplotlib', 'flow_vis') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
