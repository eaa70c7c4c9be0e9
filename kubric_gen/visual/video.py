"""Preview animations of the RGB frames: H.264 MP4 (small, plays everywhere) or GIF (no ffmpeg needed).

The MP4 is encoded with the ffmpeg binary of `imageio-ffmpeg` with bit-exact settings
(one thread, no encoder/version tags, no timestamps), so the same frames give the same
bytes: scene directories stay byte-identical for the same seed (`_COMPLETE` hashes them).
yuv420p needs even sizes: odd heights or widths are padded by repeating the last row or
column.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

MP4_CRF = 18  # visually lossless for synthetic frames; 24x256x256 is ~100-200 kB


class VideoError(RuntimeError):
    """ffmpeg is missing or could not encode the frames (the caller may fall back to a GIF)."""


def even_frames(rgb: np.ndarray) -> np.ndarray:
    """(T, H', W', 3) uint8 with H', W' even: the last row / column repeated where needed."""
    rgb = np.ascontiguousarray(np.asarray(rgb)[..., :3], dtype=np.uint8)
    pad_h, pad_w = rgb.shape[1] % 2, rgb.shape[2] % 2
    if pad_h or pad_w:
        rgb = np.pad(rgb, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return rgb


def ffmpeg_exe() -> str:
    """The ffmpeg binary (imageio-ffmpeg's, or IMAGEIO_FFMPEG_EXE); VideoError when there is none."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError) as e:
        raise VideoError(f"no ffmpeg ({e})") from None


def mp4_command(exe: str, width: int, height: int, frame_rate: float, path: str | os.PathLike) -> list[str]:
    """The ffmpeg command line: raw RGB on stdin -> H.264 yuv420p MP4, deterministic."""
    return [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{frame_rate:g}", "-i", "-",
            "-an", "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", str(MP4_CRF), "-threads", "1",
            "-x264-params", "threads=1:lookahead-threads=1",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
            "-movflags", "+faststart", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact",
            "-f", "mp4", os.fspath(path)]


def write_mp4(path: str | os.PathLike, rgb: np.ndarray, frame_rate: float, timeout: float = 120.0) -> Path:
    """The frames (T, H, W, 3|4) uint8 as an H.264 MP4 at `frame_rate`; VideoError when ffmpeg
    is missing or fails (a partial file is removed)."""
    frames = even_frames(rgb)
    _, height, width, _ = frames.shape
    path = Path(path)
    command = mp4_command(ffmpeg_exe(), width, height, frame_rate, path)
    try:
        done = subprocess.run(command, input=frames.tobytes(), capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        path.unlink(missing_ok=True)
        raise VideoError(f"ffmpeg did not run ({e})") from None
    if done.returncode != 0 or not path.exists() or path.stat().st_size == 0:
        path.unlink(missing_ok=True)
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise VideoError(f"ffmpeg failed (status {done.returncode}): {message[-1] if message else 'no output'}")
    return path


def write_gif(path: str | os.PathLike, rgb: np.ndarray, frame_rate: float) -> Path:
    """The frames as a looping GIF: one adaptive 256-colour palette per frame (Pillow's fast
    octree), no dithering."""
    from PIL import Image

    path = Path(path)
    frames = [Image.fromarray(np.ascontiguousarray(np.asarray(f)[..., :3], dtype=np.uint8)).quantize(
        256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE) for f in rgb]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=round(1000.0 / frame_rate), loop=0,
                   optimize=False)
    return path
