"""Packaging scene directories as TensorFlow Datasets with Kubric MOVi's features.

    from kubric_gen.datasets import build_dataset
    result = build_dataset("out/movi_a", name="my_movi_a", data_dir="tfds")
    ds = tfds.load("my_movi_a", data_dir="tfds", split="train")

Importing this package imports neither TensorFlow nor TFDS nor Apache Beam: `build_dataset`,
the builder and the loading helpers import them when used. See docs/datasets.md.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

# TensorFlow's C++ start-up notes and warnings (oneDNN, CPU features, TensorRT, absl's
# "before InitializeLog" line) on stderr drown our one-line messages; keep its errors. Set
# before TensorFlow is first imported (this package imports it), unless the user set it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kubric_gen.datasets.build import BuildResult, build_dataset
from kubric_gen.datasets.config import DatasetError, Resolution


class _TFDSDeprecations(logging.Filter):
    """TFDS's own code reads its deprecated `FeatureConnector.dtype` / `TensorInfo.dtype` and warns
    (through absl's Python logger) nine times a build: not the user's concern, nor ours to fix."""

    def filter(self, record: logging.LogRecord) -> bool:
        return ".dtype` is deprecated" not in str(record.msg)


if not any(isinstance(f, _TFDSDeprecations) for f in logging.getLogger("absl").filters):
    logging.getLogger("absl").addFilter(_TFDSDeprecations())


if TYPE_CHECKING:  # imported on first use (below), so that this package imports no TensorFlow
    from kubric_gen.datasets.loading import builder_from_directory, decode_depth, decode_flow, load

__all__ = ["BuildResult", "DatasetError", "Resolution", "build_dataset", "builder_from_directory", "decode_depth",
           "decode_flow", "load"]

_LAZY = {"load": "loading", "builder_from_directory": "loading", "decode_depth": "loading",
         "decode_flow": "loading"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"kubric_gen.datasets.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'kubric_gen.datasets' has no attribute {name!r}")
