"""A minimal reader for the uncompressed float OpenEXR files `render_passes` has Cycles write.

Blender 5 writes multi-part EXRs (one part per pass); loading them through bpy gives
no pixels when headless and no EXR library ships with the bpy wheel, so this reads
the scanline parts directly. Anything else (compression, tiles, deep data) is
refused with a clear error.
"""

from __future__ import annotations

import struct

import numpy as np

# Enough of OpenEXR (openexr.com, "OpenEXR File Layout") for what Blender writes with codec NONE:
# scanline images, single- or multi-part (Blender 5 writes one part per pass), uncompressed.
_EXR_MAGIC = 20000630
_EXR_TILED, _EXR_DEEP, _EXR_MULTIPART = 0x200, 0x800, 0x1000
_EXR_TYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}


def _cstring(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(b"\0", pos)
    return buf[pos:end].decode("latin-1"), end + 1


def _exr_header(buf: bytes, pos: int) -> tuple[dict[str, bytes], int]:
    attrs = {}
    while buf[pos] != 0:
        name, pos = _cstring(buf, pos)
        _, pos = _cstring(buf, pos)  # the attribute's type name
        (size,) = struct.unpack_from("<i", buf, pos)
        attrs[name] = buf[pos + 4:pos + 4 + size]
        pos += 4 + size
    return attrs, pos + 1


def _exr_channels(chlist: bytes, path: str) -> list[tuple[str, np.dtype]]:
    out, pos = [], 0
    while chlist[pos] != 0:
        name, pos = _cstring(chlist, pos)
        pixel_type, x_sampling, y_sampling = struct.unpack_from("<i4xii", chlist, pos)
        pos += 16
        if pixel_type not in _EXR_TYPES or (x_sampling, y_sampling) != (1, 1):
            raise RuntimeError(f"{path}: channel {name!r} has an unsupported type or subsampling")
        out.append((name, _EXR_TYPES[pixel_type]))
    return out


def read_exr(path: str) -> dict[str, np.ndarray]:
    """Every channel of an uncompressed scanline OpenEXR file (single- or multi-part) as an
    (H, W) array, top row first, keyed by full channel name (e.g. "ViewLayer.Depth.Z")."""
    with open(path, "rb") as f:
        buf = f.read()
    try:
        return _read_exr(buf, path)
    except (struct.error, ValueError, IndexError, KeyError) as e:
        raise RuntimeError(f"{path}: not a readable OpenEXR file ({e})") from None


def _read_exr(buf: bytes, path: str) -> dict[str, np.ndarray]:
    magic, version = struct.unpack_from("<ii", buf, 0)
    if magic != _EXR_MAGIC or version & 0xFF != 2 or version & (_EXR_TILED | _EXR_DEEP):
        raise RuntimeError(f"{path}: not a scanline OpenEXR 2 file (magic {magic}, version {version:#x})")
    multipart = bool(version & _EXR_MULTIPART)
    headers, pos = [], 8
    while True:
        header, pos = _exr_header(buf, pos)
        headers.append(header)
        if not multipart or buf[pos] == 0:
            break
    pos += multipart  # the empty header that ends a multi-part header list
    parts = []
    for header in headers:
        if header["compression"] != b"\0" or header.get("type", b"scanlineimage") != b"scanlineimage":
            raise RuntimeError(f"{path}: only uncompressed scanline images are supported")
        x0, y0, x1, y1 = struct.unpack("<4i", header["dataWindow"])
        shape = (y1 - y0 + 1, x1 - x0 + 1)
        offsets = np.frombuffer(buf, "<u8", shape[0], pos)  # one scanline per chunk when uncompressed
        pos += 8 * shape[0]
        parts.append((header, y0, shape, offsets))
    out: dict[str, np.ndarray] = {}
    for number, (header, y0, (height, width), offsets) in enumerate(parts):
        channels = _exr_channels(header["channels"], path)
        line = np.dtype([(name, dtype, (width,)) for name, dtype in channels])
        arrays = {name: np.empty((height, width), dtype) for name, dtype in channels}
        for offset in offsets.tolist():
            if multipart:
                (part,) = struct.unpack_from("<i", buf, offset)
                if part != number:
                    raise RuntimeError(f"{path}: chunk of part {part} in the table of part {number}")
                offset += 4
            y, size = struct.unpack_from("<ii", buf, offset)
            if size != line.itemsize or not 0 <= y - y0 < height:
                raise RuntimeError(f"{path}: bad scanline {y} ({size} bytes, expected {line.itemsize})")
            values = np.frombuffer(buf, line, 1, offset + 8)[0]
            for name, array in arrays.items():
                array[y - y0] = values[name]
        out.update(arrays)
    return out
