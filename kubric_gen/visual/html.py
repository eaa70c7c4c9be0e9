"""The static HTML viewer (`kubric-gen view`): one folder that opens from disk (file://).

No server and no network: the page's JS and CSS are inline, the scene's numbers are in
``data.js`` (``window.SCENE = {...}``, loaded by a ``<script>`` tag, since browsers refuse
fetch() of local files), and the coloured layers are pre-rendered PNGs per frame
(``frames/{rgb,seg,depth,flow}_%05d.png``) made with `kubric_gen.visual.colors`.

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
MARKER = ".kubric-gen-view"  # in every folder the viewer writes (so it may replace it later)
ARROW_GRID = 16  # flow arrows: about this many per image side
CONVENTIONS = (
    ("flow", "(Δrow, Δcol) in pixels; forward: the motion t→t+1 of the point seen at the pixel; "
             "colour wheel: hue = direction (right = red, down = yellow), saturation = speed"),
    ("depth", "metres, Euclidean distance from the camera centre; black = nothing hit (+inf)"),
    ("quaternions", "(w, x, y, z), world frame, Z up"),
    ("intrinsics", "OpenCV pixels: x right, y down, z forward; (K·p)/p_z = (col + 0.5, row + 0.5)"),
    ("boxes", "metadata bboxes: normalised (ymin, xmin, ymax, xmax) from the segmentation"),
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
        for key in ("bboxes", "bbox_frames", "positions", "quaternions", "visibility", "color"):
            if key in inst:
                row[key] = inst[key]
        out.append(row)
    return out


def write_scene_page(out_dir: str | os.PathLike, scene: ViewScene, back: str | None = None) -> Path:
    """The viewer of one scene in `out_dir` (index.html, data.js, frames/, legends); returns index.html.

    `back`: a link (relative to `out_dir`) to the gallery the page belongs to."""
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
    tracks = None
    if scene.target_points is not None and scene.occluded is not None and len(scene.target_points):
        tracks = {"xy": np.asarray(scene.target_points, dtype=np.float64),
                  "occluded": np.asarray(scene.occluded, dtype=bool).astype(np.uint8)}
    data = {
        "name": scene.name, "width": width, "height": height, "num_frames": t, "frame_rate": scene.frame_rate,
        "scale": display_scale(width, height), "layers": layers, "camera": scene.camera,
        "instances": _instance_rows(scene.instances), "info": scene.info, "depth_range": depth_range,
        "flow_max_radius": flow_radius, "arrows": arrows, "tracks": tracks,
        "palette": colors.segmentation_palette(max(1, len(scene.instances))).tolist(),
        "conventions": [list(c) for c in CONVENTIONS], "back": back,
    }
    text = json.dumps(_json_data(data), separators=(",", ":"), allow_nan=False)
    (out / "data.js").write_text(f"window.SCENE = {text};\n")
    scale = display_scale(width, height)
    page = (_PAGE.replace("@TITLE@", html.escape(scene.name))
            .replace("@CW@", str(width * scale)).replace("@CH@", str(height * scale))
            .replace("@SIDE@", str(width * scale + 16)).replace("@CSS@", _CSS).replace("@JS@", _JS))
    (out / "index.html").write_text(page)
    return out / "index.html"


def write_gallery(out_dir: str | os.PathLike, entries: list[GalleryEntry], title: str,
                  problems: list[str] | None = None) -> Path:
    """index.html in `out_dir` (already prepared): a grid of thumbnails linking to the scene pages."""
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
            .replace("@COUNT@", str(len(entries))).replace("@BODY@", "\n".join(body)))
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
    <label><input type="radio" name="view" value="flow">flow</label></div>
  <div class="row">overlays:
    <label><input type="checkbox" id="seg">segmentation</label>
    <label><input type="checkbox" id="boxes">2D boxes</label>
    <label><input type="checkbox" id="tracks">point tracks</label>
    <label><input type="checkbox" id="arrows">flow arrows</label></div>
  <div class="row legend" id="legend"></div>
  <h2>instances</h2><div id="instances"></div>
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
Rows of each sheet: RGB, segmentation, depth, forward flow.</div></div>
@BODY@
</body></html>
"""

