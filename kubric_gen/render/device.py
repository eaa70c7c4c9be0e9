"""Choosing the Cycles device (imported only when rendering: uses `bpy`)."""

from __future__ import annotations

import logging

import bpy

from kubric_gen.errors import ConfigError

logger = logging.getLogger("kubric_gen.render")

_GPU_ORDER = ("OPTIX", "CUDA")


def _gpus(prefs, kind: str) -> list:
    try:
        devices = prefs.get_devices_for_type(kind)
    except Exception as e:  # an unusable driver shows up as an error here
        logger.debug("no %s devices: %s", kind, e)
        return []
    return [d for d in devices if d.type == kind]


def configure_device(scene: bpy.types.Scene, device: str) -> str:
    """Point `scene` at the device asked for ("auto", "cpu", "cuda", "optix") and
    return a description of what it will render on, e.g. "OPTIX (NVIDIA H100)".

    Must be called after every factory reset: that resets the preferences too.
    """
    prefs = bpy.context.preferences.addons["cycles"].preferences
    wanted = _GPU_ORDER if device == "auto" else (() if device == "cpu" else (device.upper(),))
    for kind in wanted:
        gpus = _gpus(prefs, kind)
        if not gpus:
            continue
        prefs.compute_device_type = kind
        for d in prefs.get_devices_for_type(kind):
            d.use = d.type == kind  # GPUs only: adding the CPU usually slows a GPU down
        scene.cycles.device = "GPU"
        return f"{kind} ({', '.join(d.name for d in gpus)})"
    if device in ("cuda", "optix"):
        raise ConfigError(f"device: no {device.upper()} device is available on this machine (got {device!r}); "
                          "use device='auto' or 'cpu'")
    prefs.compute_device_type = "NONE"
    scene.cycles.device = "CPU"
    return "CPU"
