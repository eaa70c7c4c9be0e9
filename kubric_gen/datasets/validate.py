"""Checks of a prepared TFDS dataset: every example decodes and its features agree.

`check_dataset(version_dir)` reads the dataset with `tfds.builder_from_directory` (no
builder code), decodes every feature of every example of every split and reports
`kubric_gen.io.validate.Problem`s naming ``<split>[<index>] <video_name>``:

- the example counts of dataset_info.json are those read;
- every array has the config's width, height and frame count; no float is NaN or infinite;
- segmentation ids are at most num_instances (= the number of instances); visibility,
  bboxes and bbox_frames agree with the segmentation (in a downscaled config they are the
  full-resolution ones, as MOVi's: each instance's count is at least its pixels in the
  subsampled segmentation, and bbox_frames are the frames of nonzero visibility);
- depth and flow ranges are finite with min <= max;
- visible track points lie inside the image (in a downscaled config: inside the image the
  full-resolution one maps to, `scenes.pixel_map`).

A multi-camera dataset (a leading camera axis, `metadata/num_cameras`) gets these checks for
each camera's view (`loading.view_examples`), plus: the camera count and names agree, the
dense bboxes are zero where the camera does not see the instance, and the cross-view tracks'
query cameras exist and their visible points lie inside the image.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from kubric_gen.io.layers import boxes_from_segmentation
from kubric_gen.io.validate import Problem


def find_dataset_versions(path: str | os.PathLike) -> list[str]:
    """The prepared dataset versions (folders holding dataset_info.json) at or below `path`:
    a version, config, dataset or data directory (up to three levels down), sorted."""
    import fsspec

    text = os.fspath(path)
    fs, root = fsspec.core.url_to_fs(text)
    root = root.rstrip("/") or root
    found = []
    for pattern in ("", "/*", "/*/*", "/*/*/*"):
        for info in fs.glob(f"{root}{pattern}/dataset_info.json"):
            rel = str(info)[len(root):].rsplit("/", 1)[0]
            if not any(part.startswith(".") for part in rel.split("/")):
                found.append(text.rstrip("/") + rel)
    return sorted(set(found))


def _floats(tree: Any, path: str = "") -> Iterator[str]:
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _floats(v, f"{path}/{k}" if path else k)
    elif isinstance(tree, np.ndarray) and tree.dtype.kind == "f" and tree.dtype != object:
        if not np.isfinite(tree).all():
            yield path


def _check_example(ex: dict, where: str, width: int, height: int, t_len: int, floats: bool = True,
                   factor: int = 1) -> list[Problem]:
    out: list[Problem] = []

    def bad(message: str) -> None:
        out.append(Problem(where, "dataset", message))

    for path in _floats(ex) if floats else ():
        bad(f"{path} has NaN or infinite values")
    shapes = {"video": (t_len, height, width, 3), "segmentations": (t_len, height, width, 1),
              "depth": (t_len, height, width, 1), "forward_flow": (t_len, height, width, 2),
              "backward_flow": (t_len, height, width, 2), "normal": (t_len, height, width, 3),
              "object_coordinates": (t_len, height, width, 3)}
    for key, shape in shapes.items():
        if tuple(ex[key].shape) != shape:
            bad(f"{key} has shape {tuple(ex[key].shape)}, expected {shape}")
            return out
    meta = ex["metadata"]
    n = int(meta["num_instances"])
    instances = ex["instances"]
    if len(instances["mass"]) != n:
        bad(f"metadata/num_instances is {n} but there are {len(instances['mass'])} instances")
    seg = ex["segmentations"][..., 0].astype(np.int64)
    if seg.max(initial=0) > n:
        bad(f"segmentation id {int(seg.max())} but only {n} instances")
    for key in ("depth_range", "forward_flow_range", "backward_flow_range"):
        lo, hi = (float(v) for v in meta[key])
        if not lo <= hi:
            bad(f"metadata/{key} [{lo}, {hi}] has min > max")
    counted = min(n, len(instances["visibility"]))
    visibility, _, visible_frames = boxes_from_segmentation(seg, counted)
    for k in range(counted):
        recorded = np.asarray(instances["visibility"][k], dtype=np.int64)
        if factor == 1 and not np.array_equal(recorded, visibility[k]):
            bad(f"instances/visibility[{k}] is not the pixel count of segmentation id {k + 1}")
        elif factor > 1 and (recorded < visibility[k]).any():
            bad(f"instances/visibility[{k}] counts fewer full-resolution pixels than segmentation id {k + 1} shows")
        if factor > 1:  # the full-resolution frames, as MOVi's
            visible_frames[k] = np.nonzero(recorded)[0].astype(np.int32)
        frames = np.asarray(instances["bbox_frames"][k])
        boxes = np.asarray(instances["bboxes"][k])
        if not np.array_equal(frames, visible_frames[k]) or len(boxes) != len(frames):
            bad(f"instances/bbox_frames[{k}] are not the frames where instance {k} is visible")
        elif len(boxes) and not ((boxes >= 0).all() and (boxes <= 1).all()):
            bad(f"instances/bboxes[{k}] are not normalised to [0, 1]")
    tracks = ex.get("tracks")
    if tracks is not None and len(tracks["target_points"]):
        bad_points = _outside(tracks["target_points"], tracks["occluded"], width, height, factor)
        if bad_points:
            bad(f"{bad_points} visible track points lie outside the {width}x{height} image")
    return out


def _outside(xy: np.ndarray, occluded: np.ndarray, width: int, height: int, factor: int = 1) -> int:
    """How many visible points of (..., 2) (x, y) positions lie outside the image: [0, width] x
    [0, height] at full resolution, mapped by `scenes.pixel_map` in a config downscaled by `factor`."""
    from kubric_gen.datasets.scenes import pixel_map

    _, shift = pixel_map(factor)
    xy, visible = np.asarray(xy), ~np.asarray(occluded, dtype=bool)
    x, y = xy[..., 0] - shift, xy[..., 1] - shift
    return int((visible & ((x < -1e-4) | (x > width + 1e-4) | (y < -1e-4) | (y > height + 1e-4))).sum())


def _check_multiview(ex: dict, where: str, width: int, height: int, t_len: int, c_len: int,
                     factor: int = 1) -> list[Problem]:
    """The checks of a multi-camera example: each view's, and those across cameras."""
    from kubric_gen.datasets.loading import camera_names, view_examples

    out = [Problem(where, "dataset", f"{path} has NaN or infinite values") for path in _floats(ex)]

    def bad(message: str) -> None:
        out.append(Problem(where, "dataset", message))

    names = camera_names(ex)
    if int(ex["metadata"]["num_cameras"]) != c_len or len(names) != c_len:
        bad(f"metadata/num_cameras is {int(ex['metadata']['num_cameras'])} and metadata/camera_names has "
            f"{len(names)} names, but the features have {c_len} cameras")
        return out
    shape = (c_len, t_len, height, width, 3)
    if tuple(np.shape(ex["video"])) != shape:
        bad(f"video has shape {tuple(np.shape(ex['video']))}, expected {shape}")
        return out
    for name, view in view_examples(ex).items():
        out += _check_example(view, f"{where} camera {name}", width, height, t_len, floats=False, factor=factor)
    instances = ex["instances"]
    boxes = np.asarray(instances["bboxes"], dtype=np.float32).reshape(-1, c_len, t_len, 4)
    visibility = np.asarray(instances["visibility"]).reshape(-1, c_len, t_len)
    if (boxes[visibility == 0] != 0).any():
        bad("instances/bboxes are not zero where the camera does not see the instance (visibility 0)")
    tracks = ex["multiview_tracks"]
    cameras = np.asarray(tracks["query_camera"])
    if len(cameras) and (cameras.min() < 0 or cameras.max() >= c_len):
        bad(f"multiview_tracks/query_camera holds cameras outside 0..{c_len - 1}")
    bad_points = _outside(tracks["target_points"], tracks["occluded"], width, height, factor)
    if bad_points:
        bad(f"{bad_points} visible multiview_tracks points lie outside the {width}x{height} image")
    return out


