"""Ground-truth layers as files: MOVi's per-frame images, plus exact float layers and point tracks.

Files written by `write_layers` into a scene directory, for every frame t (0-based, ``%05d``):

| file | encoding | decode |
|---|---|---|
| ``depth_%05d.tiff`` | float32 TIFF (H, W, 1), uncompressed; +inf = no hit | as is (metres, Euclidean) |
| ``segmentation_%05d.png`` | 8-bit palette PNG while ids <= 255, else 16-bit greyscale | the index / grey value |
| ``normal_%05d.png`` | 16-bit RGB, ``v = round((n + 1) / 2 * 65535)`` | ``n = v / 65535 * 2 - 1`` |
| ``object_coordinates_%05d.png`` | 16-bit RGB, ``v = round(c * 65535)`` | ``c = v / 65535`` |
| ``forward_flow_%05d.png``, ``backward_flow_%05d.png`` | 16-bit RGB, channel 0 = d_row, 1 = d_col, 2 = 0 | see below |
| ``occlusion_forward_%05d.png``, ``occlusion_backward_%05d.png`` | 8-bit greyscale, 1/0 | bool |
| ``data_ranges.json`` | ``{"backward_flow", "depth", "forward_flow"}: {"min", "max"}`` | |
| ``tracks.npz`` | ``query_points`` (N,3 t,y,x), ``target_points`` (N,T,2 x,y), ``occluded`` (N,T) | |
| ``layers.npz`` | optional: the exact float32 layers (and int32 / bool ones) | |

Flow convention (MOVi's): pixels, (d_row, d_col); forward flow at frame t is the motion of the
surface point seen at a pixel centre of frame t to frame t+1, backward flow to frame t-1.
Both channels of all frames of one direction share one range from ``data_ranges.json``:
``v = round((flow - min) / (max - min) * 65535)``, decoded as ``flow = v / 65535 * (max - min) + min``
(error at most half a step, ``(max - min) / 65535 / 2``). When max == min every value is 0
and decodes to min.

Occlusion PNGs hold 1 where the point seen at the pixel is hidden or off-screen in the
other frame and 0 where it is visible (0/1, not 0/255: they look black in an image viewer).
The depth range in ``data_ranges.json`` is over finite depths only (0, 0 when nothing is hit
in any frame); flow ranges are over all pixels. Kubric's scene directories have no depth
range and no occlusion files; `read_layers` reads them all the same.

File names come from `kubric_gen.io.format`; `kubric_gen.io.SceneDir` reads whole directories.
PNGs are written with imagecodecs (libpng, fast zlib settings; palette PNGs by `encode_palette_png`),
every one at bit depth 8 or 16 (Kubric's pypng reader takes no other), and 16-bit ones read with
imagecodecs: Pillow and imageio read 16-bit RGB PNGs as 8-bit.
"""

from __future__ import annotations

import colorsys
import io
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import tifffile

from kubric_gen.errors import KubricGenError
from kubric_gen.io import format as fmt
from kubric_gen.parallel import parallel_map
from kubric_gen.truth.result import GroundTruth, PointTracks

MAX_16BIT = fmt.MAX_16BIT
MAX_PALETTE_ID = fmt.MAX_PALETTE_ID
FLOW_LAYERS = fmt.FLOW_LAYERS
OCCLUSION_LAYERS = fmt.OCCLUSION_LAYERS
FLOAT_LAYERS = ("depth", "segmentation", "normal", "object_coordinates", *FLOW_LAYERS, *OCCLUSION_LAYERS)
DATA_RANGES = fmt.DATA_RANGES
TRACKS = fmt.TRACKS
FLOAT_LAYERS_FILE = fmt.FLOAT_LAYERS_FILE

PathLike = str | os.PathLike


# --------------------------------------------------------------------------- quantisation


