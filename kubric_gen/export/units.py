"""What an export works on: units (a scene directory, or one camera's view of a scene with
several cameras), named so that every file a format writes for them is unique."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kubric_gen.io import SceneDir


@dataclass(frozen=True)
class Unit:
    """One scene directory (`camera` None) or one view of a scene with several cameras."""

    name: str  # the scene's folder name, or "<scene>_<camera>" for a view
    path: str  # the scene directory
    camera: str | None = None
    index: int = 0  # its place among the export's units in name order (formats that number scenes)

    @property
    def scene(self) -> SceneDir:
        """The scene directory of this unit (the view's, for a camera of a rig)."""
        sd = SceneDir(self.path)
        return sd.view(self.camera) if self.camera is not None else sd


def units_of(path: str, per_view: bool) -> list[Unit]:
    """The units of one scene directory: the scene, or with `per_view` each camera's view of a
    scene with several cameras."""
    sd = SceneDir(path)
    name = Path(os.fspath(path).rstrip("/")).name
    if per_view and sd.is_multiview:
        return [Unit(f"{name}_{camera}", path, camera) for camera in sd.camera_names]
    return [Unit(name, path)]


def mask_box(mask: np.ndarray) -> list[int] | None:
    """[x, y, width, height] of an (H, W) mask in pixel edges (COCO's and BOP's boxes); None when empty."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    return [int(cols.min()), int(rows.min()), int(cols.max() + 1 - cols.min()), int(rows.max() + 1 - rows.min())]


def frame_png(scene, t: int) -> tuple[str, bytes]:
    """(file name, PNG bytes) of frame t's RGBA image: a scene directory's own file, or for an
    example of a prepared dataset (`export.examples`) its frame encoded."""
    if isinstance(scene, SceneDir):
        name = scene.frame_files["rgba"][t]
        return name, scene.read_bytes(name)
    return f"rgba_{t:05d}.png", scene.frame_png(t)


def write_bytes(path: Path, data: bytes) -> None:
    """Write a file, making its folder first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
