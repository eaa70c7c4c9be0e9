"""PyTorch datasets: scene directories or an ArrayRecord build -> float tensors in documented units.

    from kubric_gen.datasets.torch import SceneDirDataset, TFDSDataset, RandomCrop, Resize, Compose, collate
    ds = SceneDirDataset("out/movi_a", transform=Compose([RandomCrop(96), Resize(64)]))
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2, collate_fn=collate)

Both datasets decode through the MOVi example of `kubric_gen.datasets` (a scene directory
with `scenes.read_example`, a prepared dataset with `tfds.data_source`), so they give the same
tensors for the same scene. A sample (T frames, H x W pixels, N instances, P tracks):

- video: float32 (T, 3, H, W) in [0, 1]
- segmentation: int64 (T, H, W); 0 background, k = instance k-1
- depth: float32 (T, 1, H, W), metres from the camera centre
- forward_flow, backward_flow: float32 (T, 2, H, W), pixels, (d_row, d_col) as MOVi
- forward_flow_occlusion, backward_flow_occlusion: bool (T, H, W), occluded at t+1 / t-1
- normal: float32 (T, 3, H, W), unit vectors; object_coordinates: float32 (T, 3, H, W) in [0, 1]
- boxes: float32 (N, T, 4), pixel edges (ymin, xmin, ymax, xmax); box_valid: bool (N, T)
- instances/{positions (N, T, 3) m, quaternions (N, T, 4) w,x,y,z, velocities, angular_velocities,
  bboxes_3d (N, T, 8, 3), visibility (N, T) pixels, mass, friction, restitution (N,), the
  world's labels (class ids int64, floats)}
- tracks/{query_points (P, 3) (t, y, x), target_points (P, T, 2) (x, y), occluded (P, T)}:
  pixels, the centre of pixel (r, c) at (c + 0.5, r + 0.5)
- camera/{intrinsics (3, 3) OpenCV pixels, positions (T, 3), quaternions (T, 4), focal_length,
  sensor_width (mm), field_of_view (rad)}; video_name: str

Scenes with several cameras (C of them; every scene of a dataset has the same cameras) add a
camera axis in front of the frame axis of every per-view tensor: video (C, T, 3, H, W), depth
(C, T, 1, H, W), segmentation and the occlusion masks (C, T, H, W), boxes and box_valid (N, C, T,
...), instances/visibility (N, C, T), camera/* (C, ...), tracks (C, P, ...) (each camera's own
tracks); plus cameras (the names, in axis order) and multiview_tracks/{query_points (Q, 3),
query_camera (Q,), query_world (Q, 3), target_points (C, Q, T, 2), occluded (C, Q, T)}: points
tracked in every camera. box_valid is where the camera sees the instance.

Optional layers (`SceneDirDataset(extras=...)`, or a build made with `--extras`): the scene flow
(forward_scene_flow, backward_scene_flow and their *_camera versions, float32 (T, 3, H, W),
metres), occlusion_boundaries (uint8 (T, H, W) bits; crops keep them, `Resize` refuses them),
instances/amodal_masks (N, T, H, W) bool, instances/amodal_pixels, visible_fraction,
in_image_fraction (N, T) (full-resolution counts, as visibility), amodal_boxes and
amodal_boxes_unclipped (N, T, 4) pixel edges with amodal_box_valid and amodal_box_unclipped_valid;
the intrinsic images albedo, shading, glossy_color, residual (float32 (T, 3, H, W) linear RGB) and
part_index (uint8 (T, H, W) link ids, the extra "parts": crops cut it, `Resize` picks pixels),
mirror_or_transparent (bool (T, H, W)) (scenes rendered with --intrinsics; `Resize` picks pixels,
so that albedo * shading + residual stays the linear image), and the extra "deformations":
deformations/{deformed_vertices (N, T, V, 3), rest_vertices (N, V, 3), deformed_faces (N, F, 3),
num_vertices, num_faces (N,)}, the deformable instances' meshes (world data: transforms leave them).

`layers` picks the per-pixel layers to return (default: all). Transforms (`RandomCrop`,
`CenterCrop`, `Resize`) change every layer and label together: flow values, tracks, boxes and
intrinsics follow the image. Samples of scenes with different instance or track counts batch
with `collate`, which pads them and adds `instance_valid` / `track_valid` masks.

PyTorch is imported here only (the optional extra `torch`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

# Triton (which torch loads lazily, e.g. with its optimizers) crashes the process when it is
# imported after TensorFlow (which TFDS imports); imported first, both work.
if "tensorflow" not in sys.modules:
    with contextlib.suppress(ImportError):
        import triton  # noqa: F401
elif "triton" not in sys.modules:
    logging.getLogger(__name__).warning(
        "TensorFlow was imported before kubric_gen.datasets.torch: if torch later loads Triton (torch.compile, "
        "some optimizers) the process may crash; import kubric_gen.datasets.torch (or triton) first")

from kubric_gen.datasets.config import DatasetError
from kubric_gen.datasets.extras import DEFORMATION_ARRAYS
from kubric_gen.errors import KubricGenError
from kubric_gen.io.format import INTRINSIC_IMAGES, INTRINSIC_MASK, MAX_16BIT, SCENE_FLOW_ARRAYS
from kubric_gen.labels import Label, LabelSchema

SCENE_FLOW_LAYERS = SCENE_FLOW_ARRAYS  # (T, 3, H, W) metres: the extra "scene_flow"
INTRINSIC_LAYERS = INTRINSIC_IMAGES  # (T, 3, H, W) linear RGB: the extra "intrinsics", with INTRINSIC_MASK
# present where the scene or build has them
EXTRA_LAYERS = (*SCENE_FLOW_LAYERS, "occlusion_boundaries", "amodal_masks", *INTRINSIC_LAYERS, INTRINSIC_MASK,
                "part_index")
LAYERS = ("video", "segmentation", "depth", "forward_flow", "backward_flow", "forward_flow_occlusion",
          "backward_flow_occlusion", "normal", "object_coordinates", *EXTRA_LAYERS)
"""The per-frame layers a PyTorch example may hold (`layers=` picks among them; the extras only
where the example has them: `SceneDirDataset(extras=...)`, or a build made with `--extras`)."""
IMAGE_LAYERS = ("video", "depth", "forward_flow", "backward_flow", "normal", "object_coordinates")  # (T, C, H, W)
MASK_LAYERS = ("segmentation", "forward_flow_occlusion", "backward_flow_occlusion", "part_index")  # (T, H, W)
_INSTANCE_ARRAYS = ("positions", "quaternions", "velocities", "angular_velocities", "bboxes_3d", "visibility",
                    "mass", "friction", "restitution")
Sample = dict[str, Any]
Transform = Callable[[Sample], Sample]

__all__ = ["LAYERS", "CenterCrop", "Compose", "RandomCrop", "Resize", "SceneDirDataset", "TFDSDataset", "collate",
           "example_to_sample"]


def _check_layers(layers: Sequence[str] | None) -> tuple[str, ...]:
    layers = tuple(LAYERS if layers is None else layers)
    unknown = [n for n in layers if n not in LAYERS]
    if unknown:
        raise DatasetError(f"layers: {unknown[0]!r} is not one of {', '.join(LAYERS)}")
    return layers


def _frames(value: Any) -> np.ndarray:
    """A video-like feature as one array (data sources give a list of frames)."""
    return value if isinstance(value, np.ndarray) else np.stack(value)


def _dequantize(stored: np.ndarray, value_range: Any) -> np.ndarray:
    """Stored 16-bit values with their [min, max] (one range, or one per camera of a (C, ...) stack)."""
    r = np.asarray(value_range, dtype=np.float64)
    if r.ndim > 1:
        return np.stack([_dequantize(s, v) for s, v in zip(stored, r, strict=True)])
    lo, hi = (float(v) for v in r)
    return (stored.astype(np.float32) / MAX_16BIT * np.float32(hi - lo) + np.float32(lo)).astype(np.float32)


def _chw(a: np.ndarray) -> torch.Tensor:
    """(..., T, H, W, C) -> (..., T, C, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, -3)))


