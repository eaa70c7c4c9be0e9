"""Scene directories -> MOVi examples (numpy), local or remote (any fsspec URL).

`find_scenes` lists and checks the scene directories of a folder (cheap: metadata.json and
a file listing); `read_example` checks one with `validate`'s checks and decodes it into the
nested dict of numpy arrays that the TFDS features of `kubric_gen.datasets.features` encode,
at the dataset's resolution. Reading goes through `kubric_gen.io.SceneDir`, the one reader
of the format, which decodes each file once for both.

Downscaling by an integer factor f follows MOVi's builders exactly (Kubric's `subsample_avg`
and `subsample_nearest_neighbor`): the video is the rounded mean of f x f pixel blocks; every
other layer takes the pixel (r*f + o, c*f + o) of its block, o = floor((f-1)/2) (0 for f = 2);
flow values (pixels) and their ranges are divided by f; visibility, bboxes and bbox_frames are
the full-resolution ones of metadata.json (as MOVi's; boxes are normalised). Pixel positions
(track points, the intrinsics) follow the sampled pixels: full-resolution x maps to
x / f + 0.5 - (o + 0.5) / f, so the centre of the chosen pixel lands on the centre of its
downscaled pixel (`pixel_map`). A layer that is stored quantised keeps its stored 16-bit
values (normal, object coordinates, flow), so nothing is quantised twice.

A scene with several cameras (a folder of views, `SceneDir.is_multiview`) decodes each view
exactly as a one-camera scene (downscaling included) and stacks the per-view features along
a leading camera axis C; the instances' camera-independent fields come from the scene's
metadata.json, its cross-view tracks from cross_view.npz (see `features`). All scenes of a
dataset must have the same cameras (`check_same_cameras`).
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kubric_gen import geometry
from kubric_gen.datasets.config import DatasetError, Resolution, downscale_factor
from kubric_gen.datasets.extras import multiview_values as extra_multiview_values
from kubric_gen.datasets.extras import values as extra_values
from kubric_gen.errors import KubricGenError
from kubric_gen.io import SceneDir, SceneDirError
from kubric_gen.io import format as fmt
from kubric_gen.io.layers import MAX_16BIT, quantize
from kubric_gen.io.reader import list_scene_dirs
from kubric_gen.io.validate import errors_of
from kubric_gen.labels import LabelError, LabelSchema

log = logging.getLogger(__name__)

COLLISION_NON_INSTANCE = MAX_16BIT  # MOVi: collisions with the floor / background are marked 65535
_LABEL_DTYPES = {"float": np.float32, "float3": np.float32}

__all__ = ["SceneDirError", "SceneInfo", "check_same_cameras", "find_scenes", "inspect_scene", "list_scene_dirs",
           "read_example", "warn_undeclared_labels"]


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
    label_schema: LabelSchema
    content_hash: str = ""
    cameras: tuple[str, ...] = ()  # the camera names of a scene with several cameras; () for one camera

    @property
    def resolution(self) -> Resolution:
        return Resolution(self.width, self.height)

    @property
    def cameras_text(self) -> str:
        """How a message names the scene's cameras."""
        return cameras_text(self.cameras)

    @property
    def group(self) -> tuple:
        """Scenes of one dataset share world, resolution, frame count and label schema."""
        return self.world, self.width, self.height, self.num_frames, self.label_schema.fingerprint()


def cameras_text(cameras: Sequence[str]) -> str:
    """"one camera" or "2 cameras (left, right)": camera names as messages give them."""
    if not cameras:
        return "one camera"
    return f"{len(cameras)} camera{'s' if len(cameras) > 1 else ''} ({', '.join(cameras)})"


