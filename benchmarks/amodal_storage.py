"""Amodal masks: the size of each way to store them, and what computing them costs.

For a scene of each world given, the ground truth is computed twice in this process, with and
without the amodal masks (the same machine and moment: the ratio is meaningful on a noisy
machine), and the (K, T, H, W) masks are encoded four ways:
- `png_per_instance_frame`: one 8-bit grey PNG per instance and frame (K * T files; the bytes
  of all, plus 4 KiB of file-system block per file on a typical disk, reported apart);
- `npz_bool`: the bool array, deflated (numpy's savez_compressed);
- `npz_packbits`: 8 pixels to a byte along rows, deflated (what `layers.write_amodal` writes);
- `npz_rle`: run lengths of each mask in column-major order (COCO's RLE), uint32, deflated.

    .venv/bin/python benchmarks/amodal_storage.py [--worlds movi_a movi_e] [--resolution 256] [--frames 24]
"""

from __future__ import annotations

import argparse
import io
import os
import time

import numpy as np
from report import emit

from kubric_gen.io.layers import encode_png, save_npz
from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth
from kubric_gen.world import build_scene, load_world, resolve_config

BLOCK = 4096


def _npz_bytes(arrays: dict[str, np.ndarray]) -> int:
    buffer = io.BytesIO()
    save_npz(buffer, arrays)
    return buffer.getbuffer().nbytes


def _rle(masks: np.ndarray) -> np.ndarray:
    """COCO-style run lengths (starting with a run of 0s) of every (H, W) mask, column-major,
    all concatenated, with a (K * T + 1) offsets array in front."""
    runs, offsets = [], [0]
    for mask in masks.reshape(-1, *masks.shape[2:]):
        flat = mask.T.reshape(-1).astype(np.int8)
        change = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1] if len(flat) else 0]))
        lengths = np.diff(np.r_[0, change])
        runs.append(lengths)
        offsets.append(offsets[-1] + len(lengths))
    return np.concatenate([np.asarray(offsets, dtype=np.uint32), *[r.astype(np.uint32) for r in runs]])


def encodings(masks: np.ndarray) -> dict:
    pngs = [len(encode_png(m.astype(np.uint8) * 255)) for m in masks.reshape(-1, *masks.shape[2:])]
    return {
        "png_per_instance_frame": {"bytes": int(sum(pngs)), "files": len(pngs),
                                   "bytes_on_disk": int(sum(-(-b // BLOCK) * BLOCK for b in pngs))},
        "npz_bool": {"bytes": _npz_bytes({"masks": masks}), "files": 1},
        "npz_packbits": {"bytes": _npz_bytes({"masks": np.packbits(masks, axis=-1),
                                              "shape": np.asarray(masks.shape)}), "files": 1},
        "npz_rle": {"bytes": _npz_bytes({"rle": _rle(masks), "shape": np.asarray(masks.shape)}), "files": 1},
    }


def measure(world_name: str, resolution: int, frames: int, seed: int) -> dict:
    world = load_world(world_name)
    config = resolve_config(world, {"resolution": [resolution, resolution], "num_frames": frames})
    scene = build_scene(world, seed, config)
    trajectory = physics.simulate(scene)
    seconds = {}
    for amodal in (False, True, False, True):  # alternated: a drift of the machine's speed hits both
        start = time.perf_counter()
        truth = compute_ground_truth(scene, trajectory, num_tracks=256, amodal=amodal)
        seconds.setdefault(amodal, []).append(time.perf_counter() - start)
    masks = truth.amodal.masks
    out = {"world": world_name, "resolution": resolution, "frames": frames, "instances": int(masks.shape[0]),
           "ground_truth_seconds": round(min(seconds[False]), 3),
           "ground_truth_with_amodal_seconds": round(min(seconds[True]), 3),
           "amodal_cost_fraction": round(min(seconds[True]) / min(seconds[False]) - 1, 4),
           "mean_visible_fraction": round(float(truth.amodal.visible_fraction[truth.amodal.pixels > 0].mean()), 4),
           "truncated_instance_frames": int(((truth.amodal.in_image_fraction > 0)
                                             & (truth.amodal.in_image_fraction < 1)).sum()),
           "encodings": encodings(masks)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=["movi_a", "movi_e"])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()
    emit({"benchmark": "amodal_storage", "cpus": os.cpu_count(),
          "runs": [measure(w, args.resolution, args.frames, args.seed) for w in args.worlds]}, args.output)


if __name__ == "__main__":
    main()
