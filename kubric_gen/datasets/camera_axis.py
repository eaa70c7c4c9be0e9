"""`CameraAxis`: a TFDS feature holding one per-view video feature for each of C cameras.

Datasets of scenes with several cameras stack each view's MOVi feature along a leading
camera axis: `video` decodes to (C, T, H, W, 3), `segmentations` to (C, T, H, W, 1), ...
TFDS 4.9 cannot parse a fixed-length `Sequence` of a `Video` or of a `Sequence` of
`Image`s (its serializer writes them ragged, its parser reads them dense), so this feature
stores the C views' encoded frames as one list of C*T strings — the very PNGs a one-camera
dataset stores for each view — and decodes them to (C, T, ...).

`features.json` names this class (``kubric_gen.datasets.camera_axis.CameraAxis``), so
reading a multi-camera dataset needs kubric_gen importable (TFDS imports this module by
that name); one-camera datasets use TFDS's own features only. This module imports
TensorFlow Datasets, and is imported only when a multi-camera dataset is built or read.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.features import feature as feature_lib


class CameraAxis(tfds.features.FeatureConnector):
    """`length` views of `feature` (a `Video` or a fixed-length `Sequence` of `Image`s):
    encoded as length x T frames, decoded to (length, T, ...)."""

    def __init__(self, feature: Any, length: int, doc: Any = None) -> None:
        super().__init__(doc=doc)
        info = feature.get_serialized_info()
        if not isinstance(info, feature_lib.TensorInfo) or not info.shape or info.shape[0] is None:
            raise ValueError(f"CameraAxis: feature must store a fixed number of frames (got {feature!r})")
        if int(length) < 1:
            raise ValueError(f"CameraAxis: length must be at least 1 (got {length!r})")
        self._feature = feature
        self._length = int(length)
        self._frames = int(info.shape[0])

    @property
    def feature(self) -> Any:
        """The per-view feature."""
        return self._feature

    @property
    def length(self) -> int:
        """The number of cameras C."""
        return self._length

    def get_tensor_info(self) -> feature_lib.TensorInfo:
        info = feature_lib.TensorInfo.copy_from(self._feature.get_tensor_info())
        info.shape = (self._length, *info.shape)
        info.sequence_rank = 0  # dense: one (C, T, ...) tensor per example
        return info

    def get_serialized_info(self) -> feature_lib.TensorInfo:
        info = feature_lib.TensorInfo.copy_from(self._feature.get_serialized_info())
        info.shape = (self._length * self._frames, *info.shape[1:])
        info.sequence_rank = 0  # one fixed-length list, decoded whole (not frame by frame)
        return info

    def encode_example(self, example_data: Any) -> np.ndarray:
        views = list(example_data)
        if len(views) != self._length:
            raise ValueError(f"CameraAxis: {len(views)} views, the feature has {self._length} cameras")
        return np.concatenate([np.asarray(self._feature.encode_example(v), dtype=object).reshape(-1) for v in views])

    def decode_example(self, tfexample_data: Any) -> Any:
        import tensorflow as tf

        frames = tf.reshape(tfexample_data, (self._length, self._frames))
        return tf.stack([self._feature.decode_example(frames[c]) for c in range(self._length)])

    def decode_example_np(self, example_data: Any) -> np.ndarray:
        frames = np.asarray(example_data, dtype=object).reshape(self._length, self._frames)
        return np.stack([np.asarray(self._feature.decode_example_np(frames[c])) for c in range(self._length)])

    @classmethod
    def from_json_content(cls, value: Any, doc: Any = None) -> CameraAxis:
        return cls(feature_lib.FeatureConnector.from_json(value["feature"]), value["length"], doc=doc)

    def to_json_content(self) -> dict:
        return {"feature": self._feature.to_json(), "length": self._length}