def inspect_scene(path: str | os.PathLike) -> tuple[SceneInfo, SceneDir]:
    """Check one scene directory's listing and metadata; return its SceneInfo and SceneDir.
    Raises SceneDirError."""
    sd = SceneDir(path).check_complete()
    if sd.num_instances > 255 or sd.metadata["metadata"].get("segmentation_16bit"):
        raise SceneDirError(f"{sd.num_instances} instances do not fit MOVi's uint8 segmentations (at most 255)")
    width, height = sd.resolution
    views = sd.views
    for view in views if sd.is_multiview else ():  # the views share the scene's frames, pixels and instances
        if (view.resolution, view.num_frames, view.num_instances) != (sd.resolution, sd.num_frames, sd.num_instances):
            raise SceneDirError(f"{view.name}/{fmt.METADATA}: {view.resolution[0]}x{view.resolution[1]} pixels, "
                                f"{view.num_frames} frames, {view.num_instances} instances; the scene's "
                                f"{fmt.METADATA} says {width}x{height}, {sd.num_frames}, {sd.num_instances}")
        if view.metadata["metadata"].get("segmentation_16bit"):
            raise SceneDirError(f"{view.name}: 16-bit segmentations do not fit MOVi's uint8 ones")
    info = SceneInfo(path=sd.path, name=sd.name, world=sd.world, width=width, height=height,
                     num_frames=sd.num_frames, num_instances=sd.num_instances,
                     has_occlusion=all(v.has("forward_flow_occlusion") for v in views),
                     has_tracks=all(fmt.TRACKS in v.files for v in views),
                     label_schema=sd.label_schema, content_hash=sd.content_hash,
                     cameras=tuple(sd.camera_names) if sd.is_multiview else ())
    return info, sd


def warn_undeclared_labels(path: str | os.PathLike) -> list[str]:
    """Warn (one line) naming the labels set on the objects of a scene whose world declares no label
    schema: its datasets keep only asset_id. Returns those labels ([] also when unreadable)."""
    from kubric_gen.labels import undeclared_labels, undeclared_labels_message

    try:
        sd = SceneDir(path)
        instances = sd.metadata.get("instances", [])
        keys = undeclared_labels(sd.label_schema, instances if isinstance(instances, list) else [])
    except (KubricGenError, AttributeError, OSError, ValueError):
        return []
    if keys:
        log.warning("%s", undeclared_labels_message(keys))
    return keys


def _inspect_or_reason(path: str) -> SceneInfo | str:
    try:
        return inspect_scene(path)[0]
    except KubricGenError as e:
        return str(e)


def find_scenes(scenes_dir: str | os.PathLike, threads: int = 16) -> tuple[list[SceneInfo], list[tuple[str, str]]]:
    """The valid scene directories of a folder, and (path, reason) for each one skipped (logged).

    The directories are inspected by `threads` threads (I/O bound: remote folders).
    """
    from concurrent.futures import ThreadPoolExecutor

    try:
        paths = list_scene_dirs(scenes_dir)
    except SceneDirError as e:
        raise DatasetError(f"SCENES_DIR: {e}") from None
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


def check_same_cameras(scenes: Sequence[SceneInfo]) -> None:
    """Raise DatasetError naming the first scene whose cameras (count and names) differ from
    the first scene's: a dataset's examples have one camera axis."""
    for s in scenes[1:]:
        if s.cameras != scenes[0].cameras:
            raise DatasetError(f"SCENES_DIR: {s.name} has {s.cameras_text} but {scenes[0].name} has "
                               f"{scenes[0].cameras_text}; all scenes of a dataset must have the same cameras")


# --------------------------------------------------------------------------- decoding


def nearest_offset(f: int) -> int:
    """The pixel of each f x f block that MOVi's nearest-neighbour subsampling keeps: floor((f-1)/2)."""
    return (f - 1) // 2


def pixel_map(f: int) -> tuple[float, float]:
    """(scale, shift): a full-resolution pixel position x (pixel centres at +0.5) is x * scale + shift
    in a config downscaled by f, so that the centre of each kept pixel (`nearest_offset`) lands on
    the centre of its downscaled pixel; (1, 0) for f = 1."""
    return 1.0 / f, 0.5 - (nearest_offset(f) + 0.5) / f


def _nearest(a: np.ndarray, f: int) -> np.ndarray:
    """MOVi's nearest-neighbour subsampling of (T, H, W, ...) arrays: a[:, o::f, o::f], o = floor((f-1)/2)."""
    o = nearest_offset(f)
    return a if f == 1 else np.ascontiguousarray(a[:, o::f, o::f])


