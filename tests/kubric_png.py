"""Reading PNGs by Kubric's own rules, to prove MOVi's consumers read every PNG we write.

Kubric's `kubric.file_io.read_png` (and the copy in its MOVi dataset builders) reads a PNG with
pypng (`png.Reader(...).read()`), raises `NotImplementedError("Unsupported bitdepth: ...")`
unless the bit depth is 8 or 16, and stacks the rows as uint8 or uint16 into (H, W, planes);
palette images come back as their indices (one plane). `kubric_read_png` follows those
documented rules (pypng is a test dependency); `ihdr_bit_depth` reads the byte itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import png

from kubric_gen.io import SceneDir
from kubric_gen.io import format as fmt
from kubric_gen.io import layers as codecs


def ihdr_bit_depth(path: Path) -> int:
    """The bit depth byte of a PNG's IHDR chunk (the file's 25th byte)."""
    data = Path(path).read_bytes()[:26]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path}: not a PNG"
    return data[24]


def kubric_read_png(path: Path) -> np.ndarray:
    """(H, W, planes) uint8 or uint16, as Kubric's `read_png` returns it (or its error)."""
    width, height, rows, info = png.Reader(bytes=Path(path).read_bytes()).read()
    bitdepth = info["bitdepth"]
    if bitdepth == 8:
        dtype = np.uint8
    elif bitdepth == 16:
        dtype = np.uint16
    else:
        raise NotImplementedError(f"Unsupported bitdepth: {bitdepth}")
    return np.vstack(list(map(dtype, rows))).reshape((height, width, info["planes"]))


def check_scene_pngs(scene: Path) -> int:
    """Every PNG under a scene directory (its views' too) is 8- or 16-bit in its IHDR and reads
    by Kubric's rules to exactly what our reader (`SceneDir`) decodes; PNGs that are no layer
    (the contact sheet) to what libpng decodes. Returns how many PNGs were checked."""
    checked, dirs = 0, {}
    for path in sorted(Path(scene).rglob("*.png")):
        assert ihdr_bit_depth(path) in codecs.PNG_BIT_DEPTHS, f"{path}: bit depth {ihdr_bit_depth(path)}"
        theirs = kubric_read_png(path)
        found = fmt.layer_of_file(path.name)
        if found is None:
            import imagecodecs

            ours = imagecodecs.png_decode(path.read_bytes())
            np.testing.assert_array_equal(theirs, ours.reshape(theirs.shape), err_msg=str(path))
        else:
            layer, frame = found
            sd = dirs.setdefault(path.parent, SceneDir(path.parent))  # each layer decoded once
            ours = sd.stored(layer)[frame]
            if layer in ("segmentation", *fmt.OCCLUSION_LAYERS):
                assert theirs.shape[2] == 1, f"{path}: {theirs.shape[2]} planes"
                np.testing.assert_array_equal(theirs[..., 0], ours.astype(theirs.dtype), err_msg=str(path))
            elif layer in fmt.FLOW_LAYERS:
                np.testing.assert_array_equal(theirs[..., :2], ours, err_msg=str(path))
                assert (theirs[..., 2] == 0).all(), path
            else:
                np.testing.assert_array_equal(theirs, ours, err_msg=str(path))
            if layer in fmt.OCCLUSION_LAYERS:
                assert set(np.unique(theirs).tolist()) <= {0, 1}, path
        checked += 1
    return checked
