"""Packaging scene directories as TensorFlow Datasets with Kubric MOVi's features.

    from kubric_gen.datasets import build_dataset
    result = build_dataset("out/movi_a", name="my_movi_a", data_dir="tfds")
    ds = tfds.load("my_movi_a", data_dir="tfds", split="train")

Importing this package imports neither TensorFlow nor TFDS nor Apache Beam: `build_dataset`,
the builder and the loading helpers import them when used. See docs/datasets.md.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# TensorFlow's C++ start-up notes (oneDNN, CPU features) on stderr drown our one-line
# messages; keep its warnings and errors. Set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from kubric_gen.datasets.build import BuildResult, build_dataset
from kubric_gen.datasets.config import DatasetError, Resolution

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
