"""Reading a prepared dataset back, and decoding its quantised layers.

A prepared dataset describes its own features (features.json, dataset_info.json), so it
needs no builder code to load: ``tfds.load(NAME, data_dir=DATA_DIR)`` finds no registered
builder class named NAME and falls back to the files (TFDS's read-only builder), and
``tfds.builder_from_directory(DATA_DIR/NAME/CONFIG/VERSION)`` reads one config directly.
These helpers only add the path look-up and the MOVi decoding formulas, and
`view_examples`, which splits an example of a multi-camera dataset (a leading camera axis on
every per-view feature) into one MOVi example per camera.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from kubric_gen.datasets.config import DatasetError
from kubric_gen.io.format import MAX_16BIT


def dataset_dir(name: str, data_dir: str | os.PathLike, config: str | None = None,
                version: str | None = None) -> str:
    """<data_dir>/<name>/<config>/<version> (default: the default config, the newest version)."""
    import json

    from etils import epath

    root = epath.Path(os.path.expanduser(os.fspath(data_dir))) / name
    if not root.is_dir():
        raise DatasetError(f"no dataset {name!r} in {data_dir}")
    if config is None:
        meta = root / ".config" / "metadata.json"
        config = json.loads(meta.read_text()).get("default_config_name") if meta.exists() else None
        if config is None:
            configs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            if not configs:
                raise DatasetError(f"dataset {name!r} in {data_dir} has no config")
            config = configs[0]
    config_dir = root / config
    if version is None:
        versions = [p.name for p in config_dir.iterdir() if p.is_dir() and (p / "dataset_info.json").exists()] \
            if config_dir.is_dir() else []
        if not versions:
            raise DatasetError(f"dataset {name}/{config} in {data_dir} has no prepared version")
        version = max(versions, key=lambda v: tuple(int(x) for x in v.split(".")))
    return os.fspath(config_dir / version)


def builder_from_directory(name: str, data_dir: str | os.PathLike, config: str | None = None,
                           version: str | None = None) -> Any:  # a tfds ReadOnlyBuilder (TFDS is untyped)
    """The read-only TFDS builder of a prepared dataset (no builder code needed)."""
    import tensorflow_datasets as tfds

    return tfds.builder_from_directory(dataset_dir(name, data_dir, config, version))


def load(name: str, data_dir: str | os.PathLike, split: str = "train", config: str | None = None,
         **kwargs: Any) -> Any:  # a tf.data.Dataset (TensorFlow is untyped here)
    """``tfds.load("NAME[/CONFIG]", data_dir=DATA_DIR, split=SPLIT, **kwargs)``: a tf.data.Dataset."""
    import tensorflow_datasets as tfds

    full = name if config is None else f"{name}/{config}"
    kwargs.setdefault("download", False)
    return tfds.load(full, data_dir=os.path.expanduser(os.fspath(data_dir)), split=split, **kwargs)


def _dequantize(values: Any, value_range: Any) -> Any:
    """``values / 65535 * (max - min) + min`` as float32, for one example or a batch (TensorFlow or numpy)."""
    if type(values).__module__.startswith("tensorflow"):
        import tensorflow as tf

        r = tf.cast(value_range, tf.float32)
        lo, hi = r[..., 0], r[..., 1]
        for _ in range(4):  # (T, H, W, C) per example
            lo, hi = lo[..., None], hi[..., None]
        return tf.cast(values, tf.float32) / float(MAX_16BIT) * (hi - lo) + lo
    import numpy as np

    from kubric_gen.io.layers import dequantize

    r = np.asarray(value_range, dtype=np.float64)
    return dequantize(values, r[..., 0].reshape(r.shape[:-1] + (1,) * 4), r[..., 1].reshape(r.shape[:-1] + (1,) * 4))


def decode_depth(example: dict) -> Any:
    """Depth (T, H, W, 1) float32 ((C, T, H, W, 1) for several cameras, each with its range): distance
    from the camera centre, from `depth` and `metadata/depth_range`."""
    return _dequantize(example["depth"], example["metadata"]["depth_range"])


def decode_flow(example: dict, direction: str = "forward") -> Any:
    """Flow (T, H, W, 2) float32 (d_row, d_col pixels; (C, T, H, W, 2) for several cameras) from
    `<direction>_flow` and its range."""
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward' (got {direction!r})")
    return _dequantize(example[f"{direction}_flow"], example["metadata"][f"{direction}_flow_range"])


def is_multiview(example: dict) -> bool:
    """Whether an example (numpy or TensorFlow) is of a dataset whose scenes have several cameras."""
    return "num_cameras" in example["metadata"]


def camera_names(example: dict) -> list[str]:
    """The camera names of a multi-camera example, in the order of its camera axis."""
    import numpy as np

    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(example["metadata"]["camera_names"])]


_PER_VIEW_INSTANCE_KEYS = ("image_positions", "visibility")


def view_examples(example: dict) -> dict[str, dict]:
    """{camera name: its one-camera MOVi example} of one multi-camera example (numpy, as
    `tfds.as_numpy`, `numpy_examples` or `scenes.read_example` give it): every per-view feature
    at that camera's index; instances with MOVi's ragged `bboxes` / `bbox_frames` (the frames
    where the camera sees the instance); no `multiview_tracks`. For code written for one camera
    (viewers, checks) to read each view."""
    import numpy as np

    if not is_multiview(example):
        raise DatasetError("view_examples: not an example of a multi-camera dataset (no metadata/num_cameras)")
    out = {}
    for c, name in enumerate(camera_names(example)):
        meta = {k: v for k, v in example["metadata"].items() if k not in ("num_cameras", "camera_names")}
        for key in ("depth_range", "forward_flow_range", "backward_flow_range"):
            meta[key] = np.asarray(example["metadata"][key])[c]
        view: dict[str, Any] = {}
        for key, value in example.items():
            if key in ("metadata", "multiview_tracks"):
                continue
            if key in _VIEW_LAYERS:
                view[key] = np.asarray(value)[c]
            elif key == "camera":
                view[key] = {k: np.asarray(v)[c] for k, v in value.items() if k != "name"}
            elif key == "tracks":
                view[key] = {k: np.asarray(v)[c] for k, v in value.items()}
            elif key == "instances":
                view[key] = _view_instances(value, c)
            elif key == "events":
                view[key] = {**value, "collisions": _view_collisions(value["collisions"], c)}
            else:
                view[key] = value
        view["metadata"] = meta
        out[name] = view
    return out


_VIEW_LAYERS = ("video", "segmentations", "forward_flow", "backward_flow", "depth", "normal", "object_coordinates",
                "forward_flow_occlusion", "backward_flow_occlusion")


def _view_instance(inst: dict, c: int) -> dict:
    import numpy as np

    out = {k: v for k, v in inst.items() if k not in ("bboxes", *_PER_VIEW_INSTANCE_KEYS)}
    for key in _PER_VIEW_INSTANCE_KEYS:
        out[key] = np.asarray(inst[key])[c]
    frames = np.nonzero(out["visibility"])[0].astype(np.int32)
    out["bbox_frames"] = frames
    out["bboxes"] = np.asarray(inst["bboxes"], dtype=np.float32)[c][frames]
    return out


def _view_instances(instances: Any, c: int) -> Any:
    """One camera's instances: a list of dicts (read_example) or a dict of per-instance arrays (TFDS)."""
    import numpy as np

    if isinstance(instances, list):
        return [_view_instance(inst, c) for inst in instances]
    out = {k: v for k, v in instances.items() if k not in ("bboxes", *_PER_VIEW_INSTANCE_KEYS)}
    for key in _PER_VIEW_INSTANCE_KEYS:
        a = np.asarray(instances[key])
        out[key] = a[:, c] if a.ndim > 1 else a  # (N, C, T, ...); no instance: data sources give (0,)
    boxes = np.asarray(instances["bboxes"], dtype=np.float32)
    out["bbox_frames"] = [np.nonzero(v)[0].astype(np.int32) for v in out["visibility"]]
    out["bboxes"] = [boxes[k, c][frames] for k, frames in enumerate(out["bbox_frames"])]
    return out