_JS = r"""
(function () {
  "use strict";
  const S = window.SCENE;
  const canvas = document.getElementById("view");
  const ctx = canvas.getContext("2d");
  const k = S.scale, W = S.width * k, H = S.height * k;
  const state = {frame: 0, view: "rgb", seg: false, boxes: false, tracks: false, arrows: false, play: false};
  const pad = (n) => String(n).padStart(5, "0");
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  const fmt = (v, d) => (v === null || v === undefined) ? "–"
    : (typeof v === "number" ? v.toFixed(d === undefined ? 3 : d) : esc(v));
  const rgbCss = (c, a) => "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + (a === undefined ? 1 : a) + ")";

  // initial state from the URL hash: #frame=3&view=depth&seg=1&boxes=1&tracks=1&arrows=1&play=0
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.has("frame")) {
    state.frame = Math.max(0, Math.min(S.num_frames - 1, parseInt(params.get("frame"), 10) || 0));
  }
  if (params.has("view") && S.layers.indexOf(params.get("view")) >= 0) state.view = params.get("view");
  for (const key of ["seg", "boxes", "tracks", "arrows", "play"]) {
    if (params.has(key)) state[key] = params.get(key) === "1" || params.get(key) === "true";
  }

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
      return "<tr><td class='num'>" + inst.index + "</td><td><span class='swatch' style='background:" + rgbCss(col) +
        "'></span> " + inst.segmentation_id + "</td><td>" + esc(inst.asset_id || inst.name || "") + "</td><td>" +
        esc(instanceLabel(inst).split(" ").slice(1).join(" ")) + "</td><td class='num'>" + fmt(inst.mass, 3) +
        "</td><td class='num'>" + (vis === null || vis === undefined ? "–" : vis) + "</td><td class='num'>" +
        vec(pos, 2) + "</td></tr>";
    });
    document.getElementById("instances").innerHTML = S.instances.length ?
      "<table><tr><th>#</th><th>seg id</th><th>asset</th><th>labels</th><th>mass (kg)</th><th>visible px @" + f +
      "</th><th>position @" + f + " (m)</th></tr>" + rows.join("") + "</table>" : "no instances";
  }

  function setFrame(f) { state.frame = ((f % S.num_frames) + S.num_frames) % S.num_frames; draw(); writeHash(); }

  function writeHash() {
    const h = "frame=" + state.frame + "&view=" + state.view + ["seg", "boxes", "tracks", "arrows"].map(
      (key) => "&" + key + "=" + (state[key] ? 1 : 0)).join("");
    if (history.replaceState) history.replaceState(null, "", "#" + h);
  }

  let timer = null;
  function setPlaying(on) {
    state.play = on;
    document.getElementById("play").textContent = on ? "pause" : "play";
    if (timer) { clearInterval(timer); timer = null; }
    if (on) timer = setInterval(() => setFrame(state.frame + 1), 1000 / (S.frame_rate || 12));
  }

  // controls
  const scrub = document.getElementById("scrub");
  scrub.max = S.num_frames - 1;
  scrub.addEventListener("input", () => setFrame(parseInt(scrub.value, 10)));
  document.getElementById("play").addEventListener("click", () => setPlaying(!state.play));
  for (const radio of document.querySelectorAll("input[name=view]")) {
    radio.disabled = S.layers.indexOf(radio.value) < 0;
    radio.checked = radio.value === state.view;
    radio.addEventListener("change", () => { state.view = radio.value; draw(); writeHash(); });
  }
  const available = {seg: S.layers.indexOf("seg") >= 0, boxes: S.instances.length > 0, tracks: !!S.tracks,
                     arrows: !!S.arrows};
  for (const key of ["seg", "boxes", "tracks", "arrows"]) {
    const box = document.getElementById(key);
    box.disabled = !available[key];
    box.checked = state[key] && available[key];
    state[key] = box.checked;
    box.addEventListener("change", () => { state[key] = box.checked; draw(); writeHash(); });
  }
  document.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight") setFrame(state.frame + 1);
    else if (e.key === "ArrowLeft") setFrame(state.frame - 1);
    else if (e.key === " ") { setPlaying(!state.play); e.preventDefault(); }
  });

  // legends and static panels
  let legend = "";
  if (S.depth_range) legend += "<div>depth: " + fmt(S.depth_range[0], 2) + " m <img src='depth_colorbar.png' " +
    "width='160' height='12'> " + fmt(S.depth_range[1], 2) + " m (black: nothing hit)</div>";
  if (S.flow_max_radius !== null && S.flow_max_radius !== undefined) legend += "<div>flow: <img src='flow_wheel.png' " +
    "width='48' height='48'> full colour = " + fmt(S.flow_max_radius, 2) + " px/frame; arrows scaled to the grid</div>";
  document.getElementById("legend").innerHTML = legend;
  document.getElementById("info").innerHTML = table(Object.keys(S.info).map((key) => [key, esc(S.info[key])]));
  document.getElementById("conventions").innerHTML = table(S.conventions.map((c) => [c[0], esc(c[1])]));
  if (S.back) document.getElementById("back").innerHTML = "<a href='" + esc(S.back) + "'>← gallery</a>";

  setPlaying(state.play);
  draw();
})();
"""
