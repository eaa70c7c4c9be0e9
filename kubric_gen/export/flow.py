"""Optical flow in Sintel's layout (.flo, as Middlebury and Sintel's loaders read it) and in
KITTI's (16-bit PNGs with validity), for the T - 1 frame pairs (t, t + 1) of each unit.

    sintel/clean/<unit>/frame_0001.png ...      the RGB frames, numbered from 1 as Sintel's
    sintel/flow/<unit>/frame_0001.flo ...       forward flow of frame_000i to frame_000(i+1)
    sintel/occlusions/<unit>/frame_0001.png     255 where the point is hidden or off-screen in i+1
    kitti/image_2/<unit>-0000_10.png, _11.png   frames t and t + 1 of pair t
    kitti/flow_occ/<unit>-0000_10.png           KITTI flow PNG, valid where a surface is seen
    kitti/flow_noc/<unit>-0000_10.png           valid only where it stays visible in t + 1

The flow is the scene directory's forward flow as `SceneDir` decodes it (within half of its
16-bit quantisation step of the exact flow). A scene directory without occlusion masks (Kubric's
MOVi) gets no `occlusions/` and no `flow_noc/` files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kubric_gen.export.codecs import kitti_flow_png, write_flo
from kubric_gen.export.units import Unit, write_bytes
from kubric_gen.io.layers import encode_png


def write_unit(unit: Unit, staging: Path, options: dict) -> dict:
    sd = unit.scene
    rgb = sd.stored("rgba")[..., :3]
    flow = sd.layer("forward_flow")
    occluded = sd.layer("forward_flow_occlusion").astype(bool) if sd.has("forward_flow_occlusion") else None
    seen = np.isfinite(sd.layer("depth"))
    name = unit.name
    for t in range(sd.num_frames):
        frame = encode_png(np.ascontiguousarray(rgb[t]))
        write_bytes(staging / "sintel" / "clean" / name / f"frame_{t + 1:04d}.png", frame)
    for t in range(sd.num_frames - 1):
        flo = staging / "sintel" / "flow" / name / f"frame_{t + 1:04d}.flo"
        flo.parent.mkdir(parents=True, exist_ok=True)
        write_flo(flo, flow[t])
        if occluded is not None:
            write_bytes(staging / "sintel" / "occlusions" / name / f"frame_{t + 1:04d}.png",
                        encode_png(occluded[t].astype(np.uint8) * 255))
        pair = f"{name}-{t:04d}"
        write_bytes(staging / "kitti" / "image_2" / f"{pair}_10.png", encode_png(np.ascontiguousarray(rgb[t])))
        write_bytes(staging / "kitti" / "image_2" / f"{pair}_11.png", encode_png(np.ascontiguousarray(rgb[t + 1])))
        write_bytes(staging / "kitti" / "flow_occ" / f"{pair}_10.png", kitti_flow_png(flow[t], seen[t]))
        if occluded is not None:
            write_bytes(staging / "kitti" / "flow_noc" / f"{pair}_10.png",
                        kitti_flow_png(flow[t], seen[t] & ~occluded[t]))
    return {"pairs": sd.num_frames - 1}