def _view_collisions(collisions: Any, c: int) -> Any:
    import numpy as np

    if isinstance(collisions, list):
        return [{**col, "image_position": np.asarray(col["image_position"])[c]} for col in collisions]
    return {**collisions, "image_position": np.asarray(collisions["image_position"])[:, c]}


def file_format(builder: Any) -> str:
    """"tfrecord" or "array_record": how a prepared dataset's records are stored."""
    value = builder.info.file_format
    return str(getattr(value, "value", value) or "tfrecord")


def _stacked(tree: Any) -> Any:
    """Lists of equal-shaped arrays (how data sources give sequences) as one array, like tfds.as_numpy."""
    import numpy as np

    if isinstance(tree, dict):
        return {k: _stacked(v) for k, v in tree.items()}
    if isinstance(tree, list):
        items = [_stacked(v) for v in tree]
        shapes = {np.shape(v) for v in items}
        if len(shapes) == 1 and not any(isinstance(v, (dict, list, bytes, str)) for v in items):
            return np.stack(items) if items else np.zeros((0,), np.float32)
        return items
    return tree


def numpy_examples(builder: Any, split: str, limit: int | None = None) -> Iterator[dict]:
    """The examples of a split as numpy, in stored order, whatever the file format: TFRecord
    through tf.data (`tfds.as_numpy`), ArrayRecord through `tfds.data_source` (which
    `as_dataset` cannot read)."""
    import tensorflow_datasets as tfds

    if file_format(builder) == "array_record":
        source = builder.as_data_source(split=split)
        for i in range(len(source) if limit is None else min(limit, len(source))):
            yield _stacked(source[i])
        return
    ds = builder.as_dataset(split=split, shuffle_files=False)
    yield from tfds.as_numpy(ds if limit is None else ds.take(limit))


