"""The export formats: one `Format` per name, the one list of them (`FORMATS`). Light to import
(the command line lists them): each format's module is imported when it is used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kubric_gen.errors import ConfigError

if TYPE_CHECKING:
    from kubric_gen.export.units import Unit


@dataclass(frozen=True)
class Format:
    """How one format is written, by its module `kubric_gen.export.<module>`: its
    `write_unit(unit, staging, options) -> part` writes a unit's files under `staging` (the
    layout they take in the output) and returns what its `finish(output, [(unit name, part)...],
    options) -> files` (if it has one) needs to write the files over all units.
    `per_view`: a scene with several cameras is one unit per camera (else one unit)."""

    name: str
    summary: str
    module: str
    per_view: bool = True
    options: tuple[str, ...] = ()

    @property
    def write_unit(self) -> Callable[[Unit, Path, dict], dict]:
        return importlib.import_module(f"kubric_gen.export.{self.module}").write_unit

    @property
    def check(self) -> Callable[[list[Unit], dict], None] | None:
        """The format's check of all units before any is written (ConfigError), if it has one."""
        return getattr(importlib.import_module(f"kubric_gen.export.{self.module}"), "check", None)

    @property
    def finish(self) -> Callable[[Path, list[tuple[str, dict]], dict], list[str]] | None:
        return getattr(importlib.import_module(f"kubric_gen.export.{self.module}"), "finish", None)

    def check_options(self, options: dict) -> dict:
        """The options with None values dropped; ConfigError for one this format does not take."""
        options = {k: v for k, v in options.items() if v is not None}
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            takes = f"it takes {', '.join('--' + o.replace('_', '-') for o in self.options)}" if self.options \
                else "it takes none"
            raise ConfigError(f"--{unknown[0].replace('_', '-')}: not an option of the {self.name} export ({takes})")
        return options


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("bop", "the BOP challenge's layout: per-image model-to-camera poses, masks, depth and models in mm",
           "bop"),
    Format("coco", "COCO instance segmentation per frame (pycocotools RLE, visible and amodal masks) and the "
                   "YouTube-VIS video variant", "coco", options=("category",)),
    Format("flow", "optical flow: Sintel's layout with .flo files, KITTI's 16-bit flow PNGs with validity", "flow"),
    Format("stereo", "disparity of a rectified camera pair as PFM, SceneFlow's layout, with occlusion masks",
           "stereo", per_view=False),
    Format("tapvid", "point tracks as TAP-Vid's evaluation pickles", "tapvid"),
    Format("nerf", "transforms.json for nerfstudio and instant-ngp (OpenGL camera axes), every camera of a "
                   "scene", "nerf", per_view=False),
)}
"""Every export format by name (`kubric-gen export FORMAT`)."""