def _instances_by_key(instances: Any) -> dict[str, list]:
    """Instances as {key: [value per instance]} (read_example gives a list of dicts, data sources a dict of lists)."""
    if isinstance(instances, dict):
        return {k: list(v) for k, v in instances.items()}
    keys = instances[0].keys() if instances else ()
    return {k: [inst[k] for inst in instances] for k in keys}


def _label_tensor(label: Label, values: list) -> torch.Tensor | list[str]:
    if label.kind == "class":
        ids = [v if isinstance(v, (int, np.integer)) else label.names.index(v.decode() if isinstance(v, bytes) else v)
               for v in values]
        return torch.tensor(ids, dtype=torch.int64)
    if label.kind in ("float", "float3"):
        shape = (len(values),) + ((3,) if label.kind == "float3" else ())
        return torch.from_numpy(np.asarray(values, dtype=np.float32).reshape(shape))
    if label.kind == "bool":
        return torch.tensor([bool(v) for v in values], dtype=torch.bool)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def example_to_sample(example: dict, schema: LabelSchema, layers: Sequence[str] | None = None) -> Sample:
    """A MOVi example (numpy, as `read_example` or `tfds.data_source` give it) -> a sample of tensors."""
    layers = _check_layers(layers)
    meta = example["metadata"]
    t_len, height, width = int(meta["num_frames"]), int(meta["height"]), int(meta["width"])
    cameras = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("camera_names", [])]
    lead = (len(cameras),) if cameras else ()  # the camera axis of a scene with several cameras
    sample: Sample = {}
    if "video" in layers:
        sample["video"] = _chw(_frames(example["video"]).astype(np.float32) / np.float32(255))
    if "segmentation" in layers:
        sample["segmentation"] = torch.from_numpy(_frames(example["segmentations"])[..., 0].astype(np.int64))
    if "depth" in layers:
        sample["depth"] = _chw(_dequantize(_frames(example["depth"]), meta["depth_range"]))
    for name in ("forward_flow", "backward_flow"):
        if name in layers:
            sample[name] = _chw(_dequantize(_frames(example[name]), meta[f"{name}_range"]))
    for name in ("forward_flow_occlusion", "backward_flow_occlusion"):
        if name in layers:
            sample[name] = torch.from_numpy(_frames(example[name])[..., 0] > 0)
    if "normal" in layers:
        sample["normal"] = _chw(_frames(example["normal"]).astype(np.float32) / np.float32(MAX_16BIT) * 2 - 1)
    if "object_coordinates" in layers:
        sample["object_coordinates"] = _chw(_frames(example["object_coordinates"]).astype(np.float32)
                                            / np.float32(MAX_16BIT))
    for name in SCENE_FLOW_LAYERS:
        if name in layers and name in example:
            sample[name] = _chw(np.asarray(example[name], dtype=np.float32))
    if "occlusion_boundaries" in layers and "occlusion_boundaries" in example:
        sample["occlusion_boundaries"] = torch.from_numpy(_frames(example["occlusion_boundaries"])[..., 0]
                                                          .astype(np.uint8))
    for name in INTRINSIC_LAYERS:
        if name in layers and name in example:
            sample[name] = _chw(np.asarray(example[name], dtype=np.float32))
    if INTRINSIC_MASK in layers and INTRINSIC_MASK in example:
        sample[INTRINSIC_MASK] = torch.from_numpy(np.asarray(example[INTRINSIC_MASK], dtype=bool))
    if "part_index" in layers and "part_index" in example:
        sample["part_index"] = torch.from_numpy(_frames(example["part_index"])[..., 0].astype(np.uint8))
    if "deformed_vertices" in example:
        sample["deformations"] = {name: torch.from_numpy(np.asarray(example[name])) for name in DEFORMATION_ARRAYS}

    by_key = _instances_by_key(example["instances"])
    n = int(meta["num_instances"])
    instances: dict[str, Any] = {}
    for key in _INSTANCE_ARRAYS:
        values = by_key.get(key, [])
        dtype = np.int64 if key == "visibility" else np.float32
        shape = {"positions": (t_len, 3), "quaternions": (t_len, 4), "velocities": (t_len, 3),
                 "angular_velocities": (t_len, 3), "bboxes_3d": (t_len, 8, 3),
                 "visibility": (*lead, t_len)}.get(key, ())
        instances[key] = torch.from_numpy(np.asarray(values, dtype=dtype).reshape((n,) + shape))
    for label in schema.instance:
        if label.feature in by_key:
            instances[label.feature] = _label_tensor(label, by_key[label.feature])
    sample["instances"] = instances

    scale = np.array([height, width, height, width], np.float32)
    if cameras:  # dense (C, T, 4) normalised boxes per instance, zero where the camera does not see it
        boxes = np.asarray(by_key["bboxes"], dtype=np.float32).reshape((n, *lead, t_len, 4)) * scale
        valid = instances["visibility"].numpy() > 0
    else:
        boxes = np.zeros((n, t_len, 4), np.float32)
        valid = np.zeros((n, t_len), bool)
        for k in range(n):
            frames = np.asarray(by_key["bbox_frames"][k], dtype=np.int64).reshape(-1)
            boxes[k, frames] = np.asarray(by_key["bboxes"][k], dtype=np.float32).reshape(-1, 4) * scale
            valid[k, frames] = True
    sample["boxes"], sample["box_valid"] = torch.from_numpy(boxes), torch.from_numpy(valid)
    if "amodal_pixels" in by_key:
        _amodal_sample(sample, by_key, n, lead, (t_len, height, width), scale, "amodal_masks" in layers)

    sample["tracks"] = _track_tensors(example["tracks"])
    cam = example["camera"]
    sample["camera"] = {
        "intrinsics": torch.from_numpy(np.asarray(cam["intrinsics"], np.float32)),
        "positions": torch.from_numpy(np.asarray(cam["positions"], np.float32)),
        "quaternions": torch.from_numpy(np.asarray(cam["quaternions"], np.float32)),
        **{k: (torch.from_numpy(np.asarray(cam[k], np.float32).reshape(lead)) if cameras
               else torch.tensor(float(cam[k]))) for k in ("focal_length", "sensor_width", "field_of_view")},
    }
    name = meta["video_name"]
    sample["video_name"] = name.decode() if isinstance(name, bytes) else str(name)
    if cameras:
        sample["cameras"] = cameras
        tracks = example["multiview_tracks"]
        sample["multiview_tracks"] = {
            **_track_tensors(tracks),
            "query_camera": torch.from_numpy(np.asarray(tracks["query_camera"], np.int64).reshape(-1)),
            "query_world": torch.from_numpy(np.asarray(tracks["query_world"], np.float32).reshape(-1, 3)),
        }
    return sample


