"""Intrinsic images from Cycles' light passes (imported only when rendering: uses `bpy`).

Cycles splits the light of each pixel by the kind of surface interaction; each colour pass
holds the weight (the BSDF's colour) of the first surface the camera ray meets and each
light pass the light that reached it, divided by that colour. So, per pixel and channel,
in linear scene light before the view transform and the denoiser:

    combined = diffuse_color * (diffuse_direct + diffuse_indirect)
             + glossy_color * (glossy_direct + glossy_indirect)
             + transmission_color * (transmission_direct + transmission_indirect)
             + emission + environment

`read_intrinsics` turns one frame's passes into the intrinsic images a scene directory keeps
(`io.format.INTRINSICS`): albedo (the diffuse colour), shading (diffuse direct + indirect),
the glossy colour and the residual (every term but the diffuse one), so that
`albedo * shading + residual` is the linear image. The passes are written with the frame's
RGBA into one multi-layer OpenEXR file per frame (`save_render` of the Render Result after
the PNG is written: the PNG keeps exactly the bytes it has without them) and read back by `render.exr`.
"""

from __future__ import annotations

import bpy
import numpy as np

from kubric_gen.render.exr import read_exr

_PASSES = ("diffuse_color", "diffuse_direct", "diffuse_indirect", "glossy_color", "glossy_direct",
           "glossy_indirect", "transmission_color", "transmission_direct", "transmission_indirect", "emit",
           "environment")
# Blender's channel names of those passes in the multi-layer EXR
_CHANNEL = {"emit": "Emission"}


def enable_passes(layer: bpy.types.ViewLayer) -> None:
    """Turn on the light and colour passes `read_intrinsics` needs."""
    for name in _PASSES:
        setattr(layer, f"use_pass_{name}", True)


def save_passes(bscene: bpy.types.Scene, path: str) -> None:
    """Write the last render of `bscene` with all its passes to `path` as a 32-bit float,
    uncompressed multi-layer OpenEXR. The Render Result is found through the scene whose
    settings `save_render` uses, so the scene's output format is switched for the call and
    put back (its PNG settings are what the next frame is written with)."""
    img = bscene.render.image_settings
    keep = {k: getattr(img, k) for k in ("media_type", "file_format", "color_mode", "color_depth", "compression")}
    try:
        img.media_type = "MULTI_LAYER_IMAGE"
        img.file_format = "OPEN_EXR_MULTILAYER"
        img.color_depth = "32"
        img.exr_codec = "NONE"
        bpy.data.images["Render Result"].save_render(path, scene=bscene)
    finally:
        for k, v in keep.items():
            setattr(img, k, v)


def _pass(channels: dict[str, np.ndarray], layer: str, name: str, shape: tuple[int, int]) -> np.ndarray:
    label = _CHANNEL.get(name, name.replace("_", " ").title())
    keys = [f"{layer}.{label}.{c}" for c in "RGB"]
    missing = [k for k in keys if k not in channels]
    if missing:
        raise RuntimeError(f"Blender wrote no {missing[0]!r} channel (got {sorted(channels)[:8]}...)")
    out = np.stack([channels[k] for k in keys], axis=-1).astype(np.float32)
    if out.shape[:2] != shape:
        raise RuntimeError(f"pass {label!r} has shape {out.shape[:2]}, expected {shape}")
    return out


def read_intrinsics(path: str, layer: str, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """One frame's intrinsic images, each (H, W, 3) float32 linear RGB: "albedo", "shading",
    "glossy_color", "residual" (see the module docstring), and "combined" (Cycles' image:
    denoised when the render is) for checks."""
    channels = read_exr(path)
    p = {name: _pass(channels, layer, name, shape) for name in _PASSES}
    residual = (p["glossy_color"] * (p["glossy_direct"] + p["glossy_indirect"])
                + p["transmission_color"] * (p["transmission_direct"] + p["transmission_indirect"])
                + p["emit"] + p["environment"])
    combined = np.stack([channels[f"{layer}.Combined.{c}"] for c in "RGB"], axis=-1).astype(np.float32)
    return {"albedo": p["diffuse_color"], "shading": p["diffuse_direct"] + p["diffuse_indirect"],
            "glossy_color": p["glossy_color"], "residual": residual, "combined": combined}