def quantize(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``round((x - lo) / (hi - lo) * 65535)`` clipped to [0, 65535] as uint16; zeros if hi == lo.

    -inf goes to 0, +inf to 65535, NaN to 0.
    """
    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
        raise ValueError(f"quantisation range must be finite with lo <= hi (got lo={lo}, hi={hi})")
    if hi == lo:
        return np.zeros(x.shape, dtype=np.uint16)
    v = np.rint((x - lo) / (hi - lo) * MAX_16BIT)
    v = np.clip(np.nan_to_num(v, nan=0.0, posinf=MAX_16BIT, neginf=0.0), 0, MAX_16BIT)
    return v.astype(np.uint16)


def dequantize(v: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray) -> np.ndarray:
    """``v / 65535 * (hi - lo) + lo`` as float32 (`lo`, `hi` scalars, or arrays that
    broadcast against `v`, e.g. one range per example of a batch)."""
    v = np.asarray(v, dtype=np.float64)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return (v * ((hi - lo) / MAX_16BIT) + lo).astype(np.float32)


# --------------------------------------------------------------------------- PNG

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Every PNG we write is 8- or 16-bit: MOVi's readers (pypng in Kubric's `read_png`) take no other depth.
PNG_BIT_DEPTHS = (8, 16)


def _png_header(data: bytes) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR; colour type 3 is a palette image."""
    if data[:8] != PNG_SIGNATURE or len(data) < 26:
        raise KubricGenError("not a PNG file")
    return data[24], data[25]


def decode_png16(data: bytes) -> np.ndarray:
    """The uint16 samples of a 16-bit PNG: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA.

    (Pillow and imageio would read 16-bit RGB as 8-bit; imagecodecs' libpng keeps every bit.)
    """
    import imagecodecs

    bitdepth, colour = _png_header(data)
    if bitdepth != 16 or colour == 3:
        raise KubricGenError(f"expected a 16-bit PNG (got bit depth {bitdepth})")
    return imagecodecs.png_decode(data)


def decode_png8(data: bytes) -> np.ndarray:
    """The uint8 samples of an 8-bit grey, RGB or RGBA PNG (palette images expanded to RGB)."""
    import imagecodecs

    bitdepth, _ = _png_header(data)
    if bitdepth != 8:
        raise KubricGenError(f"expected an 8-bit PNG (got bit depth {bitdepth})")
    return imagecodecs.png_decode(data)


def decode_segmentation(data: bytes) -> np.ndarray:
    """Ids (H, W) int32 of a palette PNG (the indices, not the colours) or a grey 8/16-bit PNG."""
    bitdepth, colour = _png_header(data)
    if colour == 3:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image).astype(np.int32)
    if colour != 0:
        raise KubricGenError(f"a segmentation PNG must be palette or greyscale (got PNG colour type {colour})")
    return (decode_png16(data) if bitdepth == 16 else decode_png8(data)).astype(np.int32)


def _read(path: PathLike, decode: Callable[[bytes], np.ndarray]) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            return decode(f.read())
    except KubricGenError as e:
        raise KubricGenError(f"{path}: {e}") from None
    except (OSError, ValueError, RuntimeError) as e:
        raise KubricGenError(f"{path}: cannot read ({e})") from e


# zlib level 1 with the SUB filter and run-length strategy (OpenCV's fast settings): about
# 10x faster than level 6 with adaptive filters, files ~10 % larger, still lossless PNG.
PNG_LEVEL, PNG_STRATEGY, PNG_FILTER = 1, 3, 16


def encode_png(a: np.ndarray) -> bytes:
    """A lossless PNG of uint8 or uint16 samples: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA."""
    import imagecodecs

    # bytes: png_encode returns a bytearray only when given one as out= (its stub has no overload for that)
    return cast(bytes, imagecodecs.png_encode(np.ascontiguousarray(a), level=PNG_LEVEL, strategy=PNG_STRATEGY,
                                              filter=PNG_FILTER))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_palette_png(ids: np.ndarray, palette: list[tuple[int, int, int]]) -> bytes:
    """An 8-bit palette PNG holding `ids` (H, W) as palette indices (MOVi's segmentation), with
    exactly `palette`'s colours, as Kubric writes them.

    Written by hand, not with Pillow: Pillow stores a palette of up to 16 colours at 1, 2 or 4
    bits per pixel, and Kubric's reader (pypng, in `kubric.file_io.read_png` and its MOVi
    builders) takes only bit depths 8 and 16. Rows are unfiltered (the PNG specification's
    advice for palette images) and deflated at `PNG_LEVEL`.
    """
    ids = np.ascontiguousarray(ids, dtype=np.uint8)
    if ids.ndim != 2 or not 1 <= len(palette) <= 256:
        raise ValueError(f"a palette PNG needs (H, W) ids and 1..256 colours (got {ids.shape}, {len(palette)})")
    height, width = ids.shape
    rows = np.zeros((height, width + 1), dtype=np.uint8)  # a leading 0 per row: filter type None
    rows[:, 1:] = ids
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)  # bit depth 8, colour type 3 (palette)
    return b"".join((PNG_SIGNATURE, _png_chunk(b"IHDR", header),
                     _png_chunk(b"PLTE", bytes(c for colour in palette for c in colour)),
                     _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_LEVEL)), _png_chunk(b"IEND", b"")))