def _amodal_sample(sample: Sample, by_key: dict, n: int, lead: tuple, size: tuple[int, int, int],
                   scale: np.ndarray, masks: bool) -> None:
    """The amodal extra: instances/amodal_masks (N, [C,] T, H, W) bool (with `masks`), amodal_pixels,
    visible_fraction, in_image_fraction (N, [C,] T), and amodal_boxes / amodal_boxes_unclipped
    (N, [C,] T, 4) pixel edges with their validity masks, as `boxes`."""
    t_len, height, width = size
    instances = sample["instances"]
    if masks:
        instances["amodal_masks"] = torch.from_numpy(np.asarray(by_key["amodal_masks"], dtype=bool)
                                                     .reshape((n, *lead, t_len, height, width)))
    pixels = np.asarray(by_key["amodal_pixels"], np.int64).reshape((n, *lead, t_len))
    instances["amodal_pixels"] = torch.from_numpy(pixels)
    for key in ("visible_fraction", "in_image_fraction"):
        instances[key] = torch.from_numpy(np.asarray(by_key[key], np.float32).reshape((n, *lead, t_len)))
    for key, frames_key, out in (("amodal_bboxes", "amodal_bbox_frames", "amodal_boxes"),
                                 ("amodal_bboxes_unclipped", "amodal_bbox_unclipped_frames", "amodal_boxes_unclipped")):
        if lead:  # dense already, zeros where there is none
            boxes = np.asarray(by_key[key], np.float32).reshape((n, *lead, t_len, 4))
            valid = boxes.any(axis=-1)
        else:
            boxes, valid = np.zeros((n, t_len, 4), np.float32), np.zeros((n, t_len), bool)
            for k in range(n):
                frames = np.asarray(by_key[frames_key][k], dtype=np.int64).reshape(-1)
                boxes[k, frames] = np.asarray(by_key[key][k], dtype=np.float32).reshape(-1, 4)
                valid[k, frames] = True
        sample[out] = torch.from_numpy(boxes * scale)
        sample[out.replace("boxes", "box") + "_valid"] = torch.from_numpy(valid)


