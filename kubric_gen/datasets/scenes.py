"""Scene directories -> MOVi examples (numpy), local or remote (etils.epath: gs://, s3://, ...).

`find_scenes` lists and checks the scene directories of a folder (cheap: metadata.json and
a file listing); `read_example` decodes one into the nested dict of numpy arrays that the
TFDS features of `kubric_gen.datasets.features` encode, at the dataset's resolution.

Downscaling by an integer factor f (MOVi's rule): the video is averaged over f x f pixel
blocks; every other layer takes the pixel (r*f + f//2, c*f + f//2) of its block (nearest
neighbour); flow values (pixels) and their ranges, track coordinates and the pixel
intrinsics are divided by f; visibility, bboxes and bbox_frames are recomputed from the
downscaled segmentation. A layer that is stored quantised keeps its stored 16-bit values
(normal, object coordinates, flow), so nothing is quantised twice. Images are re-encoded
by TFDS even at the scenes' own resolution: TensorFlow's PNG encoder makes the 16-bit
layers half the size of the scene directory's files.

TensorFlow is imported lazily here (16-bit PNGs are decoded with tf.io.decode_png, which
is 4x faster than pypng); Pillow reads the 8-bit PNGs, tifffile the depth TIFFs.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from kubric_gen import geometry
from kubric_gen.datasets.config import DatasetError, Resolution, downscale_factor
from kubric_gen.datasets.schema import LabelError, Schema, schema_for, world_of
from kubric_gen.io.layers import MAX_16BIT, quantize

log = logging.getLogger(__name__)

REQUIRED_LAYERS = {"rgba": "png", "depth": "tiff", "segmentation": "png", "normal": "png",
                   "object_coordinates": "png", "forward_flow": "png", "backward_flow": "png"}
OCCLUSION_LAYERS = ("forward_flow_occlusion", "backward_flow_occlusion")
_FRAME_FILE = re.compile(r"([a-z_]+)_(\d{5})\.(png|tiff)")
MAX_UINT16 = MAX_16BIT
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLLISION_NON_INSTANCE = MAX_UINT16  # MOVi: collisions with the floor / background are marked 65535


class SceneDirError(DatasetError):
    """A scene directory is incomplete or unreadable (it is skipped with a warning)."""


def epath(p: Any):
    from etils import epath as _epath

    return _epath.Path(p)


@dataclass(frozen=True)
class SceneInfo:
    """What `find_scenes` learns about a scene directory without decoding it."""

    path: str
    name: str
    world: str
    width: int
    height: int
    num_frames: int
    num_instances: int
    has_occlusion: bool
    has_tracks: bool

    @property
    def resolution(self) -> Resolution:
        return Resolution(self.width, self.height)

    @property
    def schema(self) -> Schema:
        return schema_for(self.world)


# --------------------------------------------------------------------------- inspecting


def _read_json(path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SceneDirError(f"{what} is missing") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise SceneDirError(f"{what} is unreadable ({type(e).__name__}: {e})") from None


def _frames(files: dict[str, dict[int, str]], layer: str, num_frames: int) -> bool:
    """True if layer has exactly frames 0..T-1, False if it has none, else SceneDirError."""
    frames = sorted(files.get(layer, {}))
    if not frames:
        return False
    if frames != list(range(num_frames)):
        missing = sorted(set(range(num_frames)) - set(frames))
        detail = f"missing {missing[:5]}" if missing else f"extra {sorted(set(frames) - set(range(num_frames)))[:5]}"
        raise SceneDirError(f"{layer}_%05d files are not frames 0..{num_frames - 1} ({detail})")
    return True


def inspect_scene(path) -> tuple[SceneInfo, dict]:
    """Check one scene directory; return its SceneInfo and metadata.json. Raises SceneDirError."""
    path = epath(path)
    try:
        names = [p.name for p in path.iterdir()]
    except (OSError, NotADirectoryError) as e:
        raise SceneDirError(f"cannot list ({e})") from None
    meta = _read_json(path / "metadata.json", "metadata.json")
    try:
        m = meta["metadata"]
        width, height = (int(v) for v in m["resolution"])
        num_frames = int(m["num_frames"])
        instances = meta["instances"]
        meta["camera"]["focal_length"]  # noqa: B018 (presence check)
        if not isinstance(instances, list) or width <= 0 or height <= 0 or num_frames <= 0:
            raise ValueError("bad values")
    except (KeyError, TypeError, ValueError) as e:
        raise SceneDirError(f"metadata.json lacks MOVi's metadata/camera/instances ({type(e).__name__}: {e})") from None
    if len(instances) > 255 or m.get("segmentation_16bit"):
        raise SceneDirError(f"{len(instances)} instances do not fit MOVi's uint8 segmentations (at most 255)")
    files: dict[str, dict[int, str]] = {}
    for n in names:
        match = _FRAME_FILE.fullmatch(n)
        if match:
            files.setdefault(match.group(1), {})[int(match.group(2))] = n
    for layer in REQUIRED_LAYERS:
        if not _frames(files, layer, num_frames):
            raise SceneDirError(f"{layer}_%05d.{REQUIRED_LAYERS[layer]} files are missing")
    occlusion = [_frames(files, layer, num_frames) for layer in OCCLUSION_LAYERS]
    if occlusion[0] != occlusion[1]:
        raise SceneDirError("only one of the flow occlusion layers is present")
    for required in ("data_ranges.json", "events.json"):
        if required not in names:
            raise SceneDirError(f"{required} is missing")
    info = SceneInfo(path=str(path), name=path.name, world=world_of(meta), width=width, height=height,
                     num_frames=num_frames, num_instances=len(instances), has_occlusion=occlusion[0],
                     has_tracks="tracks.npz" in names)
    return info, meta


def list_scene_dirs(scenes_dir) -> list:
    """The scene directories of a folder (sorted by name; hidden and temporary ones, and the
    pipeline's bookkeeping such as `_status/` and `_tfds/`, left out).

    A folder that is itself a scene directory (has metadata.json) is its only scene.
    """
    root = epath(scenes_dir)
    if not root.is_dir():
        raise DatasetError(f"SCENES_DIR: {scenes_dir} is not a directory")
    if (root / "metadata.json").exists():
        return [root]
    return sorted((p for p in root.iterdir() if not p.name.startswith((".", "_")) and p.is_dir()),
                  key=lambda p: p.name)


def _inspect_or_reason(path) -> SceneInfo | str:
    try:
        return inspect_scene(path)[0]
    except SceneDirError as e:
        return str(e)


def find_scenes(scenes_dir, threads: int = 16) -> tuple[list[SceneInfo], list[tuple[str, str]]]:
    """The valid scene directories of a folder, and (path, reason) for each one skipped (logged).

    The directories are inspected by `threads` threads (I/O bound: remote folders).
    """
    from concurrent.futures import ThreadPoolExecutor

    paths = list_scene_dirs(scenes_dir)
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(paths)))) as pool:
        results = list(pool.map(_inspect_or_reason, paths))
    scenes, skipped = [], []
    for p, r in zip(paths, results, strict=True):
        if isinstance(r, SceneInfo):
            scenes.append(r)
        else:
            log.warning("skipping scene directory %s: %s", p, r)
            skipped.append((str(p), r))
    return scenes, skipped


# --------------------------------------------------------------------------- decoding


def _png8(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if im.mode not in ("P", "L", "I;16", "I;16B", "I", "RGB", "RGBA"):
            raise SceneDirError(f"unexpected PNG mode {im.mode}")
        return np.asarray(im)


def _png16(data: bytes) -> np.ndarray:
    import tensorflow as tf

    if data[:8] != PNG_SIGNATURE or data[24] != 16:
        raise SceneDirError("expected a 16-bit PNG")
    return tf.io.decode_png(data, channels=3, dtype=tf.uint16).numpy()


def _tiff(data: bytes) -> np.ndarray:
    import tifffile

    a = tifffile.imread(io.BytesIO(data))
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise SceneDirError(f"depth TIFF must be (H, W) or (H, W, 1) (got {a.shape})")
    return a.astype(np.float32, copy=False)


def _stack(path, layer: str, ext: str, num_frames: int, decode, shape: tuple[int, int]) -> np.ndarray:
    frames = []
    for t in range(num_frames):
        name = f"{layer}_{t:05d}.{ext}"
        try:
            a = decode((path / name).read_bytes())
        except SceneDirError as e:
            raise SceneDirError(f"{name}: {e}") from None
        except Exception as e:  # corrupt image data: any decoder error
            raise SceneDirError(f"{name}: cannot decode ({type(e).__name__}: {e})") from None
        if a.shape[:2] != shape:
            raise SceneDirError(f"{name}: shape {a.shape[:2]} is not the metadata's {shape}")
        frames.append(a)
    return np.stack(frames)


def _nearest(a: np.ndarray, f: int) -> np.ndarray:
    """Every f-th pixel (the one at f//2 in each block) of (T, H, W, ...) arrays."""
    return a if f == 1 else np.ascontiguousarray(a[:, f // 2::f, f // 2::f])


def _block_mean(video: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return video
    t, h, w, c = video.shape
    blocks = video.reshape(t, h // f, f, w // f, f, c).astype(np.float32)
    return np.rint(blocks.mean(axis=(2, 4))).astype(np.uint8)


def _floats(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise SceneDirError(f"metadata.json: {what} is not numeric") from None
    if a.shape != shape:
        raise SceneDirError(f"metadata.json: {what} has shape {a.shape}, expected {shape}")
    return a


def boxes_from_segmentation(seg: np.ndarray, num_instances: int) -> tuple[np.ndarray, list, list]:
    """Visibility (K, T) pixel counts, and per instance bboxes (n, 4) normalised [ymin, xmin, ymax, xmax]
    and bbox_frames (n,), from a (T, H, W) segmentation (id k = instance k-1)."""
    t_len, h, w = seg.shape
    vis = np.zeros((num_instances, t_len), dtype=np.int64)
    boxes: list[list] = [[] for _ in range(num_instances)]
    frames: list[list] = [[] for _ in range(num_instances)]
    for t in range(t_len):
        ids, counts = np.unique(seg[t], return_counts=True)
        for i, c in zip(ids.tolist(), counts.tolist(), strict=True):
            if 1 <= i <= num_instances:
                vis[i - 1, t] = c
                rows, cols = np.nonzero(seg[t] == i)
                boxes[i - 1].append([rows.min() / h, cols.min() / w, (rows.max() + 1) / h, (cols.max() + 1) / w])
                frames[i - 1].append(t)
    return (vis,
            [np.asarray(b, dtype=np.float32).reshape(-1, 4) for b in boxes],
            [np.asarray(f, dtype=np.int32) for f in frames])


def _range(ranges: dict, key: str) -> np.ndarray:
    try:
        lo, hi = float(ranges[key]["min"]), float(ranges[key]["max"])
    except (KeyError, TypeError, ValueError):
        raise SceneDirError(f"data_ranges.json has no {key} min/max") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise SceneDirError(f"data_ranges.json: bad {key} range [{lo}, {hi}]")
    return np.array([lo, hi], dtype=np.float64)


def _instance(inst: dict, t_len: int, schema: Schema) -> dict:
    out = {k: np.float32(inst[k]) if k in inst else None for k in ("mass", "friction", "restitution")}
    missing = [k for k, v in out.items() if v is None]
    if missing:
        raise SceneDirError(f"metadata.json: an instance lacks {missing}")
    for key, shape in (("positions", (t_len, 3)), ("quaternions", (t_len, 4)), ("velocities", (t_len, 3)),
                       ("angular_velocities", (t_len, 3)), ("bboxes_3d", (t_len, 8, 3)),
                       ("image_positions", (t_len, 2))):
        out[key] = _floats(inst.get(key), shape, f"instance {key}")
    try:
        out.update(schema.instance_labels(inst))
    except LabelError as e:
        raise SceneDirError(f"metadata.json: {e} (the {schema.name} label schema)") from None
    return out


def _collisions(events: dict, num_instances: int, t_len: int) -> list[dict]:
    out = []
    for c in events.get("collisions", []):
        try:
            pair = [int(i) for i in c["instances"]]
            out.append({
                "instances": np.array([i if 0 <= i < num_instances else COLLISION_NON_INSTANCE for i in pair],
                                      dtype=np.uint16),
                "frame": np.int32(min(max(int(np.floor(float(c["frame"]) + 0.5)), 0), t_len - 1)),
                "force": np.float32(c["force"]),
                "position": _floats(c["position"], (3,), "collision position"),
                "image_position": _floats(c["image_position"], (2,), "collision image_position"),
                "contact_normal": _floats(c["contact_normal"], (3,), "collision contact_normal"),
            })
        except (KeyError, TypeError, ValueError) as e:
            raise SceneDirError(f"events.json: bad collision ({type(e).__name__}: {e})") from None
    return out


def _tracks(path, t_len: int, f: int) -> dict:
    empty = {"query_points": np.zeros((0, 3), np.float32), "target_points": np.zeros((0, t_len, 2), np.float32),
             "occluded": np.zeros((0, t_len), bool)}
    p = path / "tracks.npz"
    if not p.exists():
        return empty
    try:
        with np.load(io.BytesIO(p.read_bytes()), allow_pickle=False) as d:
            q, xy, occ = (d["query_points"].astype(np.float32), d["target_points"].astype(np.float32),
                          d["occluded"].astype(bool))
    except (OSError, ValueError, KeyError) as e:
        raise SceneDirError(f"tracks.npz is unreadable ({type(e).__name__}: {e})") from None
    n = q.shape[0] if q.ndim == 2 else -1
    if q.shape != (n, 3) or xy.shape != (n, t_len, 2) or occ.shape != (n, t_len):
        raise SceneDirError(f"tracks.npz: bad shapes {q.shape}, {xy.shape}, {occ.shape}")
    if f > 1:
        q[:, 1:] /= f
        behind = (xy == -1).all(axis=-1, keepdims=True)
        xy = np.where(behind, xy, xy / f)
    return {"query_points": q, "target_points": xy, "occluded": occ}


def read_example(path, target: Resolution | None = None, world: str | None = None,
                 num_frames: int | None = None) -> tuple[str, dict]:
    """Decode one scene directory into (key, example) at resolution `target` (default: its own).

    `world` / `num_frames`, when given, must match the scene (a dataset has one label schema
    and one video length). Raises SceneDirError for anything incomplete or unreadable.
    """
    try:
        return _read_example(epath(path), target, world, num_frames)
    except (KeyError, TypeError, ValueError, IndexError, OSError) as e:  # malformed values, unreadable files
        raise SceneDirError(f"{type(e).__name__}: {e}") from None


def _read_example(path, target: Resolution | None, world: str | None, num_frames: int | None) -> tuple[str, dict]:
    info, meta = inspect_scene(path)
    schema = info.schema
    if world is not None and schema_for(world).name != schema.name:
        raise SceneDirError(f"world {info.world!r} has the {schema.name} label schema, "
                            f"the dataset has {schema_for(world).name}")
    if num_frames is not None and info.num_frames != num_frames:
        raise SceneDirError(f"{info.num_frames} frames, the dataset has {num_frames}")
    source = info.resolution
    target = target or source
    try:
        f = downscale_factor(source, target)
    except DatasetError:
        raise SceneDirError(f"resolution {source.name} cannot be downscaled to {target.name}") from None
    t_len, hw = info.num_frames, (info.height, info.width)
    ranges = _read_json(path / "data_ranges.json", "data_ranges.json")
    if not isinstance(ranges, dict):
        raise SceneDirError("data_ranges.json is not an object")

    video = _stack(path, "rgba", "png", t_len, _png8, hw)
    if video.ndim != 4 or video.shape[-1] not in (3, 4):
        raise SceneDirError(f"rgba frames must be RGB(A) (got shape {video.shape})")
    seg = _stack(path, "segmentation", "png", t_len, _png8, hw)
    if seg.ndim != 3:
        raise SceneDirError("segmentation PNGs must be palette or greyscale")
    if seg.max(initial=0) > info.num_instances:
        raise SceneDirError(f"segmentation id {int(seg.max())} > num_instances {info.num_instances}")
    depth = _stack(path, "depth", "tiff", t_len, _tiff, hw)
    if "depth" in ranges:
        depth_range = _range(ranges, "depth")
    else:  # Kubric's scene directories have no depth range
        finite = depth[np.isfinite(depth)]
        depth_range = np.array([finite.min(), finite.max()] if finite.size else [0.0, 0.0], dtype=np.float64)
    flows = {}
    for name in ("forward_flow", "backward_flow"):
        flows[name] = _nearest(_stack(path, name, "png", t_len, _png16, hw)[..., :2], f)
        flows[name + "_range"] = _range(ranges, name) / f
    occlusion = {}
    for name in OCCLUSION_LAYERS:
        if info.has_occlusion:
            occlusion[name] = (_nearest(_stack(path, name, "png", t_len, _png8, hw), f) != 0).astype(np.uint8)
        else:
            occlusion[name] = np.zeros((t_len, target.height, target.width), np.uint8)
        occlusion[name] = occlusion[name][..., None]

    seg = _nearest(seg, f).astype(np.uint8)
    cam = meta["camera"]
    instances = [_instance(inst, t_len, schema) for inst in meta["instances"]]
    if f == 1:
        for inst, src in zip(instances, meta["instances"], strict=True):
            boxes = src.get("bboxes") or []
            inst["bboxes"] = (_floats(boxes, (len(boxes), 4), "instance bboxes") if boxes
                              else np.zeros((0, 4), np.float32))
            inst["bbox_frames"] = np.asarray(src.get("bbox_frames", []), dtype=np.int32).reshape(-1)
            inst["visibility"] = _floats(src.get("visibility"), (t_len,), "instance visibility").astype(np.int64)
    else:
        vis, boxes, frames = boxes_from_segmentation(seg, len(instances))
        for k, inst in enumerate(instances):
            inst["bboxes"], inst["bbox_frames"], inst["visibility"] = boxes[k], frames[k], vis[k]
    for inst in instances:
        inst["visibility"] = np.clip(inst["visibility"], 0, MAX_UINT16).astype(np.uint16)
        if len(inst["bboxes"]) != len(inst["bbox_frames"]):
            raise SceneDirError("metadata.json: an instance has different numbers of bboxes and bbox_frames")
        inst["bboxes"] = np.clip(inst["bboxes"], 0.0, 1.0)

    provenance = {}
    if (path / "provenance.json").exists():
        provenance = _read_json(path / "provenance.json", "provenance.json")
    events = _read_json(path / "events.json", "events.json")
    try:
        scene_labels = schema.scene_labels(meta, provenance)
    except LabelError as e:
        raise SceneDirError(f"metadata.json: {e} (the {schema.name} label schema)") from None

    example: dict[str, Any] = {
        "metadata": {
            "video_name": info.name,
            "width": np.int32(target.width),
            "height": np.int32(target.height),
            "num_frames": np.int32(t_len),
            "num_instances": np.uint16(info.num_instances),
            "depth_range": depth_range.astype(np.float32),
            "forward_flow_range": flows["forward_flow_range"].astype(np.float32),
            "backward_flow_range": flows["backward_flow_range"].astype(np.float32),
        },
        "video": _block_mean(np.ascontiguousarray(video[..., :3]), f),
        "segmentations": seg[..., None],
        "forward_flow": flows["forward_flow"],
        "backward_flow": flows["backward_flow"],
        "depth": quantize(_nearest(depth, f), *depth_range)[..., None],
        "normal": _nearest(_stack(path, "normal", "png", t_len, _png16, hw), f),
        "object_coordinates": _nearest(_stack(path, "object_coordinates", "png", t_len, _png16, hw), f),
        "camera": {
            "focal_length": np.float32(cam["focal_length"]),
            "sensor_width": np.float32(cam["sensor_width"]),
            "field_of_view": np.float32(cam.get("field_of_view", geometry.field_of_view(
                cam["focal_length"], cam["sensor_width"]))),
            "positions": _floats(cam.get("positions"), (t_len, 3), "camera positions"),
            "quaternions": _floats(cam.get("quaternions"), (t_len, 4), "camera quaternions"),
            "intrinsics": geometry.intrinsics(float(cam["focal_length"]), float(cam["sensor_width"]),
                                              (target.width, target.height)).astype(np.float32),
        },
        "instances": instances,
        "events": {"collisions": _collisions(events, info.num_instances, t_len)},
        **occlusion,
        "tracks": _tracks(path, t_len, f),
        "provenance": {
            "world": info.world,
            "seed": np.int64(meta["metadata"].get("seed", meta.get("flags", {}).get("seed", -1))),
            "config": json.dumps(meta.get("flags", {}), sort_keys=True),
            "record": json.dumps(provenance, sort_keys=True),
        },
    }
    for key, value in scene_labels.items():
        group, _, leaf = key.rpartition("/")
        (example[group] if group else example)[leaf] = value
    return info.name, example
