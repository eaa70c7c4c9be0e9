"""The static HTML viewer (`kubric-gen view`): one folder that opens from disk (file://).

No server and no network: the page's JS and CSS are inline, the scene's numbers are in
``data.js`` (``window.SCENE = {...}``, loaded by a ``<script>`` tag, since browsers refuse
fetch() of local files), and the coloured layers are pre-rendered PNGs per frame
(``frames/{rgb,seg,depth,flow,sceneflow,amodal,albedo,shading,parts}_%05d.png``) made with `kubric_gen.visual.colors`.

Works on plain data (`ViewScene`): `kubric_gen.cli_view` fills it from a scene directory
(ours or Kubric's) or from a prepared TFDS dataset's examples.

Layout (fixed, so that screenshots can be checked): the main canvas sits at the page's
top-left corner (0, 0) and shows the frame enlarged by the integer `display_scale`; the
controls are to its right. The initial state comes from the URL's hash, e.g.
``index.html#frame=3&view=depth&seg=1&boxes=1&tracks=1&arrows=1&play=0``.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kubric_gen.visual import colors

DISPLAY_SIZE = 512  # the main canvas shows frames enlarged to about this many pixels
RIG_DISPLAY_SIZE = 256  # a scene with several cameras: each camera's canvas about this many pixels
RIG_GAP = 8  # pixels between the cameras' canvases
RIG_CAPTION = 20  # the camera's name under its canvas
GALLERY_NOTE = "Rows of each sheet: RGB, segmentation, depth, forward flow."
GALLERY_NOTE_RIGS = ("Rows of each sheet: RGB, segmentation, depth, forward flow; for a scene with several "
                     "cameras, one RGB row per camera.")
MARKER = ".kubric-gen-view"  # in every folder the viewer writes (so it may replace it later)
ARROW_GRID = 16  # flow arrows: about this many per image side
CONVENTIONS = (
    ("flow", "(Δrow, Δcol) in pixels; forward: the motion t→t+1 of the point seen at the pixel; "
             "colour wheel: hue = direction (right = red, down = yellow), saturation = speed"),
    ("depth", "metres, Euclidean distance from the camera centre; black = nothing hit (+inf)"),
    ("quaternions", "(w, x, y, z), world frame, Z up"),
    ("intrinsics", "OpenCV pixels: x right, y down, z forward; (K·p)/p_z = (col + 0.5, row + 0.5)"),
    ("boxes", "metadata bboxes: normalised (ymin, xmin, ymax, xmax) from the segmentation"),
    ("amodal", "each instance's whole silhouette (every other object ignored), outlined in its colour; "
               "visible % = visible / amodal pixels"),
    ("scene flow", "|p(t+1) − p(t)| in metres of the surface point seen at the pixel; black = nothing hit"),
    ("intrinsic images", "albedo (diffuse colour) and diffuse shading, linear light shown through the sRGB curve; "
                         "shading divided by the legend's white level"),
    ("tracks", "target_points (x, y) pixels; filled = visible, hollow = occluded"),
)


@dataclass
class ViewScene:
    """What one viewer page shows: frames and layers as arrays, and metadata as JSON-able data.

    rgb (T, H, W, 3) uint8; segmentation (T, H, W) ints (0 = background, k = instances[k-1]);
    depth (T, H, W) metres; forward_flow (T, H, W, 2) (Δrow, Δcol) pixels; tracks: TAP-Vid
    style ``target_points`` (N, T, 2) x, y pixels and ``occluded`` (N, T); camera: Kubric's
    camera dict (focal_length, sensor_width, K, intrinsics, positions, quaternions, ...);
    instances: metadata.json's instances (labels, bboxes, bbox_frames, positions, ...)."""

    name: str
    rgb: np.ndarray
    segmentation: np.ndarray | None = None
    depth: np.ndarray | None = None
    forward_flow: np.ndarray | None = None
    target_points: np.ndarray | None = None
    occluded: np.ndarray | None = None
    camera: dict = field(default_factory=dict)
    instances: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)  # shown as a key/value table: world, seed, source, ...
    frame_rate: float = 12.0
    depth_range: tuple[float, float] | None = None
    amodal: np.ndarray | None = None  # (K, T, H, W) bool: each instance's whole silhouette
    scene_flow: np.ndarray | None = None  # (T, H, W, 3) metres: forward scene flow, world axes
    albedo: np.ndarray | None = None  # (T, H, W, 3) linear RGB (intrinsic images)
    shading: np.ndarray | None = None  # (T, H, W, 3) linear RGB
    part_index: np.ndarray | None = None  # (T, H, W) uint8 link ids (articulated objects' parts)

    @property
    def num_frames(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.rgb.shape[2]), int(self.rgb.shape[1])


@dataclass
class GalleryEntry:
    """One card of a gallery page: a thumbnail linking to a scene page (paths relative to the gallery)."""

    name: str
    href: str
    thumbnail: str
    caption: str = ""
    section: str = ""