def version_examples(version_dir: str | os.PathLike) -> tuple[dict, Iterator[tuple[str, dict]]]:
    """(the dataset's kubric_gen metadata: label_schema, world, ...; every example of every split
    as (split, numpy example), read lazily in stored order) of a prepared dataset version
    directory, either file format. DatasetError if TFDS cannot read its description."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder_from_directory(os.fspath(version_dir))
    except Exception as e:  # a broken dataset_info.json / features.json: any TFDS error
        raise DatasetError(f"TFDS cannot read {os.fspath(version_dir)} ({type(e).__name__}: {e})") from None
    info = dict((builder.info.metadata or {}).get("kubric_gen", {}))
    return info, ((split, ex) for split in builder.info.splits for ex in numpy_examples(builder, split))


def first_examples(version_dir: str | os.PathLike, per_split: int) -> tuple[Any, dict[str, list[dict]]]:
    """(read-only builder, {split: the first `per_split` examples as numpy}) of a prepared dataset
    version directory, either file format. Raises DatasetError if TFDS cannot read it (a broken
    dataset_info.json, a missing or truncated shard)."""
    import logging
    import re

    import tensorflow_datasets as tfds

    logging.getLogger("absl").setLevel(logging.ERROR)  # TFDS's deprecation notices are not the user's concern
    try:
        builder = tfds.builder_from_directory(os.fspath(version_dir))
    except Exception as e:  # a broken dataset_info.json / features.json: any TFDS error
        raise DatasetError(f"TFDS cannot read {os.fspath(version_dir)} ({type(e).__name__}: {e})") from None
    examples = {}
    for split in builder.info.splits:
        try:
            examples[split] = list(numpy_examples(builder, split, per_split))
        except Exception as e:  # a missing or truncated shard: TensorFlow's NotFoundError, DataLossError, ...
            first = re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:.*$", "",  # TensorFlow's op names
                           (str(e).strip().splitlines() or [""])[0])[:300]
            raise DatasetError(f"cannot read split {split!r} of {os.fspath(version_dir)} ({type(e).__name__}: "
                               f"{first}); `kubric-gen validate` checks every record") from None
    return builder, examples