def _track_tensors(tracks: dict) -> dict[str, torch.Tensor]:
    return {"query_points": torch.from_numpy(np.asarray(tracks["query_points"], np.float32)),
            "target_points": torch.from_numpy(np.asarray(tracks["target_points"], np.float32)),
            "occluded": torch.from_numpy(np.asarray(tracks["occluded"], bool))}


class SceneDirDataset(Dataset):
    """The scene directories under `root` (local or any fsspec URL), one sample each, sorted by name.

    Only complete directories are listed (their `_COMPLETE` marker); the content checks of
    `kubric-gen validate` are skipped unless `check=True` (validate a dataset once, not every epoch).
    `extras` adds optional layers as `build-dataset --extras` does (amodal, scene_flow,
    occlusion_boundaries).
    All scenes must have the same cameras (DatasetError naming the first that differs).
    """

    def __init__(self, root: str | os.PathLike, layers: Sequence[str] | None = None,
                 transform: Transform | None = None, check: bool = False,
                 extras: Sequence[str] | str | None = None) -> None:
        from kubric_gen.datasets.extras import check_extras
        from kubric_gen.datasets.scenes import check_same_cameras, find_scenes

        self.layers, self.transform, self.check = _check_layers(layers), transform, check
        self.extras = check_extras(extras, 1)
        scenes, _ = find_scenes(os.fspath(root))
        if not scenes:
            raise DatasetError(f"root: no complete scene directory in {os.fspath(root)}")
        scenes = sorted(scenes, key=lambda s: s.name)
        check_same_cameras(scenes)  # samples of one dataset stack: one camera axis
        self.paths = [s.path for s in sorted(scenes, key=lambda s: s.name)]
        self.schemas = {s.path: s.label_schema for s in scenes}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Sample:
        from kubric_gen.datasets.scenes import read_example

        path = self.paths[index]
        try:  # in a DataLoader worker the error reaches the training loop: it names the scene to look at
            _, example = read_example(path, check=self.check, extras=self.extras)
            sample = example_to_sample(example, self.schemas[path], self.layers)
        except (KubricGenError, KeyError, TypeError, ValueError, IndexError, OSError) as e:
            raise DatasetError(f"scene directory {path}: {e} (see `kubric-gen validate {path}`)") from None
        return self.transform(sample) if self.transform else sample


