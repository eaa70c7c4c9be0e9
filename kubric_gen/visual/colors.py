"""Colouring the ground-truth layers for people to look at (contact sheets, previews, the viewer).

Pure functions from arrays to uint8 RGB images; matplotlib and flow_vis are imported
lazily (and their lookup tables cached), so importing `kubric_gen` stays light.

- depth: a matplotlib colormap ('turbo' reversed: near is red, far is blue) over the finite
  depth range; +inf (nothing hit) is black.
- flow: the Middlebury colour wheel (Baker et al., via `flow_vis`). Our flow is (Δrow, Δcol)
  pixels; the wheel takes (u, v) = (Δcol, Δrow) with v pointing down the image, so a motion
  to the right is red and one down the image yellow, as in the optical-flow literature.
- segmentation: a fixed palette of distinct colours; id 0 (background) is black.
- intrinsic images: linear RGB (albedo as it is, shading divided by a white level) through
  the sRGB curve, clipped to [0, 1], as Blender's Standard view transform shows light.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np

DEPTH_COLORMAP = "turbo_r"

# Distinct colours for instance ids 1.. (Kelly's / Tableau's, ordered so that neighbours differ);
# ids beyond the list continue with golden-angle hues.
_BASE_PALETTE = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
    (0, 0, 128), (128, 128, 128),
)


def segmentation_palette(num_ids: int) -> np.ndarray:
    """(num_ids + 1, 3) uint8: row k is the colour of segmentation id k, row 0 (background) black.

    Fixed (the same id has the same colour in every scene and view), so colours can be
    compared across frames, files and the viewer."""
    colors = [(0, 0, 0), *_BASE_PALETTE[:num_ids]]
    for k in range(len(_BASE_PALETTE), num_ids):
        r, g, b = colorsys.hsv_to_rgb((k * 0.618033988749895) % 1.0, 0.75, 0.95)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return np.asarray(colors, dtype=np.uint8).reshape(-1, 3)


def segmentation_colors(segmentation: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 palette colours of an integer segmentation (0 = background = black)."""
    seg = np.asarray(segmentation)
    if seg.ndim and seg.shape[-1] == 1:
        seg = seg[..., 0]
    seg = seg.astype(np.int64)
    seg = np.where(seg < 0, 0, seg)
    return segmentation_palette(int(seg.max(initial=0)))[seg]


def segmentation_overlay(rgb: np.ndarray, segmentation: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The segmentation's colours blended over the RGB frames where an instance is (background untouched)."""
    rgb = np.asarray(rgb)[..., :3].astype(np.float32)
    seg = np.asarray(segmentation)
    if seg.ndim == rgb.ndim:
        seg = seg[..., 0]
    colors = segmentation_colors(seg).astype(np.float32)
    blended = np.where((seg > 0)[..., None], (1 - alpha) * rgb + alpha * colors, rgb)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


@lru_cache(maxsize=8)
def colormap_lut(name: str = DEPTH_COLORMAP) -> np.ndarray:
    """(256, 3) uint8 lookup table of a matplotlib colormap (matplotlib imported here, once)."""
    import matplotlib

    cmap = matplotlib.colormaps[name]
    lut = cmap(np.linspace(0.0, 1.0, 256))[:, :3]
    lut = np.clip(np.rint(lut * 255), 0, 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def finite_range(values: np.ndarray) -> tuple[float, float]:
    """(min, max) over the finite values, (0, 0) when there are none."""
    v = np.asarray(values)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return 0.0, 0.0
    return float(finite.min()), float(finite.max())


def depth_colors(depth: np.ndarray, depth_range: tuple[float, float] | None = None,
                 colormap: str = DEPTH_COLORMAP) -> np.ndarray:
    """(..., 3) uint8 colours of depths in metres (a trailing channel of 1 is dropped).

    `depth_range` (default: the finite min and max of `depth`) spans the colormap; pass one
    range for all frames of a scene so that colours mean the same distance in every frame.
    +inf and NaN (nothing hit) are black."""
    d = np.asarray(depth, dtype=np.float32)
    if d.ndim >= 3 and d.shape[-1] == 1:
        d = d[..., 0]
    lo, hi = depth_range if depth_range is not None else finite_range(d)
    finite = np.isfinite(d)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    index = np.clip(np.rint((np.where(finite, d, lo) - lo) * scale), 0, 255).astype(np.int64)
    out = colormap_lut(colormap)[index]
    out[~finite] = 0
    return out


def flow_max_radius(flow: np.ndarray) -> float:
    """The largest flow magnitude (pixels) over the finite values: the wheel's full saturation."""
    f = np.asarray(flow, dtype=np.float32)
    rad = np.sqrt(np.square(f[..., 0]) + np.square(f[..., 1]))
    rad = rad[np.isfinite(rad)]
    return float(rad.max()) if rad.size else 0.0


def flow_colors(flow: np.ndarray, max_radius: float | None = None) -> np.ndarray:
    """(..., 3) uint8 Middlebury colour-wheel colours of flow (..., 2) given as (Δrow, Δcol) pixels.

    Hue is the direction, saturation the magnitude relative to `max_radius` (default: the
    largest magnitude in `flow`; pass one value for all frames of a scene); zero flow is
    white. The wheel's (u, v) are (Δcol, Δrow): u to the right, v down the image."""
    import flow_vis

    f = np.nan_to_num(np.asarray(flow, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if f.shape[-1] != 2:
        raise ValueError(f"flow must end in 2 channels (d_row, d_col), got shape {f.shape}")
    radius = flow_max_radius(f) if max_radius is None else float(max_radius)
    scale = 1.0 / radius if radius > 0 else 0.0
    u, v = f[..., 1] * scale, f[..., 0] * scale
    shape = f.shape[:-1]
    u2 = u.reshape(-1, shape[-1]) if len(shape) >= 2 else u.reshape(1, -1)
    v2 = v.reshape(u2.shape)
    return flow_vis.flow_uv_to_colors(u2, v2).astype(np.uint8).reshape(*shape, 3)


def flow_wheel(size: int = 65) -> np.ndarray:
    """(size, size, 3) uint8: the colour wheel itself (centre = no motion; the right edge is
    motion to the right at `max_radius`), for legends. Outside the disc is white."""
    c = (size - 1) / 2.0
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    flow = np.stack([(rows - c) / c, (cols - c) / c], axis=-1)
    out = flow_colors(flow, max_radius=1.0)
    out[np.hypot(rows - c, cols - c) > c] = 255
    return out


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB curve (Blender's Standard view transform) of linear values clipped to [0, 1], as float64."""
    x = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def linear_to_srgb8(linear: np.ndarray, white: float = 1.0) -> np.ndarray:
    """Linear RGB (..., 3) divided by `white`, clipped to [0, 1], sRGB-encoded to uint8."""
    return np.rint(srgb_encode(np.asarray(linear, dtype=np.float64) / white) * 255).astype(np.uint8)


def shading_white(shading: np.ndarray) -> float:
    """The white level of a shading image: its 99th percentile (a few highlights clip), at least 1e-6."""
    return max(float(np.percentile(np.asarray(shading, dtype=np.float64), 99)), 1e-6)
