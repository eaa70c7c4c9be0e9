"""The binary files of the flow and stereo formats: Middlebury's .flo, KITTI's 16-bit flow PNG
and the PFM image, written from our arrays (facts from each format's published description).

- .flo (Middlebury, also Sintel's): the float32 202021.25 ("PIEH"), int32 width and height, then
  row-major float32 (u, v) pairs, u to the right (our Δcol) and v down (our Δrow), little-endian.
- KITTI flow PNG: 16-bit RGB; R = u * 64 + 2^15, G = v * 64 + 2^15, B = 1 where valid, else 0
  (and R = G = 0 there); so |u|, |v| < 512 px; a pixel beyond is written invalid.
- PFM: "Pf" (one channel) or "PF" (three), width and height, a scale whose sign is the byte
  order (negative: little-endian), then float32 rows from the bottom row up.
"""

from __future__ import annotations

import os

import numpy as np

from kubric_gen.io.layers import encode_png

FLO_TAG = 202021.25
KITTI_SCALE, KITTI_OFFSET = 64.0, 2 ** 15
KITTI_MAX_FLOW = (65535 - KITTI_OFFSET) / KITTI_SCALE  # 511.98 px


def write_flo(path: str | os.PathLike, flow_rowcol: np.ndarray) -> None:
    """Our (H, W, 2) (Δrow, Δcol) flow as a .flo file of (u, v) = (Δcol, Δrow)."""
    flow = np.asarray(flow_rowcol, dtype=np.float32)
    height, width = flow.shape[:2]
    uv = np.ascontiguousarray(flow[..., ::-1], dtype="<f4")
    with open(path, "wb") as f:
        f.write(np.array([FLO_TAG], "<f4").tobytes() + np.array([width, height], "<i4").tobytes() + uv.tobytes())


def kitti_flow_png(flow_rowcol: np.ndarray, valid: np.ndarray) -> bytes:
    """KITTI's 16-bit flow PNG of our (H, W, 2) (Δrow, Δcol) flow; `valid` (H, W) bool, cleared
    where the flow is beyond the format's range."""
    flow = np.asarray(flow_rowcol, dtype=np.float64)
    u, v = flow[..., 1], flow[..., 0]
    valid = np.asarray(valid, dtype=bool) & (np.abs(u) <= KITTI_MAX_FLOW) & (np.abs(v) <= KITTI_MAX_FLOW)
    out = np.zeros((*flow.shape[:2], 3), dtype=np.uint16)
    out[..., 0] = np.where(valid, np.rint(u * KITTI_SCALE + KITTI_OFFSET), 0)
    out[..., 1] = np.where(valid, np.rint(v * KITTI_SCALE + KITTI_OFFSET), 0)
    out[..., 2] = valid
    return encode_png(out)


def write_pfm(path: str | os.PathLike, image: np.ndarray) -> None:
    """An (H, W) or (H, W, 3) float image as little-endian PFM (rows stored bottom-up)."""
    data = np.asarray(image, dtype="<f4")
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] != 3):
        raise ValueError(f"PFM holds (H, W) or (H, W, 3) images (got {data.shape})")
    header = f"{'PF' if data.ndim == 3 else 'Pf'}\n{data.shape[1]} {data.shape[0]}\n-1.0\n".encode("ascii")
    with open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(data[::-1]).tobytes())