@dataclass
class ViewRig:
    """What the page of a scene with several cameras shows: every camera's `ViewScene` (in
    camera order; each also gets a page of its own), the multi-view tracks and the rig.

    target_points (C, N, T, 2) x, y pixels and occluded (C, N, T): cross_view.npz's tracks (the
    same point in every camera); query_camera (N,); instances: metadata.json's (without the
    per-camera fields, which are in each view's); baselines (C, C) metres."""

    name: str
    cameras: list[str]
    views: list[ViewScene]
    target_points: np.ndarray | None = None
    occluded: np.ndarray | None = None
    query_camera: np.ndarray | None = None
    instances: list[dict] = field(default_factory=list)
    baselines: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    frame_rate: float = 12.0

    @property
    def num_frames(self) -> int:
        return self.views[0].num_frames

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels (every camera's)."""
        return self.views[0].size


def rig_scale(width: int, height: int) -> int:
    """The integer factor each camera's frames are enlarged by on a rig's page (about
    `RIG_DISPLAY_SIZE` pixels, at least 1)."""
    return max(1, RIG_DISPLAY_SIZE // max(1, width, height))


def rig_columns(count: int) -> int:
    """Cameras side by side on a rig's page: 2 (a stereo pair, or a 2x2 grid of 3-4), else 3."""
    return count if count <= 2 else 2 if count <= 4 else 3


def rig_layout(width: int, height: int, count: int) -> list[tuple[int, int]]:
    """The page position (x, y) of each camera's canvas on a rig's page: a grid from the page's
    top-left corner, the camera's name under each canvas (fixed, so screenshots can be checked)."""
    k, columns = rig_scale(width, height), rig_columns(count)
    return [((i % columns) * (width * k + RIG_GAP), (i // columns) * (height * k + RIG_CAPTION + RIG_GAP))
            for i in range(count)]


def display_scale(width: int, height: int) -> int:
    """The integer factor frames are enlarged by on the page (about `DISPLAY_SIZE` pixels, at least 1)."""
    return max(1, DISPLAY_SIZE // max(1, width, height))


def prepare_folder(path: Path) -> None:
    """An empty folder at `path` marked as the viewer's (a folder the viewer wrote before is replaced)."""
    import shutil

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("written by kubric-gen view; the folder is replaced when the view is written again\n")


def _save_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image)).save(path, format="PNG", compress_level=1)


def _json_data(value: Any, digits: int = 4) -> Any:
    """Plain JSON types, floats rounded (data.js stays small), non-finite numbers as None."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            value = np.round(value.astype(np.float64), digits)
        return _json_data(value.tolist(), digits)
    if isinstance(value, dict):
        return {str(k): _json_data(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_data(v, digits) for v in value]
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode(errors="replace")
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return round(v, digits) if np.isfinite(v) else None
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def _flow_arrows(flow: np.ndarray) -> list[list[list[float]]]:
    """Per frame, a sparse grid of [row, col, Δrow, Δcol] (pixel centres) for the arrows."""
    _, h, w, _ = flow.shape
    step = max(1, max(h, w) // ARROW_GRID)
    rows = np.arange(step // 2, h, step)
    cols = np.arange(step // 2, w, step)
    out = []
    for f in flow:
        sample = f[np.ix_(rows, cols)]
        frame = [[float(r) + 0.5, float(c) + 0.5, round(float(sample[i, j, 0]), 2), round(float(sample[i, j, 1]), 2)]
                 for i, r in enumerate(rows) for j, c in enumerate(cols)
                 if np.isfinite(sample[i, j]).all() and np.hypot(*sample[i, j]) > 0.05]
        out.append(frame)
    return out


def _instance_rows(instances: list[dict]) -> list[dict]:
    """The instance fields the page uses (labels, boxes, per-frame positions)."""
    keep_scalar = ("name", "asset_id", "shape", "size_label", "color_label", "material", "material_label",
                   "shape_label", "category", "mass", "friction", "restitution")
    out = []
    for k, inst in enumerate(instances):
        row: dict[str, Any] = {"index": k, "segmentation_id": k + 1}
        for key in keep_scalar:
            if key in inst and np.ndim(inst[key]) == 0:
                row[key] = inst[key]
        for key in ("bboxes", "bbox_frames", "positions", "quaternions", "visibility", "visible_fraction", "color",
                    "joint_names", "joint_positions", "links"):
            if key in inst:
                row[key] = inst[key]
        out.append(row)
    return out


def amodal_outlines(masks: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8: the outline (pixels with a 4-neighbour outside) of each of the (K, H, W)
    amodal masks in its instance's segmentation colour (instance k: id k + 1), transparent elsewhere."""
    masks = np.asarray(masks, dtype=bool)
    palette = colors.segmentation_palette(len(masks))
    out = np.zeros((*masks.shape[1:], 4), np.uint8)
    for k, mask in enumerate(masks):
        padded = np.pad(mask, 1)
        edge = mask & ~(padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
        out[edge] = [*palette[k + 1], 255]
    return out


def write_scene_page(out_dir: str | os.PathLike, scene: ViewScene, back: str | None = None,
                     back_label: str | None = None) -> Path:
    """The viewer of one scene in `out_dir` (index.html, data.js, frames/, legends); returns index.html.

    `back`: a link (relative to `out_dir`) to the gallery the page belongs to, shown as
    "← `back_label`" (default "gallery"; a camera's page in a scene with several: "all cameras")."""
    out = Path(out_dir)
    prepare_folder(out)
    frames = out / "frames"
    frames.mkdir()
    t = scene.num_frames
    width, height = scene.size
    layers = ["rgb"]
    for f in range(t):
        _save_png(frames / f"rgb_{f:05d}.png", scene.rgb[f, ..., :3])
    if scene.segmentation is not None:
        seg = np.asarray(scene.segmentation)
        seg = seg[..., 0] if seg.ndim == 4 else seg
        palette = colors.segmentation_palette(int(seg.max(initial=0)))
        for f in range(t):
            rgba = np.concatenate([palette[seg[f].clip(0)], np.where(seg[f] > 0, 255, 0).astype(np.uint8)[..., None]],
                                  axis=-1)
            _save_png(frames / f"seg_{f:05d}.png", rgba)
        layers.append("seg")
    depth_range = None
    if scene.depth is not None:
        depth = np.asarray(scene.depth)
        depth_range = scene.depth_range or colors.finite_range(depth)
        for f in range(t):
            _save_png(frames / f"depth_{f:05d}.png", colors.depth_colors(depth[f], depth_range))
        bar = colors.colormap_lut(colors.DEPTH_COLORMAP)[None].repeat(12, axis=0)
        _save_png(out / "depth_colorbar.png", bar)
        layers.append("depth")
    flow_radius = None
    arrows = None
    if scene.forward_flow is not None:
        flow = np.asarray(scene.forward_flow, dtype=np.float32)
        flow_radius = colors.flow_max_radius(flow)
        for f in range(t):
            _save_png(frames / f"flow_{f:05d}.png", colors.flow_colors(flow[f], flow_radius))
        _save_png(out / "flow_wheel.png", colors.flow_wheel(65))
        arrows = _flow_arrows(flow)
        layers.append("flow")
    if scene.amodal is not None and len(scene.amodal):
        for f in range(t):
            _save_png(frames / f"amodal_{f:05d}.png", amodal_outlines(np.asarray(scene.amodal)[:, f]))
        layers.append("amodal")
    scene_flow_max = None
    if scene.scene_flow is not None:
        motion = np.linalg.norm(np.asarray(scene.scene_flow, dtype=np.float64), axis=-1)
        hit = np.isfinite(np.asarray(scene.depth)) if scene.depth is not None else np.ones(motion.shape, bool)
        scene_flow_max = float(motion[hit].max(initial=0.0))
        for f in range(t):
            _save_png(frames / f"sceneflow_{f:05d}.png",
                      colors.depth_colors(np.where(hit[f], motion[f], np.inf), (0.0, max(scene_flow_max, 1e-9))))
        layers.append("sceneflow")
    shading_white = None
    if scene.albedo is not None and scene.shading is not None:
        shading_white = colors.shading_white(scene.shading)
        for f in range(t):
            _save_png(frames / f"albedo_{f:05d}.png", colors.linear_to_srgb8(scene.albedo[f]))
            _save_png(frames / f"shading_{f:05d}.png", colors.linear_to_srgb8(scene.shading[f], shading_white))
        layers += ["albedo", "shading"]
    if scene.part_index is not None:
        for f in range(t):
            _save_png(frames / f"parts_{f:05d}.png", colors.segmentation_colors(np.asarray(scene.part_index[f])))
        layers.append("parts")
    tracks = None
    if scene.target_points is not None and scene.occluded is not None and len(scene.target_points):
        tracks = {"xy": np.asarray(scene.target_points, dtype=np.float64),
                  "occluded": np.asarray(scene.occluded, dtype=bool).astype(np.uint8)}
    data = {
        "name": scene.name, "width": width, "height": height, "num_frames": t, "frame_rate": scene.frame_rate,
        "scale": display_scale(width, height), "layers": layers, "camera": scene.camera,
        "instances": _instance_rows(scene.instances), "info": scene.info, "depth_range": depth_range,
        "flow_max_radius": flow_radius, "arrows": arrows, "tracks": tracks, "scene_flow_max": scene_flow_max,
        "shading_white": shading_white,
        "palette": colors.segmentation_palette(max(1, len(scene.instances))).tolist(),
        "conventions": [list(c) for c in CONVENTIONS], "back": back,
    }
    if back_label:
        data["back_label"] = back_label
    text = json.dumps(_json_data(data), separators=(",", ":"), allow_nan=False)
    (out / "data.js").write_text(f"window.SCENE = {text};\n")
    scale = display_scale(width, height)
    page = (_PAGE.replace("@TITLE@", html.escape(scene.name))
            .replace("@CW@", str(width * scale)).replace("@CH@", str(height * scale))
            .replace("@SIDE@", str(width * scale + 16)).replace("@CSS@", _CSS).replace("@JS@", _PLAYER_JS + _JS))
    (out / "index.html").write_text(page)
    return out / "index.html"


def write_gallery(out_dir: str | os.PathLike, entries: list[GalleryEntry], title: str,
                  problems: list[str] | None = None, note: str = GALLERY_NOTE) -> Path:
    """index.html in `out_dir` (already prepared): a grid of thumbnails linking to the scene pages,
    under `note` (what the thumbnails' rows are)."""
    out = Path(out_dir)
    sections: dict[str, list[GalleryEntry]] = {}
    for entry in entries:
        sections.setdefault(entry.section, []).append(entry)
    body = []
    for section, items in sections.items():
        if section:
            body.append(f"<h2>{html.escape(section)}</h2>")
        body.append('<div class="grid">')
        for e in items:
            body.append(f'<a class="card" href="{html.escape(e.href)}"><img src="{html.escape(e.thumbnail)}" '
                        f'alt="{html.escape(e.name)}"><div class="name">{html.escape(e.name)}</div>'
                        f'<div class="caption">{html.escape(e.caption)}</div></a>')
        body.append("</div>")
    if problems:
        body.append("<h2>not shown</h2><ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in problems) + "</ul>")
    page = (_GALLERY.replace("@TITLE@", html.escape(title)).replace("@CSS@", _CSS)
            .replace("@COUNT@", str(len(entries))).replace("@NOTE@", html.escape(note))
            .replace("@BODY@", "\n".join(body)))
    (out / "index.html").write_text(page)
    return out / "index.html"


def _layers_of(scene: ViewScene) -> list[str]:
    """The frame images `write_scene_page` writes for a scene (frames/<layer>_%05d.png)."""
    present = {"rgb": True, "seg": scene.segmentation is not None, "depth": scene.depth is not None,
               "flow": scene.forward_flow is not None}
    return [layer for layer, there in present.items() if there]


def _safe_folder(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "camera"


def write_rig_page(out_dir: str | os.PathLike, rig: ViewRig, back: str | None = None) -> Path:
    """The viewer of a scene with several cameras in `out_dir`; returns its index.html.

    Each camera's page (every layer and overlay, as for a one-camera scene) is written to
    ``view_<camera>/``; the rig's page shows all the cameras at once, synced over frames, from
    those pages' frame images (RGB, depth or flow; segmentation and the multi-view tracks as
    overlays), the cameras and their baselines, the instances with their visible pixels per
    camera, and a contact sheet with one RGB row per camera (``contact_sheet.png``)."""
    from kubric_gen.visual.sheet import write_views_sheet

    out = Path(out_dir)
    prepare_folder(out)
    width, height = rig.size
    t = rig.num_frames
    cameras = []
    for name, scene in zip(rig.cameras, rig.views, strict=True):
        folder = _safe_folder(f"view_{name}")
        write_scene_page(out / folder, scene, back="../index.html", back_label="all cameras")
        cam = scene.camera
        cameras.append({"name": name, "folder": folder, "layers": _layers_of(scene),
                        "camera": {key: cam[key] for key in ("focal_length", "sensor_width", "field_of_view",
                                                             "positions", "quaternions") if key in cam},
                        "visibility": [inst.get("visibility") for inst in scene.instances]})
    write_views_sheet(out / "contact_sheet.png", [scene.rgb for scene in rig.views], list(rig.cameras))
    layers = [layer for layer in ("rgb", "seg", "depth", "flow") if all(layer in c["layers"] for c in cameras)]
    tracks = None
    if rig.target_points is not None and rig.occluded is not None and np.size(rig.target_points):
        tracks = {"xy": np.round(np.asarray(rig.target_points, dtype=np.float64)[:, :, :t], 2),
                  "occluded": np.asarray(rig.occluded, dtype=bool)[:, :, :t].astype(np.uint8),
                  "query_camera": None if rig.query_camera is None else np.asarray(rig.query_camera)}
    k = rig_scale(width, height)
    positions = rig_layout(width, height, len(rig.cameras))
    data = {
        "name": rig.name, "width": width, "height": height, "num_frames": t, "frame_rate": rig.frame_rate,
        "scale": k, "positions": positions, "cameras": cameras, "layers": layers, "tracks": tracks,
        "instances": _instance_rows(rig.instances), "baselines": rig.baselines, "info": rig.info,
        "palette": colors.segmentation_palette(max(1, len(rig.instances))).tolist(),
        "conventions": [list(c) for c in CONVENTIONS], "back": back,
    }
    text = json.dumps(_json_data(data), separators=(",", ":"), allow_nan=False)
    (out / "data.js").write_text(f"window.RIG = {text};\n")
    canvases = "".join(
        f'<div class="cam" style="left:{x}px;top:{y}px"><canvas id="cam{i}" width="{width * k}" '
        f'height="{height * k}" style="width:{width * k}px;height:{height * k}px"></canvas>'
        f'<div class="camname"><a href="{html.escape(c["folder"])}/index.html">{html.escape(c["name"])}</a></div>'
        f"</div>" for i, ((x, y), c) in enumerate(zip(positions, cameras, strict=True)))
    side = max(x for x, _ in positions) + width * k + 16
    page = (_RIG_PAGE.replace("@TITLE@", html.escape(rig.name)).replace("@CANVASES@", canvases)
            .replace("@COUNT@", str(len(cameras))).replace("@SIDE@", str(side)).replace("@CSS@", _CSS + _RIG_CSS)
            .replace("@JS@", _PLAYER_JS + _RIG_JS))
    (out / "index.html").write_text(page)
    return out / "index.html"


_CSS = """
body { margin: 0; background: #1b1b1b; color: #ddd; font: 13px/1.4 system-ui, sans-serif; }
a { color: #8cf; }
#stage { position: absolute; left: 0; top: 0; margin: 0; padding: 0; line-height: 0; }
#view { display: block; image-rendering: pixelated; background: #000; }
#side { position: absolute; top: 0; padding: 8px 12px; max-width: 680px; }
h1 { font-size: 16px; margin: 4px 0 8px; } h2 { font-size: 14px; margin: 14px 0 6px; }
.row { margin: 6px 0; } label { margin-right: 10px; white-space: nowrap; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #444; padding: 2px 6px; }
th { background: #2a2a2a; text-align: left; } .num { font-family: monospace; text-align: right; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; border: 1px solid #888; }
.legend img { vertical-align: middle; image-rendering: pixelated; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; padding: 0 12px; }
.card { display: block; width: 340px; text-decoration: none; color: #ddd; background: #262626; padding: 6px; }
.card img { width: 100%; image-rendering: pixelated; } .card .name { font-weight: bold; }
.caption { color: #aaa; font-size: 12px; } pre { margin: 0; font-size: 12px; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>@TITLE@ - kubric-gen view</title>
<style>@CSS@</style></head>
<body>
<div id="stage"><canvas id="view" width="@CW@" height="@CH@" style="width:@CW@px;height:@CH@px"></canvas></div>
<div id="side" style="left:@SIDE@px">
  <div id="back"></div>
  <h1>@TITLE@</h1>
  <div class="row"><button id="play">play</button>
    <input id="scrub" type="range" min="0" max="0" value="0" style="width:260px">
    <span id="framelabel"></span></div>
  <div class="row" id="views">view:
    <label><input type="radio" name="view" value="rgb">RGB</label>
    <label><input type="radio" name="view" value="depth">depth</label>
    <label><input type="radio" name="view" value="flow">flow</label>
    <label><input type="radio" name="view" value="sceneflow">scene flow</label>
    <label><input type="radio" name="view" value="albedo">albedo</label>
    <label><input type="radio" name="view" value="shading">shading</label>
    <label><input type="radio" name="view" value="parts">parts</label></div>
  <div class="row">overlays:
    <label><input type="checkbox" id="seg">segmentation</label>
    <label><input type="checkbox" id="amodal">amodal</label>
    <label><input type="checkbox" id="boxes">2D boxes</label>
    <label><input type="checkbox" id="tracks">point tracks</label>
    <label><input type="checkbox" id="arrows">flow arrows</label></div>
  <div class="row legend" id="legend"></div>
  <h2>instances</h2><div id="instances"></div>
  <h2>joints</h2><div id="joints"></div>
  <h2>camera</h2><div id="camera"></div>
  <h2>scene</h2><div id="info"></div>
  <h2>conventions</h2><div id="conventions"></div>
</div>
<script src="data.js"></script>
<script>@JS@</script>
</body></html>
"""

_GALLERY = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>@TITLE@ - kubric-gen view</title>
<style>@CSS@</style></head>
<body><div style="padding:12px"><h1>@TITLE@</h1><div class="caption">@COUNT@ scenes; click one to open its viewer.
@NOTE@</div></div>
@BODY@
</body></html>
"""


_PLAYER_JS = r"""
// shared by the scene page and the page of several cameras: formatting, and the player (the
// URL hash, the frame scrubber, play/pause, the view radios, the overlay boxes, the keys)
const pad = (n) => String(n).padStart(5, "0");
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
const fmt = (v, d) => (v === null || v === undefined) ? "–"
  : (typeof v === "number" ? v.toFixed(d === undefined ? 3 : d) : esc(v));

// D: num_frames, layers, frame_rate; state: {frame, view, play, <overlay>: bool}; available: {overlay: bool},
// the page's overlay boxes (element ids) and whether each has data. Returns {setFrame, setPlaying}.
function kgPlayer(D, state, available, draw) {
  const overlays = Object.keys(available);
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.has("frame")) {
    state.frame = Math.max(0, Math.min(D.num_frames - 1, parseInt(params.get("frame"), 10) || 0));
  }
  if (params.has("view") && D.layers.indexOf(params.get("view")) >= 0) state.view = params.get("view");
  for (const key of [...overlays, "play"]) {
    if (params.has(key)) state[key] = params.get(key) === "1" || params.get(key) === "true";
  }

  function writeHash() {
    const h = "frame=" + state.frame + "&view=" + state.view + overlays.map(
      (key) => "&" + key + "=" + (state[key] ? 1 : 0)).join("");
    if (history.replaceState) history.replaceState(null, "", "#" + h);
  }
  function setFrame(f) { state.frame = ((f % D.num_frames) + D.num_frames) % D.num_frames; draw(); writeHash(); }
  let timer = null;
  function setPlaying(on) {
    state.play = on;
    document.getElementById("play").textContent = on ? "pause" : "play";
    if (timer) { clearInterval(timer); timer = null; }
    if (on) timer = setInterval(() => setFrame(state.frame + 1), 1000 / (D.frame_rate || 12));
  }

  const scrub = document.getElementById("scrub");
  scrub.max = D.num_frames - 1;
  scrub.addEventListener("input", () => setFrame(parseInt(scrub.value, 10)));
  document.getElementById("play").addEventListener("click", () => setPlaying(!state.play));
  for (const radio of document.querySelectorAll("input[name=view]")) {
    radio.disabled = D.layers.indexOf(radio.value) < 0;
    radio.checked = radio.value === state.view;
    radio.addEventListener("change", () => { state.view = radio.value; draw(); writeHash(); });
  }
  for (const key of overlays) {
    const box = document.getElementById(key);
    box.disabled = !available[key];
    box.checked = state[key] && available[key];
    state[key] = box.checked;
    box.addEventListener("change", () => { state[key] = box.checked; draw(); writeHash(); });
  }
  document.addEventListener("keydown", (e) => {
    if (e.target === scrub && e.key.startsWith("Arrow")) return;  // the slider steps itself: once
    if (e.key === "ArrowRight") setFrame(state.frame + 1);
    else if (e.key === "ArrowLeft") setFrame(state.frame - 1);
    else if (e.key === " ") { setPlaying(!state.play); e.preventDefault(); }
  });
  return {setFrame, setPlaying};
}
"""

_JS = r"""
(function () {
  "use strict";
  const S = window.SCENE;
  const canvas = document.getElementById("view");
  const ctx = canvas.getContext("2d");
  const k = S.scale, W = S.width * k, H = S.height * k;
  const state = {frame: 0, view: "rgb", seg: false, amodal: false, boxes: false, tracks: false, arrows: false,
                 play: false};
  const rgbCss = (c, a) => "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + (a === undefined ? 1 : a) + ")";
  // the URL hash (#frame=3&view=depth&seg=1&boxes=1&tracks=1&arrows=1&play=0), playback and controls
  const {setFrame, setPlaying} = kgPlayer(S, state, {seg: S.layers.indexOf("seg") >= 0,
                                                      amodal: S.layers.indexOf("amodal") >= 0,
                                                      boxes: S.instances.length > 0, tracks: !!S.tracks,
                                                      arrows: !!S.arrows}, () => draw());

  const images = {};
  for (const layer of S.layers) {
    images[layer] = [];
    for (let f = 0; f < S.num_frames; f++) {
      const img = new Image();
      img.onload = () => { if (f === state.frame) draw(); };
      img.src = "frames/" + layer + "_" + pad(f) + ".png";
      images[layer].push(img);
    }
  }

  function ready(img) { return img && img.complete && img.naturalWidth > 0; }

  function draw() {
    const f = state.frame;
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, W, H);
    const base = images[state.view] ? images[state.view][f] : null;
    if (ready(base)) ctx.drawImage(base, 0, 0, W, H);
    if (state.seg && images.seg && ready(images.seg[f])) {
      ctx.globalAlpha = 0.6;
      ctx.drawImage(images.seg[f], 0, 0, W, H);
      ctx.globalAlpha = 1;
    }
    if (state.amodal && images.amodal && ready(images.amodal[f])) ctx.drawImage(images.amodal[f], 0, 0, W, H);
    if (state.arrows && S.arrows) drawArrows(f);
    if (state.boxes) drawBoxes(f);
    if (state.tracks && S.tracks) drawTracks(f);
    updatePanels(f);
  }

  function drawArrows(f) {
    const radius = S.flow_max_radius || 1;
    const cell = Math.max(1, Math.max(S.width, S.height) / 16) * k;
    const gain = 0.9 * cell / radius;  // the longest arrow spans about one grid cell
    ctx.lineWidth = 1.5;
    for (const a of S.arrows[f]) {
      const x = a[1] * k, y = a[0] * k, dx = a[3] * gain, dy = a[2] * gain;
      const len = Math.hypot(dx, dy);
      if (len < 1) continue;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + dx, y + dy);
      const ang = Math.atan2(dy, dx), head = Math.min(6, len / 2);
      ctx.lineTo(x + dx - head * Math.cos(ang - 0.5), y + dy - head * Math.sin(ang - 0.5));
      ctx.moveTo(x + dx, y + dy);
      ctx.lineTo(x + dx - head * Math.cos(ang + 0.5), y + dy - head * Math.sin(ang + 0.5));
      ctx.stroke();
    }
  }

  function instanceLabel(inst) {
    const parts = ["#" + inst.index];
    for (const key of ["size_label", "color_label", "material", "shape", "category"]) {
      if (inst[key] !== undefined && inst[key] !== null) parts.push(inst[key]);
    }
    if (parts.length === 1 && (inst.asset_id || inst.name)) parts.push(inst.asset_id || inst.name);
    return parts.join(" ");
  }

  function drawBoxes(f) {
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "bottom";
    for (const inst of S.instances) {
      if (!inst.bboxes || !inst.bbox_frames) continue;
      const j = inst.bbox_frames.indexOf(f);
      if (j < 0) continue;
      const b = inst.bboxes[j];  // normalised ymin, xmin, ymax, xmax
      const color = S.palette[inst.segmentation_id] || [255, 255, 255];
      const x0 = b[1] * W, y0 = b[0] * H, x1 = b[3] * W, y1 = b[2] * H;
      ctx.lineWidth = 2;
      ctx.strokeStyle = rgbCss(color);
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      const label = instanceLabel(inst);
      const tw = ctx.measureText(label).width + 4;
      const ty = y0 > 14 ? y0 : y0 + 14;
      ctx.fillStyle = "rgba(0,0,0,0.6)";
      ctx.fillRect(x0, ty - 14, tw, 14);
      ctx.fillStyle = rgbCss(color);
      ctx.fillText(label, x0 + 2, ty);
    }
  }

  function drawTracks(f) {
    const xy = S.tracks.xy, occ = S.tracks.occluded, n = xy.length, trail = 5;
    for (let i = 0; i < n; i++) {
      const hue = (i * 137.508) % 360;
      ctx.strokeStyle = "hsla(" + hue + ",90%,60%,0.7)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      let started = false;
      for (let g = Math.max(0, f - trail); g <= f; g++) {
        const p = xy[i][g];
        if (!p || p[0] === null || occ[i][g]) { started = false; continue; }
        if (!started) { ctx.moveTo(p[0] * k, p[1] * k); started = true; } else ctx.lineTo(p[0] * k, p[1] * k);
      }
      ctx.stroke();
      const p = xy[i][f];
      if (!p || p[0] === null) continue;
      ctx.beginPath();
      ctx.arc(p[0] * k, p[1] * k, 3, 0, 2 * Math.PI);
      if (occ[i][f]) { ctx.lineWidth = 1.5; ctx.strokeStyle = "hsl(" + hue + ",90%,60%)"; ctx.stroke(); }
      else {
        ctx.fillStyle = "hsl(" + hue + ",90%,60%)"; ctx.fill();
        ctx.lineWidth = 0.5; ctx.strokeStyle = "#000"; ctx.stroke();
      }
    }
  }

  function matrix(m) {
    if (!m) return "–";
    return "<pre>" + m.map((r) => r.map((v) => fmt(v, 3).padStart(9)).join(" ")).join("\n") + "</pre>";
  }

  function table(rows) {
    const body = rows.map((r) => "<tr><th>" + esc(r[0]) + "</th><td>" + r[1] + "</td></tr>");
    return "<table>" + body.join("") + "</table>";
  }

  function updatePanels(f) {
    document.getElementById("framelabel").textContent = "frame " + f + " / " + (S.num_frames - 1);
    document.getElementById("scrub").value = f;
    const c = S.camera || {};
    const vec = (v, d) => v ? "(" + v.map((x) => fmt(x, d)).join(", ") + ")" : "–";
    document.getElementById("camera").innerHTML = table([
      ["focal length", fmt(c.focal_length, 2) + " mm"], ["sensor width", fmt(c.sensor_width, 2) + " mm"],
      ["field of view", c.field_of_view !== undefined ? fmt(c.field_of_view * 180 / Math.PI, 2) + "°" : "–"],
      ["intrinsics (px)" + (c.intrinsics_derived ? " *" : ""), matrix(c.intrinsics)],
      ["K (Kubric)", matrix(c.K)],
      ["position @" + f, vec(c.positions && c.positions[f], 3)],
      ["quaternion @" + f + " (w,x,y,z)", vec(c.quaternions && c.quaternions[f], 4)],
    ]) + (c.intrinsics_derived ? "<div class='caption'>* from focal length and sensor width</div>" : "");
    const rows = S.instances.map((inst) => {
      const col = S.palette[inst.segmentation_id] || [255, 255, 255];
      const pos = inst.positions ? inst.positions[f] : null;
      const vis = inst.visibility ? inst.visibility[f] : null;
      const frac = inst.visible_fraction ? inst.visible_fraction[f] : null;
      return "<tr><td class='num'>" + inst.index + "</td><td><span class='swatch' style='background:" + rgbCss(col) +
        "'></span> " + inst.segmentation_id + "</td><td>" + esc(inst.asset_id || inst.name || "") + "</td><td>" +
        esc(instanceLabel(inst).split(" ").slice(1).join(" ")) + "</td><td class='num'>" + fmt(inst.mass, 3) +
        "</td><td class='num'>" + (vis === null || vis === undefined ? "–" : vis) + "</td><td class='num'>" +
        (frac === null || frac === undefined ? "–" : (100 * frac).toFixed(0) + " %") + "</td><td class='num'>" +
        vec(pos, 2) + "</td></tr>";
    });
    document.getElementById("instances").innerHTML = S.instances.length ?
      "<table><tr><th>#</th><th>seg id</th><th>asset</th><th>labels</th><th>mass (kg)</th><th>visible px @" + f +
      "</th><th>visible % @" + f + "</th><th>position @" + f + " (m)</th></tr>" + rows.join("") + "</table>" :
      "no instances";
    const joints = [];
    for (const inst of S.instances) {
      (inst.joint_names || []).forEach((name, j) => joints.push("<tr><td class='num'>" + inst.index + "</td><td>" +
        esc(name) + "</td><td class='num'>" + fmt(inst.joint_positions[j][f], 4) + "</td></tr>"));
    }
    document.getElementById("joints").innerHTML = joints.length ? "<table><tr><th>#</th><th>joint</th><th>position @" +
      f + " (rad or m)</th></tr>" + joints.join("") + "</table>" : "no articulated objects";
  }

  // legends and static panels
  let legend = "";
  if (S.depth_range) legend += "<div>depth: " + fmt(S.depth_range[0], 2) + " m <img src='depth_colorbar.png' " +
    "width='160' height='12'> " + fmt(S.depth_range[1], 2) + " m (black: nothing hit)</div>";
  if (S.flow_max_radius !== null && S.flow_max_radius !== undefined) legend += "<div>flow: <img src='flow_wheel.png' " +
    "width='48' height='48'> full colour = " + fmt(S.flow_max_radius, 2) + " px/frame; arrows scaled to the grid</div>";
  if (S.scene_flow_max !== null && S.scene_flow_max !== undefined) legend += "<div>scene flow: 0 m " +
    "<img src='depth_colorbar.png' width='160' height='12'> " + fmt(S.scene_flow_max, 3) + " m/frame</div>";
  if (S.shading_white !== null && S.shading_white !== undefined) legend += "<div>shading: white = " +
    fmt(S.shading_white, 3) + " (linear)</div>";
  document.getElementById("legend").innerHTML = legend;
  document.getElementById("info").innerHTML = table(Object.keys(S.info).map((key) => [key, esc(S.info[key])]));
  document.getElementById("conventions").innerHTML = table(S.conventions.map((c) => [c[0], esc(c[1])]));
  if (S.back) document.getElementById("back").innerHTML = "<a href='" + esc(S.back) + "'>← " +
    esc(S.back_label || "gallery") + "</a>";

  setPlaying(state.play);
  draw();
})();
"""

_RIG_CSS = """
.cam { position: absolute; line-height: 1.4; }
.cam canvas { display: block; image-rendering: pixelated; background: #000; }
.camname { height: 20px; line-height: 20px; font-size: 12px; }
#sheet { max-width: 100%; image-rendering: pixelated; }
"""

_RIG_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>@TITLE@ - kubric-gen view</title>
<style>@CSS@</style></head>
<body>
<div id="stage">@CANVASES@</div>
<div id="side" style="left:@SIDE@px">
  <div id="back"></div>
  <h1>@TITLE@</h1>
  <div class="caption">@COUNT@ cameras of one simulation; a camera's name opens its page (every layer, boxes,
    its own point tracks).</div>
  <div class="row"><button id="play">play</button>
    <input id="scrub" type="range" min="0" max="0" value="0" style="width:260px">
    <span id="framelabel"></span></div>
  <div class="row" id="views">view:
    <label><input type="radio" name="view" value="rgb">RGB</label>
    <label><input type="radio" name="view" value="depth">depth</label>
    <label><input type="radio" name="view" value="flow">flow</label></div>
  <div class="row">overlays:
    <label><input type="checkbox" id="seg">segmentation</label>
    <label><input type="checkbox" id="tracks">multi-view tracks</label></div>
  <div class="row legend" id="legend"></div>
  <h2>cameras</h2><div id="cameras"></div>
  <h2>baselines (m, frame 0)</h2><div id="baselines"></div>
  <h2>contact sheet</h2><img id="sheet" src="contact_sheet.png" alt="one RGB row per camera">
  <h2>instances</h2><div id="instances"></div>
  <h2>scene</h2><div id="info"></div>
  <h2>conventions</h2><div id="conventions"></div>
</div>
<script src="data.js"></script>
<script>@JS@</script>
</body></html>
"""

_RIG_JS = r"""
(function () {
  "use strict";
  const R = window.RIG;
  const k = R.scale, W = R.width * k, H = R.height * k, C = R.cameras.length;
  const state = {frame: 0, view: "rgb", seg: false, tracks: false, play: false};
  const rgbCss = (c) => "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")";
  // the URL hash (#frame=3&view=depth&seg=1&tracks=1&play=0), playback and controls
  const {setFrame, setPlaying} = kgPlayer(R, state, {seg: R.layers.indexOf("seg") >= 0, tracks: !!R.tracks},
                                          () => draw());

  // every camera's frame images, from its own page's folder
  const contexts = R.cameras.map((c, i) => document.getElementById("cam" + i).getContext("2d"));
  const images = R.cameras.map((cam) => {
    const out = {};
    for (const layer of cam.layers) {
      out[layer] = [];
      for (let f = 0; f < R.num_frames; f++) {
        const img = new Image();
        img.onload = () => { if (f === state.frame) draw(); };
        img.src = cam.folder + "/frames/" + layer + "_" + pad(f) + ".png";
        out[layer].push(img);
      }
    }
    return out;
  });

  function ready(img) { return img && img.complete && img.naturalWidth > 0; }

  function draw() {
    const f = state.frame;
    for (let i = 0; i < C; i++) {
      const ctx = contexts[i];
      ctx.imageSmoothingEnabled = false;
      ctx.globalAlpha = 1;
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, W, H);
      const base = images[i][state.view] ? images[i][state.view][f] : null;
      if (ready(base)) ctx.drawImage(base, 0, 0, W, H);
      if (state.seg && images[i].seg && ready(images[i].seg[f])) {
        ctx.globalAlpha = 0.6;
        ctx.drawImage(images[i].seg[f], 0, 0, W, H);
        ctx.globalAlpha = 1;
      }
      if (state.tracks && R.tracks) drawTracks(ctx, i, f);
    }
    updatePanels(f);
  }

  // a track has one colour in every camera: the same surface point
  function drawTracks(ctx, i, f) {
    const xy = R.tracks.xy[i], occ = R.tracks.occluded[i];
    for (let n = 0; n < xy.length; n++) {
      const p = xy[n][f];
      if (!p || p[0] === null || p[0] < 0 || p[1] < 0 || p[0] >= R.width || p[1] >= R.height) continue;
      const hue = (n * 137.508) % 360;
      ctx.beginPath();
      ctx.arc(p[0] * k, p[1] * k, 2.5, 0, 2 * Math.PI);
      if (occ[n][f]) { ctx.lineWidth = 1; ctx.strokeStyle = "hsl(" + hue + ",90%,60%)"; ctx.stroke(); }
      else {
        ctx.fillStyle = "hsl(" + hue + ",90%,60%)"; ctx.fill();
        ctx.lineWidth = 0.5; ctx.strokeStyle = "#000"; ctx.stroke();
      }
    }
  }

  function table(head, rows) {
    return "<table><tr>" + head.map((h) => "<th>" + h + "</th>").join("") + "</tr>" +
      rows.map((r) => "<tr>" + r.map((c) => "<td>" + c + "</td>").join("") + "</tr>").join("") + "</table>";
  }

  function updatePanels(f) {
    document.getElementById("framelabel").textContent = "frame " + f + " / " + (R.num_frames - 1);
    document.getElementById("scrub").value = f;
    const vec = (v, d) => v ? "(" + v.map((x) => fmt(x, d)).join(", ") + ")" : "–";
    document.getElementById("cameras").innerHTML = table(
      ["camera", "position @" + f + " (m)", "quaternion @" + f + " (w,x,y,z)", "focal length", "field of view",
       "instances seen @" + f],
      R.cameras.map((cam) => {
        const c = cam.camera || {};
        const seen = cam.visibility.filter((v) => v && v[f] > 0).length;
        return ["<a href='" + esc(cam.folder) + "/index.html'>" + esc(cam.name) + "</a>",
                vec(c.positions && c.positions[f], 3), vec(c.quaternions && c.quaternions[f], 4),
                fmt(c.focal_length, 2) + " mm",
                c.field_of_view !== undefined ? fmt(c.field_of_view * 180 / Math.PI, 2) + "°" : "–", seen];
      }));
    const rows = R.instances.map((inst, k) => {
      const col = R.palette[inst.segmentation_id] || [255, 255, 255];
      const labels = ["size_label", "color_label", "material", "shape", "category"]
        .filter((key) => inst[key] !== undefined && inst[key] !== null).map((key) => esc(inst[key])).join(" ");
      return ["<span class='num'>" + inst.index + "</span>",
              "<span class='swatch' style='background:" + rgbCss(col) + "'></span> " + inst.segmentation_id,
              esc(inst.asset_id || inst.name || ""), labels,
              ...R.cameras.map((cam) => { const v = cam.visibility[k]; return v ? v[f] : "–"; })];
    });
    document.getElementById("instances").innerHTML = R.instances.length ? table(
      ["#", "seg id", "asset", "labels", ...R.cameras.map((cam) => "visible px @" + f + " " + esc(cam.name))], rows)
      : "no instances";
  }

  let legend = "depth and flow: each camera on its own scale (its page gives the legend)";
  if (R.tracks) legend += "; a multi-view track has one colour in every camera (filled: visible, hollow: occluded)";
  document.getElementById("legend").textContent = legend;
  const B = R.baselines;
  document.getElementById("baselines").innerHTML = B ? table(["", ...R.cameras.map((c) => esc(c.name))],
    B.map((row, i) => [esc(R.cameras[i].name), ...row.map((v) => fmt(v, 3))])) : "–";
  document.getElementById("info").innerHTML = "<table>" + Object.keys(R.info).map(
    (key) => "<tr><th>" + esc(key) + "</th><td>" + esc(R.info[key]) + "</td></tr>").join("") + "</table>";
  document.getElementById("conventions").innerHTML = "<table>" + R.conventions.map(
    (c) => "<tr><th>" + esc(c[0]) + "</th><td>" + esc(c[1]) + "</td></tr>").join("") + "</table>";
  if (R.back) document.getElementById("back").innerHTML = "<a href='" + esc(R.back) + "'>← gallery</a>";

  setPlaying(state.play);
  draw();
})();
"""