def _block_mean(video: np.ndarray, f: int) -> np.ndarray:
    """MOVi's average subsampling: the mean of each f x f block, rounded (half to even) to uint8."""
    if f == 1:
        return video
    t, h, w, c = video.shape
    blocks = video.reshape(t, h // f, f, w // f, f, c).astype(np.float64)
    return np.round(blocks.mean(axis=(2, 4))).astype(np.uint8)


def _map_points(q: np.ndarray, xy: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Query points (t, y, x) and target points (x, y) at a config downscaled by f (`pixel_map`);
    the (-1, -1) of points behind the camera kept."""
    if f == 1:
        return q, xy
    scale, shift = pixel_map(f)
    q = q.copy()
    q[:, 1:] = q[:, 1:] * scale + shift
    behind = (xy == -1).all(axis=-1, keepdims=True)
    return q, np.where(behind, xy, xy * scale + shift).astype(np.float32)


def _intrinsics(cam: dict, source: Resolution, f: int) -> np.ndarray:
    """Pixel intrinsics (3, 3) of the config downscaled by f: the source's, mapped by `pixel_map`."""
    k = geometry.intrinsics(float(cam["focal_length"]), float(cam["sensor_width"]), (source.width, source.height))
    scale, shift = pixel_map(f)
    k = np.asarray(k, dtype=np.float64).copy()
    k[:2] = k[:2] * scale + shift * k[2]
    return k.astype(np.float32)


def _floats(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise SceneDirError(f"metadata.json: {what} is not numeric") from None
    if a.shape != shape:
        raise SceneDirError(f"metadata.json: {what} has shape {a.shape}, expected {shape}")
    return a


def _label_arrays(values: dict[str, Any], schema_labels) -> dict[str, Any]:
    kinds = {label.feature: label.kind for label in schema_labels}
    return {k: np.asarray(v, dtype=_LABEL_DTYPES[kinds[k]]) if kinds[k] in _LABEL_DTYPES else v
            for k, v in values.items()}


def _instance(inst: dict, t_len: int, schema: LabelSchema) -> dict:
    """An instance's camera-independent fields (`_view_instances` reads the per-camera ones)."""
    out = {k: np.float32(inst[k]) if k in inst else None for k in ("mass", "friction", "restitution")}
    missing = [k for k, v in out.items() if v is None]
    if missing:
        raise SceneDirError(f"metadata.json: an instance lacks {missing}")
    for key, shape in (("positions", (t_len, 3)), ("quaternions", (t_len, 4)), ("velocities", (t_len, 3)),
                       ("angular_velocities", (t_len, 3)), ("bboxes_3d", (t_len, 8, 3))):
        out[key] = _floats(inst.get(key), shape, f"instance {key}")
    try:
        out.update(_label_arrays(schema.instance_values(inst), schema.instance))
    except LabelError as e:
        raise SceneDirError(f"metadata.json: {e} (label schema {schema.name!r})") from None
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


def _tracks(sd: SceneDir, t_len: int, f: int) -> dict:
    tracks = sd.tracks()
    if tracks is None:
        return {"query_points": np.zeros((0, 3), np.float32), "target_points": np.zeros((0, t_len, 2), np.float32),
                "occluded": np.zeros((0, t_len), bool)}
    q, xy = _map_points(tracks.query_points, tracks.target_points, f)
    return {"query_points": q, "target_points": xy, "occluded": tracks.occluded}


def read_example(path: str | os.PathLike, target: Resolution | None = None, schema: LabelSchema | None = None,
                 num_frames: int | None = None, check: bool = True,
                 cameras: Sequence[str] | None = None, extras: Sequence[str] = ()) -> tuple[str, dict]:
    """Check one scene directory (the checks of `kubric-gen validate`) and decode it into
    (key, example) at resolution `target` (default: its own). `check=False` skips the content
    checks (for readers of directories already validated, e.g. in a training loop).

    `schema` / `num_frames` / `cameras` (the camera names, () for one camera), when given,
    must match the scene's (a dataset has one label schema, one video length and one set of
    cameras). `extras`: the optional features to add (`datasets.extras`). Raises SceneDirError
    for anything incomplete, invalid or unreadable.
    """
    try:
        return _read_example(path, target, schema, num_frames, check, cameras, tuple(extras))
    except SceneDirError:
        raise
    except KubricGenError as e:
        raise SceneDirError(str(e)) from None
    except (KeyError, TypeError, ValueError, IndexError, OSError) as e:  # malformed values, unreadable files
        raise SceneDirError(f"{type(e).__name__}: {e}") from None


def _read_example(path: str | os.PathLike, target: Resolution | None, schema: LabelSchema | None,
                  num_frames: int | None, check: bool, cameras: Sequence[str] | None,
                  extras: tuple[str, ...] = ()) -> tuple[str, dict]:
    info, sd = inspect_scene(path)
    if schema is not None and info.label_schema.fingerprint() != schema.fingerprint():
        raise SceneDirError(f"label schema {info.label_schema.name!r} ({info.label_schema.fingerprint()}) differs "
                            f"from the dataset's {schema.name!r} ({schema.fingerprint()})")
    schema = info.label_schema
    if num_frames is not None and info.num_frames != num_frames:
        raise SceneDirError(f"{info.num_frames} frames, the dataset has {num_frames}")
    if cameras is not None and tuple(cameras) != info.cameras:
        raise SceneDirError(f"{info.cameras_text}, the dataset has {cameras_text(tuple(cameras))}")
    errors = errors_of(sd) if check else []
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise SceneDirError(f"{errors[0].file}: {errors[0].message}{more}; see `kubric-gen validate {sd.path}`")
    source = info.resolution
    target = target or source
    try:
        f = downscale_factor(source, target)
    except DatasetError:
        raise SceneDirError(f"resolution {source.name} cannot be downscaled to {target.name}") from None
    if info.cameras:
        return info.name, _multiview_example(info, sd, target, f, schema, extras)
    t_len = info.num_frames
    meta = sd.metadata
    view = _view(sd, info.has_occlusion, target, f)
    instances = [_instance(inst, t_len, schema) for inst in meta["instances"]]
    extra_top, extra_instances = extra_values(extras, sd, lambda a: _nearest(a, f))
    for inst, per_view, extra in zip(instances, _view_instances(sd), extra_instances, strict=True):
        inst.update(per_view)
        inst.update(extra)
    example: dict[str, Any] = {
        "metadata": {
            **_metadata(info, target),
            **view["ranges"],
        },
        **{key: view[key] for key in _VIEW_LAYERS},
        "camera": view["camera"],
        "instances": instances,
        "events": {"collisions": _collisions(sd.events, info.num_instances, t_len)},
        **{key: view[key] for key in _OCCLUSION_LAYERS},
        "tracks": view["tracks"],
        "provenance": _provenance(info, sd),
        **extra_top,
    }
    _add_scene_labels(example, schema, meta)
    return info.name, example


def _metadata(info: SceneInfo, target: Resolution) -> dict[str, Any]:
    """MOVi's metadata feature of a scene at the dataset's resolution (one camera or several)."""
    return {"video_name": info.name, "width": np.int32(target.width), "height": np.int32(target.height),
            "num_frames": np.int32(info.num_frames), "num_instances": np.uint16(info.num_instances)}


_VIEW_LAYERS = ("video", "segmentations", "forward_flow", "backward_flow", "depth", "normal", "object_coordinates")
_OCCLUSION_LAYERS = ("forward_flow_occlusion", "backward_flow_occlusion")


def _view(sd: SceneDir, has_occlusion: bool, target: Resolution, f: int) -> dict[str, Any]:
    """The per-camera features of one camera's scene directory at the target resolution:
    the layers, their ranges, the camera and the point tracks."""
    t_len = sd.num_frames
    video = sd.stored("rgba")
    seg = _nearest(sd.stored("segmentation"), f).astype(np.uint8)
    depth = sd.layer("depth")
    if "depth" in sd.data_ranges:
        depth_range = np.array(sd.range("depth"), dtype=np.float64)
    else:  # Kubric's scene directories have no depth range
        finite = depth[np.isfinite(depth)]
        depth_range = np.array([finite.min(), finite.max()] if finite.size else [0.0, 0.0], dtype=np.float64)
    flows = {}
    for name in ("forward_flow", "backward_flow"):
        flows[name] = _nearest(sd.stored(name), f)
        flows[name + "_range"] = np.array(sd.range(name), dtype=np.float64) / f
    out: dict[str, Any] = {}
    for name in _OCCLUSION_LAYERS:
        if has_occlusion:
            out[name] = _nearest(sd.stored(name), f).astype(np.uint8)[..., None]
        else:
            out[name] = np.zeros((t_len, target.height, target.width, 1), np.uint8)
    cam = sd.metadata["camera"]
    out.update({
        "ranges": {
            "depth_range": depth_range.astype(np.float32),
            "forward_flow_range": flows["forward_flow_range"].astype(np.float32),
            "backward_flow_range": flows["backward_flow_range"].astype(np.float32),
        },
        "video": _block_mean(np.ascontiguousarray(video[..., :3]), f),
        "segmentations": seg[..., None],
        "forward_flow": flows["forward_flow"],
        "backward_flow": flows["backward_flow"],
        "depth": quantize(_nearest(depth, f), *depth_range)[..., None],
        "normal": _nearest(sd.stored("normal"), f),
        "object_coordinates": _nearest(sd.stored("object_coordinates"), f),
        "camera": {
            "focal_length": np.float32(cam["focal_length"]),
            "sensor_width": np.float32(cam["sensor_width"]),
            "field_of_view": np.float32(cam.get("field_of_view", geometry.field_of_view(
                cam["focal_length"], cam["sensor_width"]))),
            "positions": _floats(cam.get("positions"), (t_len, 3), "camera positions"),
            "quaternions": _floats(cam.get("quaternions"), (t_len, 4), "camera quaternions"),
            "intrinsics": _intrinsics(cam, Resolution(*sd.resolution), f),
        },
        "tracks": _tracks(sd, t_len, f),
    })
    return out


def _view_instances(sd: SceneDir) -> list[dict]:
    """Each instance's per-camera fields in one camera's scene directory: image_positions, bboxes,
    bbox_frames and visibility, as metadata.json has them at full resolution (MOVi keeps them in
    its downscaled configs too: boxes are normalised, visibility counts full-resolution pixels)."""
    t_len = sd.num_frames
    sources = sd.metadata["instances"]
    out = [{"image_positions": _floats(src.get("image_positions"), (t_len, 2), "instance image_positions")}
           for src in sources]
    for inst, src in zip(out, sources, strict=True):
        boxes = src.get("bboxes") or []
        inst["bboxes"] = (_floats(boxes, (len(boxes), 4), "instance bboxes") if boxes
                          else np.zeros((0, 4), np.float32))
        inst["bbox_frames"] = np.asarray(src.get("bbox_frames", []), dtype=np.int32).reshape(-1)
        inst["visibility"] = _floats(src.get("visibility"), (t_len,), "instance visibility").astype(np.int64)
    for inst in out:
        inst["visibility"] = np.clip(inst["visibility"], 0, MAX_16BIT).astype(np.uint16)
        if len(inst["bboxes"]) != len(inst["bbox_frames"]):
            raise SceneDirError("metadata.json: an instance has different numbers of bboxes and bbox_frames")
        inst["bboxes"] = np.clip(inst["bboxes"], 0.0, 1.0)
    return out


def _provenance(info: SceneInfo, sd: SceneDir) -> dict[str, Any]:
    meta = sd.metadata
    return {
        "world": info.world,
        "seed": np.int64(meta["metadata"].get("seed", meta.get("flags", {}).get("seed", -1))),
        "config": json.dumps(meta.get("flags", {}), sort_keys=True),
        "record": json.dumps(sd.provenance, sort_keys=True),
    }


def _add_scene_labels(example: dict, schema: LabelSchema, meta: dict) -> None:
    try:
        scene_labels = _label_arrays(schema.scene_values(meta), schema.scene)
    except LabelError as e:
        raise SceneDirError(f"metadata.json: {e} (label schema {schema.name!r})") from None
    for key, value in scene_labels.items():
        group, _, leaf = key.rpartition("/")
        (example[group] if group else example)[leaf] = value


# --------------------------------------------------------------------------- several cameras


def _multiview_example(info: SceneInfo, sd: SceneDir, target: Resolution, f: int, schema: LabelSchema,
                       extras: tuple[str, ...] = ()) -> dict:
    """A scene with several cameras: each view decoded as a one-camera scene (`_view`), stacked
    along a leading camera axis; shared instances; cross-view tracks."""
    t_len, c_len = info.num_frames, len(info.cameras)
    views = [_view(v, info.has_occlusion, target, f) for v in sd.views]
    per_view = [_view_instances(v) for v in sd.views]
    instances = [_instance(inst, t_len, schema) for inst in sd.metadata["instances"]]
    for k, inst in enumerate(instances):
        boxes = np.zeros((c_len, t_len, 4), np.float32)
        for c, view_instances in enumerate(per_view):
            frames = view_instances[k]["bbox_frames"]
            if len(frames) and (frames.min() < 0 or frames.max() >= t_len):
                raise SceneDirError(f"{sd.views[c].name}/{fmt.METADATA}: instance {k} has bbox_frames outside "
                                    f"0..{t_len - 1}")
            boxes[c, frames] = view_instances[k]["bboxes"]
        inst["image_positions"] = np.stack([v[k]["image_positions"] for v in per_view])
        inst["bboxes"] = boxes
        inst["visibility"] = np.stack([v[k]["visibility"] for v in per_view])
    extra_top, extra_instances = extra_multiview_values(extras, sd.views, t_len, lambda a: _nearest(a, f))
    for inst, extra in zip(instances, extra_instances, strict=True):
        inst.update(extra)
    names = list(info.cameras)
    example: dict[str, Any] = {
        "metadata": {
            **_metadata(info, target),
            "num_cameras": np.int32(c_len),
            "camera_names": names,
            **{key: np.stack([v["ranges"][key] for v in views]) for key in views[0]["ranges"]},
        },
        **{key: np.stack([v[key] for v in views]) for key in (*_VIEW_LAYERS, *_OCCLUSION_LAYERS)},
        "camera": {"name": names, **{key: np.stack([v["camera"][key] for v in views]) for key in views[0]["camera"]}},
        "instances": instances,
        "events": {"collisions": _multiview_collisions(sd, info.num_instances, t_len)},
        "tracks": _stacked_tracks(sd, [v["tracks"] for v in views]),
        "multiview_tracks": _multiview_tracks(sd, c_len, t_len, f),
        "provenance": _provenance(info, sd),
        **extra_top,
    }
    _add_scene_labels(example, schema, sd.metadata)
    return example


def _multiview_collisions(sd: SceneDir, num_instances: int, t_len: int) -> list[dict]:
    """The collisions (one simulation: the same in every view's events.json) with each camera's
    image_position stacked (C, 2)."""
    per_view = [_collisions(v.events, num_instances, t_len) for v in sd.views]
    first = per_view[0]
    for view, collisions in zip(sd.views[1:], per_view[1:], strict=True):
        same = len(collisions) == len(first) and all(
            np.array_equal(a["instances"], b["instances"]) and a["frame"] == b["frame"]
            for a, b in zip(collisions, first, strict=True))
        if not same:
            raise SceneDirError(f"{view.name}/{fmt.EVENTS}: its collisions are not those of {sd.views[0].name}")
    return [{**c, "image_position": np.stack([v[k]["image_position"] for v in per_view])}
            for k, c in enumerate(first)]


def _stacked_tracks(sd: SceneDir, tracks: list[dict]) -> dict:
    """The views' point tracks (C, N, ...): every view must have the same number N."""
    counts = [len(t["query_points"]) for t in tracks]
    if len(set(counts)) > 1:
        listed = ", ".join(f"{v.name} {n}" for v, n in zip(sd.views, counts, strict=True))
        raise SceneDirError(f"{fmt.TRACKS}: the views have different numbers of point tracks ({listed}); "
                            "a dataset stacks them along the camera axis")
    return {key: np.stack([t[key] for t in tracks]) for key in tracks[0]}


def _multiview_tracks(sd: SceneDir, c_len: int, t_len: int, f: int) -> dict:
    """The cross-view point tracks of cross_view.npz (what `SceneDir.cross_view` returns, without
    computing the correspondences), pixel coordinates mapped to the config (`pixel_map`)."""
    try:
        with np.load(io.BytesIO(sd.read_bytes(fmt.CROSS_VIEW)), allow_pickle=False) as d:
            arrays = {k: d[k] for k in ("query_points", "query_camera", "query_world", "target_points", "occluded")
                      if k in d.files}
    except (OSError, ValueError) as e:
        raise SceneDirError(f"{fmt.CROSS_VIEW}: cannot read ({e})") from None
    if not arrays:  # written without tracks
        return {"query_points": np.zeros((0, 3), np.float32), "query_camera": np.zeros((0,), np.int32),
                "query_world": np.zeros((0, 3), np.float32),
                "target_points": np.zeros((c_len, 0, t_len, 2), np.float32),
                "occluded": np.zeros((c_len, 0, t_len), bool)}
    n = len(arrays.get("query_points", ()))
    shapes = {"query_points": (n, 3), "query_camera": (n,), "query_world": (n, 3),
              "target_points": (c_len, n, t_len, 2), "occluded": (c_len, n, t_len)}
    for key, shape in shapes.items():
        if key not in arrays or arrays[key].shape != shape:
            raise SceneDirError(f"{fmt.CROSS_VIEW}: {key} must be {shape} (got "
                                f"{arrays[key].shape if key in arrays else 'nothing'})")
    camera = arrays["query_camera"].astype(np.int32)
    if n and (camera.min() < 0 or camera.max() >= c_len):
        raise SceneDirError(f"{fmt.CROSS_VIEW}: query_camera must lie in 0..{c_len - 1}")
    q, xy = _map_points(arrays["query_points"].astype(np.float32), arrays["target_points"].astype(np.float32), f)
    return {"query_points": q, "query_camera": camera, "query_world": arrays["query_world"].astype(np.float32),
            "target_points": xy, "occluded": arrays["occluded"].astype(bool)}