_READER_PIDS: set[int] = set()  # processes that opened an ArrayRecord reader


def _check_fork_safe() -> None:
    """A process forked from one that has read ArrayRecord files (with PyTorch loaded) crashes when
    it opens a reader itself; say so instead of crashing."""
    if _READER_PIDS and os.getpid() not in _READER_PIDS:
        raise DatasetError("TFDSDataset: this DataLoader worker was forked from a process that had already read "
                           "ArrayRecord files, which crashes ArrayRecord; pass multiprocessing_context='spawn' to "
                           "the DataLoader (or read nothing before starting it)")


class TFDSDataset(Dataset):
    """A split of a dataset prepared with `--file-format array_record`, read with random access
    (`tfds.data_source`, no tf.data). Each worker process opens its own reader."""

    def __init__(self, name: str, data_dir: str | os.PathLike, split: str = "train", config: str | None = None,
                 layers: Sequence[str] | None = None, transform: Transform | None = None) -> None:
        import tensorflow_datasets as tfds

        from kubric_gen.datasets.loading import dataset_dir

        self.layers, self.transform, self.split = _check_layers(layers), transform, split
        self.path = dataset_dir(name, data_dir, config)
        builder = tfds.builder_from_directory(self.path)
        file_format = str(getattr(builder.info.file_format, "value", builder.info.file_format))
        if file_format != "array_record":
            raise DatasetError(f"{self.path} is stored as {file_format}: rebuild it with "
                               "`kubric-gen build-dataset ... --file-format array_record` for random access")
        if split not in builder.info.splits:
            raise DatasetError(f"split: {split!r} is not one of {', '.join(builder.info.splits)}")
        self.schema = LabelSchema.from_dict(builder.info.metadata["kubric_gen"]["label_schema"])
        self._length = int(builder.info.splits[split].num_examples)
        self._source: Any = None
        self._features: Any = None
        self._pid = -1

    def __len__(self) -> int:
        return self._length

    def _reader(self) -> Any:  # array_record's ArrayRecordDataSource (untyped)
        """The split's records, opened once per process (readers are not shared with DataLoader workers)."""
        if self._source is None or self._pid != os.getpid():
            import tensorflow_datasets as tfds
            from array_record.python.array_record_data_source import ArrayRecordDataSource

            builder = tfds.builder_from_directory(self.path)
            info = builder.info.splits[self.split]
            # "file[0:n]" with the shard lengths TFDS recorded: no reader is opened just to count
            files = [f"{os.fspath(p)}[0:{n}]" for p, n in zip(info.filepaths, info.shard_lengths, strict=True)]
            _check_fork_safe()
            self._source = ArrayRecordDataSource(files, reader_options={"max_parallelism": "0"})
            _READER_PIDS.add(os.getpid())
            self._features = builder.info.features
            self._pid = os.getpid()
        return self._source

    def __getstate__(self) -> dict:  # spawned workers open their own reader
        return {**self.__dict__, "_source": None, "_features": None, "_pid": -1}

    def __getitem__(self, index: int) -> Sample:
        if not -self._length <= index < self._length:
            raise IndexError(f"index {index} out of range for {self._length} examples")
        record = self._reader()[index % self._length]
        sample = example_to_sample(self._features.deserialize_example_np(record), self.schema, self.layers)
        return self.transform(sample) if self.transform else sample


