"""Point tracks as TAP-Vid's evaluation reads its DAVIS and RGB-Stacking pickles: a dict from video
name to {"video": uint8 (T, H, W, 3), "points": float32 (N, T, 2) (x, y) divided by (width,
height), so in [0, 1] inside the image, "occluded": bool (N, T)}, plus our "query_points"
(N, 3) (t, y, x) in pixels (TAP-Vid samples its own queries from points and occluded; the key
is ignored by its code).

    videos/<unit>.pkl   one video's dict
    tapvid.pkl          every unit's, in name order (the file to hand to TAP-Vid's evaluation)
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from kubric_gen.export.units import Unit, write_bytes
from kubric_gen.io import SceneDirError
from kubric_gen.io import format as fmt

COMBINED = "tapvid.pkl"


def video_entry(unit: Unit) -> dict[str, np.ndarray]:
    sd = unit.scene
    tracks = sd.tracks()
    if tracks is None:
        raise SceneDirError(f"{fmt.TRACKS} is missing (render the scenes with --tracks N, N > 0)")
    width, height = sd.resolution
    return {"video": np.ascontiguousarray(sd.stored("rgba")[..., :3]),
            "points": (tracks.target_points / np.array([width, height], np.float32)).astype(np.float32),
            "occluded": tracks.occluded.astype(bool),
            "query_points": tracks.query_points.astype(np.float32)}


def write_unit(unit: Unit, staging: Path, options: dict) -> dict:
    entry = video_entry(unit)
    write_bytes(staging / "videos" / f"{unit.name}.pkl", pickle.dumps({unit.name: entry}, protocol=4))
    return {"file": f"videos/{unit.name}.pkl", "points": int(entry["points"].shape[0])}


def finish(output: Path, parts: list[tuple[str, dict]], options: dict) -> list[str]:
    combined: dict = {}
    for _, part in parts:
        with open(output / part["file"], "rb") as f:
            combined.update(pickle.load(f))
    tmp = output / f".{COMBINED}.tmp"
    tmp.write_bytes(pickle.dumps(combined, protocol=4))
    tmp.replace(output / COMBINED)
    return [COMBINED]
