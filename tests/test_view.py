"""Looking at what was made: colours, contact sheets, preview videos and `kubric-gen view`
(the HTML pages checked in a real headless Chromium, from screenshots)."""

import atexit
import base64
import colorsys
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
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


def _chromium() -> str:
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail("no chromium binary (and KUBRIC_GEN_REQUIRE_CONTAINER_TESTS=1)")
        pytest.skip("no chromium binary (apt-get install chromium)")
    return CHROMIUM


def _screenshot(page: Path, state: str, out: Path, size=(1200, 800)) -> np.ndarray:
    """The page with the URL hash `state` in a `size` window of headless Chromium, saved to `out`:
    one browser per test process takes every screenshot (a browser's start costs more than a page)."""
    browser = _shared_browser()
    browser.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1,
                 mobile=False)
    browser.open(page, state)
    out.write_bytes(base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"]))
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


_SHARED: list = []  # this process's browser for _screenshot, started on first use, closed at exit


def _shared_browser() -> "_DevTools":
    if not _SHARED or _SHARED[0].proc.poll() is not None:
        profile = Path(tempfile.mkdtemp(prefix="kubric_gen-chromium-"))
        _SHARED[:] = [_DevTools(profile)]
        atexit.register(lambda browser=_SHARED[0]: (browser.close(), shutil.rmtree(profile, ignore_errors=True)))
    return _SHARED[0]


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
    data = json.loads(pages[0].read_text().removeprefix("window.SCENE = ").rstrip().removesuffix(";"))
    assert data["layers"] == ["rgb", "seg", "depth", "flow"] and data["tracks"] is not None
    meta = SceneDir(movi_a_scene).metadata
    assert [i["shape"] for i in data["instances"]] == [i["shape"] for i in meta["instances"]]
    assert data["num_frames"] == 3 and built.num_examples == 1
    rgb = np.asarray(Image.open(pages[0].parent / "frames" / "rgb_00000.png"))
    np.testing.assert_array_equal(rgb, read_rgba(movi_a_scene)[0, ..., :3])


# --------------------------------------------------------------------------- the page driven in Chromium
# Over the DevTools protocol: real key and mouse input (Input.dispatchKeyEvent/dispatchMouseEvent),
# screenshots of the canvas, the URL hash read back.


class _DevTools:
    """A headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
    the browser reads NUL-terminated JSON commands on its fd 3 and answers on its fd 4), so no port
    is opened (safe under pytest-xdist) and nothing beyond the standard library is needed."""

    KEYS = {"ArrowRight": ("ArrowRight", 39, None), "ArrowLeft": ("ArrowLeft", 37, None), " ": ("Space", 32, " ")}

    def __init__(self, tmp_path: Path, size=(1200, 800)):
        def high(fd: int) -> int:  # above the fds 3 and 4 the browser gets, so that moving them cannot clash
            new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
            os.close(fd)
            return new

        commands_in, self._commands = map(high, os.pipe())
        self._answers, answers_out = map(high, os.pipe())
        argv = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'chromium-devtools'}",
                f"--window-size={size[0]},{size[1]}", "--remote-debugging-pipe", "about:blank"]
        shim = ("import os, sys; r, w = map(int, sys.argv[1:3]); os.dup2(r, 3); os.dup2(w, 4); os.close(r); "
                "os.close(w); os.execv(sys.argv[3], sys.argv[3:])")  # the pipe's ends as the browser's fds 3, 4
        self._log = tmp_path / "chromium-devtools.log"
        with open(self._log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", shim, str(commands_in), str(answers_out), *argv],
                                         pass_fds=(commands_in, answers_out), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        os.close(commands_in)
        os.close(answers_out)
        self._buffer, self._id, self._events, self._session = b"", 0, [], None
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.call("Page.enable")
            self.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1,
                      mobile=False)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _message(self, timeout: float) -> dict:
        while b"\0" not in self._buffer:
            if not select.select([self._answers], [], [], max(0.0, timeout))[0]:
                raise TimeoutError(f"chromium did not answer within {timeout:.0f} s")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed the pipe: {self._log.read_text(errors='replace')[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self._session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self._session
        try:
            os.write(self._commands, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise RuntimeError(f"chromium is gone: {self._log.read_text(errors='replace')[-2000:]}") from None
        while True:
            answer = self._message(timeout)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self._events.append(answer)

    def js(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, page: Path, state: str) -> None:
        """Loads `page` with the URL hash `state` (from about:blank: a hash change alone does not reload)."""
        for url in ("about:blank", f"{page.resolve().as_uri()}#{state}"):
            self._events.clear()
            self.call("Page.navigate", url=url)
            end = time.monotonic() + 30
            while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
                self._events.append(self._message(end - time.monotonic()))

    def shot(self, width: int, height: int) -> np.ndarray:
        """The page's top-left `width` x `height` pixels (the canvas), RGB ints."""
        data = self.call("Page.captureScreenshot", format="png",
                         clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})["data"]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")).astype(int)

    def key(self, key: str) -> None:
        """Presses and releases a key, as a keyboard would (to the focused element)."""
        code, keycode, text = self.KEYS[key]
        down = {"type": "keyDown" if text else "rawKeyDown", "key": key, "code": code, "windowsVirtualKeyCode": keycode}
        self.call("Input.dispatchKeyEvent", **down, **({"text": text} if text else {}))
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=keycode)

    def rect(self, selector: str) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the element on the page."""
        r = self.js(f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect(); "
                    "return [r.x, r.y, r.width, r.height]; })()")
        return tuple(r)

    def click(self, selector: str, at: float = 0.5) -> None:
        """A left click with the mouse on the element, `at` its width from its left side, half-way down."""
        x, y, w, h = self.rect(selector)
        x, y = x + at * w, y + h / 2
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def hash(self) -> dict[str, str]:
        return dict(self.js("[...new URLSearchParams(location.hash.slice(1))]"))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=5)
            except (OSError, RuntimeError, TimeoutError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._commands, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture(scope="module")
def scene_page(movi_a_scene, tmp_path_factory):
    """`kubric-gen view` of the MOVi-A scene (32x32, 3 frames, 40 tracks): its index.html."""
    out = tmp_path_factory.mktemp("view") / "view"
    assert main(["view", str(movi_a_scene), "--output", str(out)]) == 0
    return out / "index.html"


def _enlarged(image: np.ndarray, k: int) -> np.ndarray:
    """An image as the page's canvas shows it: every pixel a k x k square."""
    return image.astype(int).repeat(k, axis=0).repeat(k, axis=1)


def _changed(shot: np.ndarray, plain: np.ndarray) -> np.ndarray:
    return np.abs(shot - plain).max(axis=-1) > 24


def test_view_draws_each_box_on_its_bbox_in_chromium(scene_page, movi_a_scene, tmp_path):
    """The 2D boxes land on metadata.json's bboxes (normalised ymin, xmin, ymax, xmax) times the
    canvas (the frame enlarged by `display_scale`): each instance's box drawn alone (the page's
    instance list narrowed to it, then the boxes checkbox clicked) changes exactly the 2-pixel
    line centred on the bbox's edges, in the instance's segmentation colour, and its label at
    the top-left corner; a frame where the instance has no box (bbox_frames) shows none."""
    sd = SceneDir(movi_a_scene)
    width, height = sd.resolution
    k = html.display_scale(width, height)
    w, h = width * k, height * k
    instances = sd.metadata["instances"]
    palette = colors.segmentation_palette(len(instances)).astype(int)
    rgb = sd.stored("rgba")[..., :3]
    cy, cx = np.mgrid[0:h, 0:w] + 0.5  # pixel centres on the canvas
    missing = 0
    with _DevTools(tmp_path) as browser:
        browser.open(scene_page, "frame=0")
        assert browser.rect("#view") == (0, 0, w, h)
        browser.js("window.ALL_INSTANCES = window.SCENE.instances")
        for frame in (0, 1):  # an instance first seen at frame 1 has no box at 0 and its bboxes[0] at 1
            if frame:
                browser.key("ArrowRight")
            plain = _enlarged(rgb[frame], k)
            assert np.abs(browser.shot(w, h) - plain).max() <= 2
            for index, inst in enumerate(instances):
                browser.js(f"window.SCENE.instances = [window.ALL_INSTANCES[{index}]]")
                browser.click("#boxes")
                assert browser.hash()["boxes"] == "1"
                shot = browser.shot(w, h)
                browser.click("#boxes")
                changed = _changed(shot, plain)
                where = f"frame {frame}, instance {index}"
                if frame not in inst["bbox_frames"]:
                    assert changed.sum() == 0, f"{where}: no bbox, yet pixels drawn"
                    missing += 1
                    continue
                y0, x0, y1, x1 = np.asarray(inst["bboxes"][inst["bbox_frames"].index(frame)]) * [h, w, h, w]
                box = f"(x0, y0, x1, y1) {x0:.1f}, {y0:.1f}, {x1:.1f}, {y1:.1f}"
                # the outline: a 2-pixel line centred on the edges, i.e. the pixels whose centres are within 1
                line = (((cx >= x0 - 1) & (cx <= x1 + 1) & (cy >= y0 - 1) & (cy <= y1 + 1))
                        & ~((cx > x0 + 1) & (cx < x1 - 1) & (cy > y0 + 1) & (cy < y1 - 1)))
                top = y0 if y0 > 14 else y0 + 14  # the label: 14 px high, above the box (inside it at the top)
                label = (cy > top - 14) & (cy < top) & (cx > x0)
                stray = changed & ~line & ~label
                assert stray.sum() == 0, f"{where}: pixels drawn off the bbox {box}, " \
                    f"e.g. (x, y) {np.argwhere(stray)[:3, ::-1].tolist()}"
                error = np.abs(shot - palette[index + 1]).max(axis=-1)[line & ~label]
                assert (error > 24).sum() == 0, f"{where}: of the line's {error.size} pixels, some are " \
                    f"not in the instance's colour around the bbox {box}"
                assert (changed & label & ~line).sum() > 20, f"{where}: no label"
    assert missing == sum(0 not in i["bbox_frames"] for i in instances) > 0


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances (P, S) from points (P, 2) to the segments a (S, 2) -> b (S, 2)."""
    ab = (b - a)[None]
    ap = points[:, None] - a[None]
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0, 1)
    return np.linalg.norm(ap - t[..., None] * ab, axis=-1)


def test_view_draws_the_point_tracks_at_their_targets_in_chromium(scene_page, movi_a_scene, tmp_path):
    """Every frame's track markers sit at tracks.npz's target_points (x, y pixels, times the
    display scale) in the track's colour: filled where visible, hollow (a ring, the centre
    untouched) where occluded, as the page's conventions say; nothing is drawn but the markers
    and the trails joining a track's visible positions of the last 5 frames."""
    sd = SceneDir(movi_a_scene)
    width, height = sd.resolution
    k = html.display_scale(width, height)
    w, h = width * k, height * k
    tracks = sd.tracks()
    xy, occluded = tracks.target_points.astype(float) * k, tracks.occluded
    n = len(xy)
    hues = [np.array(colorsys.hls_to_rgb((i * 137.508) % 360 / 360, 0.6, 0.9)) * 255 for i in range(n)]
    rgb = sd.stored("rgba")[..., :3]
    checked = {"visible": 0, "occluded": 0}
    with _DevTools(tmp_path) as browser:
        browser.open(scene_page, "frame=0&tracks=1")
        conventions = dict(browser.js("window.SCENE.conventions"))
        assert "filled = visible, hollow = occluded" in conventions["tracks"]
        for frame in range(sd.num_frames):
            if frame:
                browser.key("ArrowRight")
                assert browser.hash()["frame"] == str(frame)
            shot = browser.shot(w, h)
            changed = _changed(shot, _enlarged(rgb[frame], k))
            markers = xy[:, frame]
            trails = [(i, g) for i in range(n) for g in range(max(0, frame - 5), frame)
                      if not occluded[i, g] and not occluded[i, g + 1]]  # a line from frame g to g + 1
            owner = np.array([i for i, _ in trails], dtype=int)
            starts = np.array([xy[i, g] for i, g in trails]).reshape(-1, 2)
            ends = np.array([xy[i, g + 1] for i, g in trails]).reshape(-1, 2)
            pixels = np.argwhere(changed)[:, ::-1] + 0.5  # (x, y) centres of the changed pixels
            near = (np.linalg.norm(pixels[:, None] - markers[None], axis=-1) <= 4.5).any(axis=1)
            near |= (_segment_distance(pixels, starts, ends) <= 1.5).any(axis=1)
            assert (~near).sum() == 0, f"frame {frame}: pixels drawn away from every track's marker " \
                f"and trail, e.g. (x, y) {pixels[~near][:3].tolist()}"
            to_trails = _segment_distance(markers, starts, ends)  # (N, segments)
            for i in range(n):
                x, y = markers[i]
                later = np.arange(n) > i  # tracks drawn after (over) track i
                covered = ((np.linalg.norm(markers[later] - (x, y), axis=-1) <= 11).any()
                           or (to_trails[i][later[owner]] <= 8).any())
                if covered or not (8 <= x < w - 8 and 8 <= y < h - 8):
                    continue  # near a track drawn after it, or at the canvas's edge
                x0, y0 = int(x) - 8, int(y) - 8  # a 17x17 window around the marker
                cy, cx = np.mgrid[y0:y0 + 17, x0:x0 + 17] + 0.5
                distance = np.hypot(cx - x, cy - y)
                error = np.abs(shot[y0:y0 + 17, x0:x0 + 17] - hues[i]).max(axis=-1)
                hollow, drawn = bool(occluded[i, frame]), changed[y0:y0 + 17, x0:x0 + 17]
                where = f"frame {frame}, track {i} at (x, y) {x:.1f}, {y:.1f}"
                mine = (distance <= 6) & drawn & (error <= (40 if hollow else 12))  # in the track's colour
                centre = np.array([cx[mine].mean(), cy[mine].mean()]) if mine.sum() >= 4 else np.full(2, np.nan)
                assert np.hypot(*(centre - (x, y))) <= 0.75, f"{where}: the marker is centred at {centre.round(2)}"
                if hollow:
                    assert drawn[distance <= 1.5].sum() == 0, f"{where}: occluded, yet filled"
                    ring = (distance >= 2.5) & (distance <= 3.5)
                    assert (error[ring] > 40).sum() == 0, f"{where}: occluded, no ring in the track's colour"
                else:
                    assert (error[distance <= 1.5] > 12).sum() == 0, f"{where}: visible, not filled in its colour"
                checked["occluded" if hollow else "visible"] += 1
    assert checked["occluded"] >= 2 and checked["visible"] >= 60, checked


