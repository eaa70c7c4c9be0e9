"""Contact sheets: one PNG that shows what a scene holds at a glance.

Rows RGB / segmentation (over RGB) / depth / forward flow, columns a few evenly spaced
frames, with small labels; for a scene with several cameras, one RGB row per camera.
Built from arrays (the scene writer has them in memory; the viewer reads them with
`kubric_gen.io.SceneDir`), so this module reads no files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kubric_gen.visual import colors

LABEL_WIDTH = 84  # the row names' column, pixels
HEADER_HEIGHT = 16  # the frame numbers' row
GAP = 2
MIN_CELL = 96  # tiny frames are enlarged (nearest neighbour, integer factor) to at least this
BACKGROUND = (24, 24, 24)
ROWS = ("rgb", "segmentation", "depth", "forward_flow")
ROW_TITLES = {"rgb": "RGB", "segmentation": "segmentation", "depth": "depth", "forward_flow": "forward flow"}


@dataclass(frozen=True)
class SheetLayout:
    """Where each cell of a contact sheet is: cell (row, col) spans
    ``[x, x + cell_width) x [y, y + cell_height)`` with ``x, y = origin(row, col)``."""

    rows: tuple[str, ...]
    frames: tuple[int, ...]
    scale: int
    cell_width: int
    cell_height: int

    def origin(self, row: int, col: int) -> tuple[int, int]:
        return LABEL_WIDTH + col * (self.cell_width + GAP), HEADER_HEIGHT + row * (self.cell_height + GAP)

    @property
    def size(self) -> tuple[int, int]:
        x, y = self.origin(len(self.rows), len(self.frames))
        return x - GAP, y - GAP


def pick_frames(num_frames: int, count: int = 4) -> list[int]:
    """`count` evenly spaced frames from 0 to the last (fewer when the scene is shorter)."""
    if num_frames <= 0:
        return []
    return sorted({int(round(f)) for f in np.linspace(0, num_frames - 1, max(1, min(count, num_frames)))})


def sheet_layout(num_frames: int, height: int, width: int, rows: tuple[str, ...], count: int = 4) -> SheetLayout:
    """The layout `contact_sheet` uses for frames of `height` x `width` and these rows."""
    scale = max(1, -(-MIN_CELL // max(1, min(height, width))))
    return SheetLayout(tuple(rows), tuple(pick_frames(num_frames, count)), scale, width * scale, height * scale)


def contact_sheet(rgba: np.ndarray, segmentation: np.ndarray | None = None, depth: np.ndarray | None = None,
                  forward_flow: np.ndarray | None = None, frames: int = 4,
                  depth_range: tuple[float, float] | None = None, labels: bool = True):
    """A PIL image: rows RGB / segmentation over RGB / depth colormap / forward-flow wheel (the
    rows whose layer is given), columns `frames` evenly spaced frames.

    rgba (T, H, W, 3|4) uint8; segmentation (T, H, W) ints; depth (T, H, W) metres (+inf =
    nothing hit); forward_flow (T, H, W, 2) (Δrow, Δcol) pixels. Depth and flow colours use
    one scale over the whole scene (`depth_range`, default the finite range of `depth`).
    Deterministic: the same arrays give the same PNG bytes."""
    rgba = np.asarray(rgba)
    t, h, w = rgba.shape[:3]
    given = {"rgb": rgba, "segmentation": segmentation, "depth": depth, "forward_flow": forward_flow}
    rows = tuple(r for r in ROWS if given[r] is not None)
    layout = sheet_layout(t, h, w, rows, frames)
    picked = list(layout.frames)
    cells: dict[str, np.ndarray] = {"rgb": rgba[picked, ..., :3]}
    if segmentation is not None:
        cells["segmentation"] = colors.segmentation_overlay(rgba[picked], np.asarray(segmentation)[picked])
    if depth is not None:
        d = np.asarray(depth)
        cells["depth"] = colors.depth_colors(d[picked], depth_range or colors.finite_range(d))
    if forward_flow is not None:
        f = np.asarray(forward_flow)
        cells["forward_flow"] = colors.flow_colors(f[picked], colors.flow_max_radius(f))
    return _grid(layout, [(ROW_TITLES[row], cells[row]) for row in rows], labels)


def _grid(layout: SheetLayout, rows: list[tuple[str, np.ndarray]], labels: bool):
    """The sheet image: one (title, cells (frames, h, w, 3)) per row, frame numbers on top."""
    from PIL import Image, ImageDraw

    sheet = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet) if labels else None
    for r, (title, row_cells) in enumerate(rows):
        for c, frame in enumerate(layout.frames):
            cell = row_cells[c]
            if layout.scale > 1:
                cell = np.repeat(np.repeat(cell, layout.scale, axis=0), layout.scale, axis=1)
            sheet.paste(Image.fromarray(np.ascontiguousarray(cell)), layout.origin(r, c))
            if draw is not None and r == 0:
                x, y = layout.origin(0, c)
                draw.text((x + 2, 2), f"frame {frame}", fill=(220, 220, 220))
        if draw is not None:
            _, y = layout.origin(r, 0)
            draw.text((4, y + 4), title[:12], fill=(220, 220, 220))
    return sheet


def views_sheet(rgbas: list[np.ndarray], names: list[str], frames: int = 4, labels: bool = True):
    """A PIL image of a scene's cameras: one RGB row per camera (titled with its name),
    columns `frames` evenly spaced frames. Deterministic like `contact_sheet`."""
    t, h, w = np.asarray(rgbas[0]).shape[:3]
    layout = sheet_layout(t, h, w, tuple(names), frames)
    picked = list(layout.frames)
    rows = [(name, np.asarray(rgba)[picked, ..., :3]) for name, rgba in zip(names, rgbas, strict=True)]
    return _grid(layout, rows, labels)


def write_views_sheet(path: str | os.PathLike, rgbas: list[np.ndarray], names: list[str], frames: int = 4) -> Path:
    """`views_sheet(...)` saved as a PNG at `path` (fixed settings: the same bytes every time)."""
    path = Path(path)
    views_sheet(rgbas, names, frames).save(path, format="PNG", optimize=False, compress_level=6)
    return path


def write_contact_sheet(path: str | os.PathLike, rgba: np.ndarray, segmentation: np.ndarray | None = None,
                        depth: np.ndarray | None = None, forward_flow: np.ndarray | None = None,
                        frames: int = 4, depth_range: tuple[float, float] | None = None) -> Path:
    """`contact_sheet(...)` saved as a PNG at `path` (fixed settings: the same bytes every time)."""
    image = contact_sheet(rgba, segmentation, depth, forward_flow, frames=frames, depth_range=depth_range)
    path = Path(path)
    image.save(path, format="PNG", optimize=False, compress_level=6)
    return path