def check_dataset(version_dir: str | os.PathLike) -> tuple[list[Problem], int]:
    """(problems, number of examples read) of one prepared dataset version directory."""
    import tensorflow_datasets as tfds

    from kubric_gen.datasets.loading import numpy_examples

    try:
        builder = tfds.builder_from_directory(os.fspath(version_dir))
    except Exception as e:  # a broken dataset_info.json / features.json: any TFDS error
        return [Problem("dataset_info.json", "dataset", f"TFDS cannot read the dataset ({type(e).__name__}: {e})")], 0
    info = builder.info
    video_shape = tuple(info.features["video"].shape)  # (T, H, W, 3), or (C, T, H, W, 3) for several cameras
    c_len = video_shape[0] if len(video_shape) == 5 else 0
    t_len, height, width = (int(v) for v in video_shape[-4:-1])
    factor = _factor(info, width)
    problems: list[Problem] = []
    total = 0
    for split, split_info in info.splits.items():
        count = 0
        try:
            for i, ex in enumerate(numpy_examples(builder, split)):
                name = ex["metadata"]["video_name"]
                name = name.decode() if isinstance(name, bytes) else str(name)
                where = f"{split}[{i}] {name}"
                problems += (_check_multiview(ex, where, width, height, t_len, c_len, factor) if c_len
                             else _check_example(ex, where, width, height, t_len, factor=factor))
                count += 1
        except Exception as e:  # corrupt records: any TensorFlow error names the split
            problems.append(Problem(split, "dataset", f"cannot decode the split ({type(e).__name__}: "
                                                      f"{str(e).splitlines()[0][:300]})"))
        if count != split_info.num_examples:
            problems.append(Problem(split, "dataset", f"dataset_info.json says {split_info.num_examples} examples, "
                                                      f"{count} were read"))
        total += count
    return problems, total


def _factor(info: Any, width: int) -> int:
    """The downscale factor of a config (its scenes' resolution / its own; 1 where not recorded)."""
    try:
        source = str(info.metadata["kubric_gen"]["source_resolution"])
        return max(1, int(source.split("x")[0]) // width)
    except (KeyError, TypeError, ValueError, AttributeError):
        return 1