def _hash_writes(browser: _DevTools, count: int, timeout: float) -> list[tuple[float, int]]:
    """(milliseconds, frame) of the URL hashes the page wrote since `_record_hash_writes`, once
    there are `count` (or `timeout` seconds passed)."""
    end = time.monotonic() + timeout
    while browser.js("window.HASH_WRITES.length") < count and time.monotonic() < end:
        time.sleep(0.01)
    writes = browser.js("window.HASH_WRITES")
    return [(ms, int(dict(kv.split("=") for kv in url[1:].split("&"))["frame"])) for ms, url in writes]


def _record_hash_writes(browser: _DevTools) -> None:
    browser.js("window.HASH_WRITES = []; if (!window.REPLACE) { window.REPLACE = history.replaceState.bind(history);"
               " history.replaceState = (s, t, url) => { HASH_WRITES.push([performance.now(), url]); "
               "REPLACE(s, t, url); }; }")


def test_view_controls_in_chromium(scene_page, movi_a_scene, tmp_path):
    """The player's controls with real input (DevTools key and mouse events): the arrow keys step
    the frame (wrapping), the scrubber sets it, play/pause (button and space bar) advance it at
    the frame rate and stop, the view radios and overlay checkboxes switch what the canvas shows;
    the URL hash, the frame label and the canvas follow every time."""
    sd = SceneDir(movi_a_scene)
    width, height = sd.resolution
    k = html.display_scale(width, height)
    w, h = width * k, height * k
    last = sd.num_frames - 1
    assert last == 2
    exact = sd.float_layers()
    flow = sd.layer("forward_flow")
    layers = {"rgb": sd.stored("rgba")[..., :3],
              "depth": colors.depth_colors(exact["depth"], sd.range("depth")),
              "flow": colors.flow_colors(flow, colors.flow_max_radius(flow))}
    with _DevTools(tmp_path) as browser:

        def shows(frame: int, view: str = "rgb", **overlays: str) -> None:
            state = {"frame": str(frame), "view": view, "seg": "0", "amodal": "0", "boxes": "0", "tracks": "0",
                     "arrows": "0", **overlays}
            assert browser.hash() == state
            assert browser.js("document.getElementById('framelabel').textContent") == f"frame {frame} / {last}"
            assert browser.js("document.getElementById('scrub').value") == str(frame)
            canvas = _at_pixel_centres(browser.shot(w, h), width, height)
            if overlays.get("seg") != "1":
                assert np.abs(canvas - layers[view][frame]).max() <= 2, f"the canvas is not {view} {frame}"

        browser.open(scene_page, "frame=0")
        browser.key("ArrowRight")
        shows(1)
        browser.key("ArrowRight")
        shows(2)
        browser.key("ArrowRight")
        shows(0)  # wraps
        browser.key("ArrowLeft")
        shows(2)
        browser.click("#scrub", 0.5)  # the scrubber's middle: frame 1 of 0..2
        shows(1)
        browser.click("#scrub", 0.02)
        shows(0)
        browser.click("#scrub", 0.98)
        shows(2)
        browser.click("#view", 0.1)  # away from the scrubber (the canvas takes no focus)
        for view in ("depth", "flow", "rgb"):
            browser.click(f"input[name=view][value={view}]")
            shows(2, view)
        browser.click("#seg")
        shows(2, seg="1")
        seg = sd.layer("segmentation")[2] > 0
        changed = _changed(_at_pixel_centres(browser.shot(w, h), width, height), layers["rgb"][2])
        assert changed[seg].mean() > 0.9 and not changed[~seg].any()
        browser.click("#seg")
        shows(2)

        period = 1000 / sd.metadata["metadata"]["frame_rate"]  # milliseconds
        button, space = (lambda: browser.click("#play")), (lambda: browser.key(" "))
        # play/pause: the button; the space bar with the button focused (by those clicks: the page's key
        # handler toggles, and not the button's own activation as well); the space bar, nothing focused
        for toggle, unfocus in ((button, False), (space, False), (space, True)):
            if unfocus:
                browser.click("#view", 0.1)
                assert browser.js("document.activeElement === document.body")
            start = int(browser.hash()["frame"])
            _record_hash_writes(browser)
            toggle()
            assert browser.js("document.getElementById('play').textContent") == "pause", "did not start"
            writes = _hash_writes(browser, 4, timeout=5)
            toggle()
            assert browser.js("document.getElementById('play').textContent") == "play", "did not stop"
            frames = [start] + [frame for _, frame in writes]
            assert len(frames) >= 5, f"playing, the frame did not advance: {frames}"
            assert all(b == (a + 1) % sd.num_frames for a, b in zip(frames, frames[1:], strict=False)), frames
            step = float(np.median(np.diff([ms for ms, _ in writes])))
            assert 0.8 * period <= step <= 4 * period, f"a frame every {step:.0f} ms, not every {period:.0f} ms"
            paused = int(browser.hash()["frame"])
            stopped = len(_hash_writes(browser, 0, 0))
            time.sleep(3 * period / 1000)
            assert len(_hash_writes(browser, 0, 0)) == stopped, "paused, the frame still advances"
            shows(paused)