def _write_bytes(path: PathLike, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def write_png16(path: PathLike, array: np.ndarray) -> None:
    """Write a uint16 (H, W) greyscale or (H, W, 3) RGB (or (H, W, 4) RGBA) array as a 16-bit PNG."""
    a = np.asarray(array)
    if a.dtype != np.uint16:
        raise ValueError(f"write_png16 needs uint16 samples (got {a.dtype})")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
        raise ValueError(f"write_png16 needs shape (H, W) or (H, W, 1|3|4) (got {a.shape})")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    _write_bytes(path, encode_png(a))


def read_png16(path: PathLike) -> np.ndarray:
    """The uint16 samples of a 16-bit PNG: (H, W) for greyscale, (H, W, 3) for RGB, (H, W, 4) for RGBA."""
    return _read(path, decode_png16)


def segmentation_palette(n: int) -> list[tuple[int, int, int]]:
    """A deterministic palette of n colours: 0 is black, id k >= 1 always gets the same colour.

    Hues step by the golden ratio so that neighbouring ids look different; saturation and
    value cycle so that all 256 colours are distinct.
    """
    colours = [(0, 0, 0)]
    for k in range(1, n):
        hue = ((k - 1) * 0.6180339887498949) % 1.0
        sat = (0.85, 0.55, 1.0)[(k - 1) % 3]
        val = (0.9, 1.0, 0.7)[((k - 1) // 3) % 3]
        r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
        colours.append((int(round(r * 255)), int(round(g * 255)), int(round(b * 255))))
    return colours


def write_segmentation(path: PathLike, seg: np.ndarray, num_instances: int | None = None) -> None:
    """Write instance ids (H, W): an 8-bit palette PNG while every id (and num_instances) is <= 255,
    else a 16-bit greyscale PNG. Ids must lie in 0..65535; nothing wraps."""
    seg = np.asarray(seg)
    if seg.ndim != 2 or not np.issubdtype(seg.dtype, np.integer):
        raise ValueError(f"segmentation must be an integer (H, W) array (got {seg.dtype} {seg.shape})")
    top = _segmentation_top(seg, num_instances)
    _write_bytes(path, _encode_segmentation(seg, top))


def _segmentation_top(seg: np.ndarray, num_instances: int | None) -> int:
    """The largest id the segmentation's PNGs must hold (its own, or the instance count);
    ValueError unless every id lies in 0..65535 (nothing wraps)."""
    lo = int(seg.min(initial=0))
    top = max(int(seg.max(initial=0)), int(num_instances or 0))
    if lo < 0 or top > MAX_16BIT:
        raise ValueError(f"segmentation ids must lie in 0..{MAX_16BIT} (got {lo}..{top})")
    return top


def _encode_segmentation(seg: np.ndarray, top: int) -> bytes:
    if top <= MAX_PALETTE_ID:
        return encode_palette_png(seg, segmentation_palette(top + 1))
    return encode_png(seg.astype(np.uint16))


def read_segmentation(path: PathLike) -> np.ndarray:
    """Instance ids (H, W) int32 of a palette (Kubric's and ours) or greyscale (8/16-bit) PNG."""
    return _read(path, decode_segmentation)


def write_mask(path: PathLike, mask: np.ndarray) -> None:
    """Write a boolean (H, W) mask as an 8-bit greyscale PNG holding 0 and 1."""
    _write_bytes(path, encode_png(np.asarray(mask).astype(np.uint8)))


def read_mask(path: PathLike) -> np.ndarray:
    """A mask PNG as bool (H, W): every non-zero sample is True."""
    return _read(path, decode_segmentation) != 0


# --------------------------------------------------------------------------- depth


def write_depth(path: PathLike, depth: np.ndarray) -> None:
    """Write depth (H, W) as an uncompressed float32 TIFF of shape (H, W, 1), like Kubric; +inf allowed."""
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must be (H, W) (got {depth.shape})")
    tifffile.imwrite(os.fspath(path), depth.astype(np.float32)[..., None], photometric="minisblack")


def decode_depth(data: bytes) -> np.ndarray:
    """Depth (H, W) float32 from the bytes of a float TIFF of shape (H, W) or (H, W, 1)."""
    try:
        a = tifffile.imread(io.BytesIO(data))
    except (ValueError, tifffile.TiffFileError) as e:
        raise KubricGenError(f"cannot read TIFF ({e})") from None
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise KubricGenError(f"depth TIFF must be (H, W) or (H, W, 1) (got {a.shape})")
    return a.astype(np.float32, copy=False)


def read_depth(path: PathLike) -> np.ndarray:
    """Depth (H, W) float32 from a float TIFF of shape (H, W) or (H, W, 1)."""
    return _read(path, decode_depth)


# --------------------------------------------------------------------------- scene directory


def _range(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"max": 0.0, "min": 0.0}
    return {"max": float(values.max()), "min": float(values.min())}


def _checked(gt: GroundTruth) -> dict[str, np.ndarray]:
    """The layers of gt in their file dtypes, after checking their shapes."""
    depth = np.asarray(gt.depth, dtype=np.float32)
    if depth.ndim != 3:
        raise ValueError(f"depth must be (T, H, W) (got {depth.shape})")
    t, h, w = depth.shape
    expected = {
        "depth": ((t, h, w), np.float32),
        "segmentation": ((t, h, w), np.int32),
        "normal": ((t, h, w, 3), np.float32),
        "object_coordinates": ((t, h, w, 3), np.float32),
        "forward_flow": ((t, h, w, 2), np.float32),
        "backward_flow": ((t, h, w, 2), np.float32),
        "forward_flow_occlusion": ((t, h, w), np.bool_),
        "backward_flow_occlusion": ((t, h, w), np.bool_),
    }
    layers = {}
    for name, (shape, dtype) in expected.items():
        a = np.asarray(getattr(gt, name))
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape} like depth (got {a.shape})")
        layers[name] = a.astype(dtype, copy=False)
    for name in FLOW_LAYERS:
        if not np.isfinite(layers[name]).all():
            raise ValueError(f"{name} has non-finite values")
    return layers


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, allow_nan=False)
        f.write("\n")


def save_npz(path: PathLike, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed, but byte-reproducible: fixed member order and timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            archive.writestr(info, buffer.getvalue())


def write_tracks(path: PathLike, tracks: PointTracks) -> None:
    """Write point tracks as a compressed npz (no pickled objects)."""
    q = np.asarray(tracks.query_points, dtype=np.float32)
    p = np.asarray(tracks.target_points, dtype=np.float32)
    o = np.asarray(tracks.occluded, dtype=bool)
    n = q.shape[0] if q.ndim == 2 else -1
    if q.shape != (n, 3) or p.ndim != 3 or p.shape[0] != n or p.shape[2] != 2 or o.shape != p.shape[:2]:
        raise ValueError(f"tracks need query_points (N,3), target_points (N,T,2), occluded (N,T) "
                         f"(got {q.shape}, {p.shape}, {o.shape})")
    save_npz(path, {"query_points": q, "target_points": p, "occluded": o})


def write_amodal(path: PathLike, masks: np.ndarray) -> None:
    """The (K, T, H, W) amodal masks as amodal_masks.npz: packed 8 pixels to a byte along rows,
    deflated (the smallest of the encodings measured in benchmarks/amodal_storage.py)."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 4:
        raise ValueError(f"amodal masks need (K, T, H, W) (got {masks.shape})")
    save_npz(path, {"masks": np.packbits(masks, axis=-1), "shape": np.asarray(masks.shape, dtype=np.int64)})


def read_amodal(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The (K, T, H, W) bool masks of amodal_masks.npz's arrays; ValueError if they do not fit."""
    packed, shape = arrays["masks"], tuple(int(v) for v in arrays["shape"])
    if len(shape) != 4 or packed.dtype != np.uint8 or packed.shape != (*shape[:3], -(-shape[3] // 8)):
        raise ValueError(f"masks {packed.shape} {packed.dtype} do not pack shape {shape}")
    return np.unpackbits(packed, axis=-1, count=shape[3]).astype(bool)


FLOAT16_MAX = float(np.finfo(np.float16).max)


def write_intrinsics(path: PathLike, images: dict[str, np.ndarray], mask: np.ndarray) -> None:
    """intrinsic_images.npz: each of `format.INTRINSIC_IMAGES` (T, H, W, 3) as float16 (relative
    step 2^-11; light above 65504 saturates there) and the (T, H, W) `format.INTRINSIC_MASK`."""
    mask = np.asarray(mask, dtype=bool)
    arrays: dict[str, np.ndarray] = {fmt.INTRINSIC_MASK: mask}
    for name in fmt.INTRINSIC_IMAGES:
        a = np.asarray(images[name], dtype=np.float32)
        if a.shape != (*mask.shape, 3) or not np.isfinite(a).all():
            raise ValueError(f"intrinsic image {name} must be finite {(*mask.shape, 3)} (got {a.shape})")
        arrays[name] = np.clip(a, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)
    save_npz(path, arrays)


def write_layers(directory: PathLike, gt: GroundTruth, float_layers: bool = False, threads: int = 0) -> dict:
    """Write gt's layers (and tracks) into `directory` in MOVi's layout; return the data ranges.

    Frame files are written straight into `directory` (the caller makes the scene atomic),
    `threads` frames at a time (0: one per core; the encoders release the GIL).
    With `float_layers`, `layers.npz` also keeps the exact layers.
    """
    directory = Path(directory)
    layers = _checked(gt)
    depth = layers["depth"]
    ranges = {"depth": _range(depth[np.isfinite(depth)])}
    for name in FLOW_LAYERS:
        ranges[name] = _range(layers[name])
    top = _segmentation_top(layers["segmentation"], len(gt.instances))
    names = {layer.name: layer for layer in fmt.LAYERS}

    def frame(t: int) -> None:
        write_depth(directory / names["depth"].file(t), depth[t])
        files = {"segmentation": _encode_segmentation(layers["segmentation"][t], top),
                 "normal": encode_png(quantize(layers["normal"][t], -1.0, 1.0)),
                 "object_coordinates": encode_png(quantize(layers["object_coordinates"][t], 0.0, 1.0))}
        for name in FLOW_LAYERS:
            q = quantize(layers[name][t], ranges[name]["min"], ranges[name]["max"])
            files[name] = encode_png(np.concatenate([q, np.zeros_like(q[..., :1])], axis=-1))
        for name in OCCLUSION_LAYERS:
            files[name] = encode_png(layers[name][t].astype(np.uint8))
        for name, data in files.items():
            _write_bytes(directory / names[name].file(t), data)

    parallel_map(frame, range(depth.shape[0]), threads)
    _write_json(directory / DATA_RANGES, ranges)
    if gt.tracks is not None:
        write_tracks(directory / TRACKS, gt.tracks)
    if gt.amodal is not None:
        write_amodal(directory / fmt.AMODAL, gt.amodal.masks)
    if gt.part_index is not None:
        save_npz(directory / fmt.PARTS, {"part_index": np.asarray(gt.part_index, dtype=np.uint8)})
    if gt.occlusion_boundaries is not None:
        save_npz(directory / fmt.BOUNDARIES, {"boundaries": np.asarray(gt.occlusion_boundaries, dtype=np.uint8)})
    scene_flow = {name: getattr(gt, name) for name in fmt.SCENE_FLOW_STORED}
    if all(a is not None for a in scene_flow.values()) and gt.camera_poses is not None:
        arrays = {name: np.asarray(a, dtype=np.float32) for name, a in scene_flow.items()}
        save_npz(directory / fmt.SCENE_FLOW, {**arrays, "camera_poses": np.asarray(gt.camera_poses, dtype=np.float64)})
    if float_layers:
        save_npz(directory / FLOAT_LAYERS_FILE, layers)
    return ranges


def boxes_from_segmentation(seg: np.ndarray, num_instances: int) -> tuple[np.ndarray, list, list]:
    """Visibility (K, T) pixel counts, and per instance bboxes (n, 4) normalised [ymin, xmin, ymax, xmax]
    and bbox_frames (n,), from a (T, H, W) segmentation (id k = instance k-1)."""
    t_len, h, w = seg.shape
    vis = np.zeros((num_instances, t_len), dtype=np.int64)
    boxes: list[list] = [[] for _ in range(num_instances)]
    frames: list[list] = [[] for _ in range(num_instances)]
    for t in range(t_len):
        ids, counts = np.unique(seg[t], return_counts=True)
        for i, c in zip(ids.tolist(), counts.tolist(), strict=True):
            if 1 <= i <= num_instances:
                vis[i - 1, t] = c
                rows, cols = np.nonzero(seg[t] == i)
                boxes[i - 1].append([rows.min() / h, cols.min() / w, (rows.max() + 1) / h, (cols.max() + 1) / w])
                frames[i - 1].append(t)
    return (vis,
            [np.asarray(b, dtype=np.float32).reshape(-1, 4) for b in boxes],
            [np.asarray(f, dtype=np.int32) for f in frames])