# ---- transforms: every layer and label moves with the image ----

def _size(size: int | Sequence[int]) -> tuple[int, int]:
    """(height, width) from an int or (height, width)."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size}")
    return int(h), int(w)


def _image_size(sample: Sample) -> tuple[int, int]:
    for name in (*IMAGE_LAYERS, *MASK_LAYERS):
        if name in sample:
            return tuple(sample[name].shape[-2:])
    raise ValueError("the sample has no image layer to take its size from")


def _keep_behind(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Track positions behind the camera stay (-1, -1), as stored."""
    return torch.where((before == -1).all(dim=-1, keepdim=True), before, after)


def _crop(sample: Sample, top: int, left: int, height: int, width: int) -> Sample:
    out = dict(sample)
    for name in (*IMAGE_LAYERS, *MASK_LAYERS):
        if name in out:
            out[name] = out[name][..., top:top + height, left:left + width]
    offset = torch.tensor([top, left, top, left], dtype=torch.float32)
    limit = torch.tensor([height, width, height, width], dtype=torch.float32)
    boxes = torch.minimum(torch.clamp(sample["boxes"] - offset, min=0), limit)
    out["boxes"] = boxes
    out["box_valid"] = sample["box_valid"] & (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
    for name in (*SCENE_FLOW_LAYERS, "occlusion_boundaries", *INTRINSIC_LAYERS, INTRINSIC_MASK):
        if name in out:
            out[name] = out[name][..., top:top + height, left:left + width]
    if "amodal_boxes" in sample:
        instances = dict(sample["instances"])
        if "amodal_masks" in instances:
            instances["amodal_masks"] = instances["amodal_masks"][..., top:top + height, left:left + width]
        out["instances"] = instances
        clipped = torch.minimum(torch.clamp(sample["amodal_boxes"] - offset, min=0), limit)
        out["amodal_boxes"] = clipped
        out["amodal_box_valid"] = sample["amodal_box_valid"] & (clipped[..., 2] > clipped[..., 0]) & \
            (clipped[..., 3] > clipped[..., 1])
        out["amodal_boxes_unclipped"] = sample["amodal_boxes_unclipped"] - offset
    for key in ("tracks", "multiview_tracks"):
        if key in sample:
            out[key] = _crop_tracks(sample[key], top, left, height, width)
    camera = dict(sample["camera"])
    k = camera["intrinsics"].clone()  # (3, 3), or (C, 3, 3)
    k[..., 0, 2] -= left
    k[..., 1, 2] -= top
    camera["intrinsics"] = k
    out["camera"] = camera
    return out


def _crop_tracks(tracks: dict, top: int, left: int, height: int, width: int) -> dict:
    tracks = dict(tracks)
    tracks["query_points"] = tracks["query_points"] - torch.tensor([0.0, top, left])
    xy = _keep_behind(tracks["target_points"], tracks["target_points"] - torch.tensor([float(left), float(top)]))
    tracks["target_points"] = xy
    outside = (xy[..., 0] < 0) | (xy[..., 0] >= width) | (xy[..., 1] < 0) | (xy[..., 1] >= height)
    tracks["occluded"] = tracks["occluded"] | outside  # out of view counts as occluded (TAP-Vid's rule)
    return tracks


class _Crop:
    """A (height, width) window, the same for every frame and layer; subclasses choose where."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size(size)

    def _corner(self, spare_rows: int, spare_cols: int) -> tuple[int, int]:
        raise NotImplementedError

    def __call__(self, sample: Sample) -> Sample:
        (h, w), (ch, cw) = _image_size(sample), self.size
        if ch > h or cw > w:
            raise ValueError(f"crop {ch}x{cw} is larger than the image {h}x{w}")
        top, left = self._corner(h - ch, w - cw)
        return _crop(sample, top, left, ch, cw)


class RandomCrop(_Crop):
    """A random window (torch's RNG: seed it with `torch.manual_seed`; DataLoader seeds each worker)."""

    def _corner(self, spare_rows: int, spare_cols: int) -> tuple[int, int]:
        return int(torch.randint(0, spare_rows + 1, ()).item()), int(torch.randint(0, spare_cols + 1, ()).item())


class CenterCrop(_Crop):
    """The central window."""

    def _corner(self, spare_rows: int, spare_cols: int) -> tuple[int, int]:
        return spare_rows // 2, spare_cols // 2


class Resize:
    """Resize to (height, width): the video with antialiased bilinear filtering, every other layer by
    nearest pixel (labels are not blended across edges); flow values, tracks, boxes and intrinsics
    are scaled by the same factors (rows by height'/height, columns by width'/width)."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size(size)

    def __call__(self, sample: Sample) -> Sample:
        (h, w), (nh, nw) = _image_size(sample), self.size
        if (h, w) == (nh, nw):
            return sample
        sy, sx = nh / h, nw / w
        out = dict(sample)
        for name in IMAGE_LAYERS:
            if name in out:
                a = out[name]  # (T, ch, H, W), or (C, T, ch, H, W): interpolate takes 4 dimensions
                flat = a.reshape(-1, *a.shape[-3:])
                if name == "video":
                    flat = F.interpolate(flat, size=(nh, nw), mode="bilinear", antialias=True,
                                         align_corners=False).clamp(0, 1)
                else:
                    flat = F.interpolate(flat, size=(nh, nw), mode="nearest-exact")
                out[name] = flat.reshape(*a.shape[:-2], nh, nw)
                if name.endswith("_flow"):
                    out[name] = out[name] * torch.tensor([sy, sx], dtype=torch.float32).view(2, 1, 1)
        for name in MASK_LAYERS:
            if name in out:
                a = out[name]  # (T, H, W), or (C, T, H, W)
                flat = F.interpolate(a.reshape(-1, 1, *a.shape[-2:]).to(torch.float32), size=(nh, nw),
                                     mode="nearest-exact")
                out[name] = flat.reshape(*a.shape[:-2], nh, nw).to(a.dtype)
        if "occlusion_boundaries" in out:
            raise ValueError("Resize: occlusion_boundaries mark the edges between neighbouring pixels, which "
                             "resizing does not keep; leave the layer out (layers=) or crop instead")
        for name in (*SCENE_FLOW_LAYERS, *INTRINSIC_LAYERS):  # the values stay, the pixels are picked
            if name in out:
                a = out[name]
                flat = F.interpolate(a.reshape(-1, *a.shape[-3:]), size=(nh, nw), mode="nearest-exact")
                out[name] = flat.reshape(*a.shape[:-2], nh, nw)
        if INTRINSIC_MASK in out:
            a = out[INTRINSIC_MASK]
            flat = F.interpolate(a.reshape(-1, 1, *a.shape[-2:]).to(torch.float32), size=(nh, nw),
                                 mode="nearest-exact")
            out[INTRINSIC_MASK] = flat.reshape(*a.shape[:-2], nh, nw).to(a.dtype)
        box_scale = torch.tensor([sy, sx, sy, sx], dtype=torch.float32)
        if "amodal_boxes" in sample:
            instances = dict(sample["instances"])
            if "amodal_masks" in instances:
                a = instances["amodal_masks"]
                flat = F.interpolate(a.reshape(-1, 1, *a.shape[-2:]).to(torch.float32), size=(nh, nw),
                                     mode="nearest-exact")
                instances["amodal_masks"] = flat.reshape(*a.shape[:-2], nh, nw).to(a.dtype)
            out["instances"] = instances
            out["amodal_boxes"] = sample["amodal_boxes"] * box_scale
            out["amodal_boxes_unclipped"] = sample["amodal_boxes_unclipped"] * box_scale
        out["boxes"] = sample["boxes"] * box_scale
        for key in ("tracks", "multiview_tracks"):
            if key in sample:
                tracks = dict(sample[key])
                tracks["query_points"] = tracks["query_points"] * torch.tensor([1.0, sy, sx])
                tracks["target_points"] = _keep_behind(tracks["target_points"],
                                                       tracks["target_points"] * torch.tensor([sx, sy]))
                out[key] = tracks
        camera = dict(sample["camera"])
        camera["intrinsics"] = torch.diag(torch.tensor([sx, sy, 1.0])) @ camera["intrinsics"]
        out["camera"] = camera
        return out


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample) -> Sample:
        for t in self.transforms:
            sample = t(sample)
        return sample


# ---- batching ----

def _pad(tensors: list, length: int, dim: int = 0) -> torch.Tensor:
    """Stack tensors zero-padded to `length` along dimension `dim` (of each tensor)."""
    shape = list(tensors[0].shape)
    shape[dim] = length
    out = tensors[0].new_zeros((len(tensors), *shape))
    for i, t in enumerate(tensors):
        out[i].narrow(dim, 0, t.shape[dim]).copy_(t)
    return out


def _pad_all(tensors: list) -> torch.Tensor:
    """Stack tensors zero-padded to the largest size in every dimension."""
    shape = [max(t.shape[d] for t in tensors) for d in range(tensors[0].dim())]
    out = tensors[0].new_zeros((len(tensors), *shape))
    for i, t in enumerate(tensors):
        out[i][tuple(slice(0, n) for n in t.shape)] = t
    return out


# the track dimension of each multiview_tracks tensor
_MULTIVIEW_TRACK_DIMS = {"query_points": 0, "query_camera": 0, "query_world": 0, "target_points": 1, "occluded": 1}


def _pad_tracks(batch: list[Sample], key: str, dims: dict[str, int]) -> tuple[dict, torch.Tensor]:
    """The batch's `key` tracks padded to its largest count along each tensor's track dimension
    `dims[name]`, and the (B, P) mask of real tracks."""
    counts = [s[key]["query_points"].shape[dims["query_points"]] for s in batch]
    p = max(counts)
    tracks = {k: _pad([s[key][k] for s in batch], p, dims[k]) for k in batch[0][key]}
    return tracks, _pad([torch.ones(c, dtype=torch.bool) for c in counts], p)


def collate(batch: list[Sample]) -> Sample:
    """Stack samples; per-instance and per-track tensors are zero-padded to the batch's largest
    count, with `instance_valid` (B, N) and `track_valid` (B, P) masks (and
    `multiview_track_valid` for the cross-view tracks of scenes with several cameras, whose
    `cameras` come as one list of names per sample)."""
    from torch.utils.data import default_collate

    n = max(s["boxes"].shape[0] for s in batch)
    per_instance = ("boxes", "box_valid", "amodal_boxes", "amodal_box_valid", "amodal_boxes_unclipped",
                    "amodal_box_unclipped_valid")
    padded = ("instances", *per_instance, "tracks", "multiview_tracks", "cameras", "deformations")
    out = default_collate([{k: v for k, v in s.items() if k not in padded} for s in batch])
    for key in per_instance:
        if key in batch[0]:
            out[key] = _pad([s[key] for s in batch], n)
    out["instance_valid"] = _pad([torch.ones(s["boxes"].shape[0], dtype=torch.bool) for s in batch], n)
    out["instances"] = {}
    for key in batch[0]["instances"]:
        values = [s["instances"][key] for s in batch]
        out["instances"][key] = _pad(values, n) if isinstance(values[0], torch.Tensor) else values
    if "deformations" in batch[0]:  # instances, vertices and faces: padded to the batch's most
        out["deformations"] = {key: _pad_all([s["deformations"][key] for s in batch])
                               for key in batch[0]["deformations"]}
    multiview = "cameras" in batch[0]
    dims = {k: 1 if multiview else 0 for k in batch[0]["tracks"]}  # per-camera tracks are (C, P, ...)
    out["tracks"], out["track_valid"] = _pad_tracks(batch, "tracks", dims)
    if multiview:
        out["cameras"] = [s["cameras"] for s in batch]
        out["multiview_tracks"], out["multiview_track_valid"] = _pad_tracks(batch, "multiview_tracks",
                                                                            _MULTIVIEW_TRACK_DIMS)
    return out