def test_view_arrow_key_after_the_scrubber_moves_one_frame_in_chromium(scene_page, tmp_path):
    """With the scrubber focused (after using it), an arrow key moves one frame: the slider's own
    step, not the page's handler as well (it moved two)."""
    with _DevTools(tmp_path) as browser:
        browser.open(scene_page, "frame=2")
        browser.click("#scrub", 0.02)  # frame 0, and the scrubber has the focus
        assert browser.hash()["frame"] == "0"
        browser.key("ArrowRight")
        assert browser.hash()["frame"] == "1"


def test_importing_kubric_gen_does_not_import_matplotlib():
    code = ("import sys, kubric_gen, kubric_gen.io, kubric_gen.visual, kubric_gen.cli; "
            "bad = [m for m in ('matplotlib', 'flow_vis') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_view_shows_amodal_outlines_scene_flow_and_visible_fractions_in_chromium(scene_page, movi_a_scene, tmp_path):
    """The amodal overlay draws each instance's mask outline in its colour over the frame (and
    nothing else), the scene-flow view colours |forward scene flow| on the legend's scale, and the
    instance table shows each instance's visible fraction of the frame."""
    sd = SceneDir(movi_a_scene)
    width, height = sd.resolution
    k = html.display_scale(width, height)
    frame = 1
    rgb = sd.stored("rgba")[frame, ..., :3].astype(int)
    outlines = html.amodal_outlines(sd.amodal()[:, frame])
    edge = outlines[..., 3] > 0
    assert edge.sum() > 20
    motion = np.linalg.norm(sd.scene_flow()["forward_scene_flow"].astype(np.float64), axis=-1)
    seen = np.isfinite(sd.layer("depth"))
    expected_flow = colors.depth_colors(np.where(seen[frame], motion[frame], np.inf), (0.0, motion[seen].max()))
    with _DevTools(tmp_path) as browser:
        browser.open(scene_page, f"frame={frame}&amodal=1")
        shot = _at_pixel_centres(browser.shot(width * k, height * k), width, height)
        assert np.abs(shot[edge] - outlines[edge][:, :3].astype(int)).max() <= 2
        assert np.abs(shot[~edge] - rgb[~edge]).max() <= 2
        browser.open(scene_page, f"frame={frame}&view=sceneflow")
        shot = _at_pixel_centres(browser.shot(width * k, height * k), width, height)
        assert np.abs(shot - expected_flow.astype(int)).max() <= 2
        cells = browser.js("[...document.querySelectorAll('#instances tr')].slice(1)"
                           ".map((r) => r.cells[6].textContent)")
    fractions = [inst["visible_fraction"][frame] for inst in sd.metadata["instances"]]
    assert len(cells) == len(fractions) and all(c.endswith(" %") for c in cells), cells
    assert all(abs(float(c[:-2]) - 100 * v) <= 0.5 + 1e-9 for c, v in zip(cells, fractions, strict=True)), cells


def test_view_shows_the_intrinsic_images_in_chromium(scene_page, movi_a_scene, tmp_path):
    """The albedo and shading views show the stored linear images through the sRGB curve, the
    shading divided by the white level the legend states."""
    sd = SceneDir(movi_a_scene)
    width, height = sd.resolution
    k = html.display_scale(width, height)
    frame = 2
    images = sd.intrinsics()
    white = colors.shading_white(images["shading"])
    with _DevTools(tmp_path) as browser:
        browser.open(scene_page, f"frame={frame}&view=albedo")
        shot = _at_pixel_centres(browser.shot(width * k, height * k), width, height)
        expected = colors.linear_to_srgb8(images["albedo"][frame]).astype(int)
        assert len(np.unique(expected.reshape(-1, 3), axis=0)) > 3  # floor and objects: several colours
        assert np.abs(shot - expected).max() <= 2
        browser.open(scene_page, f"frame={frame}&view=shading")
        shot = _at_pixel_centres(browser.shot(width * k, height * k), width, height)
        assert np.abs(shot - colors.linear_to_srgb8(images["shading"][frame], white).astype(int)).max() <= 2
        legend = browser.js("document.getElementById('legend').textContent")
    assert f"shading: white = {white:.3f}" in legend, legend
