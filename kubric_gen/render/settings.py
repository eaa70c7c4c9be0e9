"""Render settings and results: plain data, no `bpy` (safe to import anywhere)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from kubric_gen.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "optix")
LIGHT_TREE = ("auto", "on", "off")
# The most PSNR per second on MOVi-A at 128x128 on the CPU (benchmarks/render_quality.py): at most
# 256 samples, adaptive sampling from 16 samples on at a 0.05 noise threshold, no light tree.
DEFAULT_SAMPLES, DEFAULT_ADAPTIVE_THRESHOLD, DEFAULT_ADAPTIVE_MIN_SAMPLES = 256, 0.05, 16
# Blender's view transforms; Filmic is what Kubric's MOVi frames were rendered with
VIEW_TRANSFORMS = ("Filmic", "Standard", "AgX", "Khronos PBR Neutral")


def _bad(name: str, value: object, reason: str) -> ConfigError:
    return ConfigError(f"{name}: {reason} (got {value!r})")


@dataclass(frozen=True, kw_only=True)
class RenderSettings:
    """How Cycles renders a scene.

    samples: path-tracing samples per pixel (the maximum when adaptive sampling is on).
    adaptive_threshold: noise threshold of adaptive sampling; 0 disables it.
    adaptive_min_samples: samples every pixel gets before adaptive sampling may stop it
        (0: Cycles' own choice, which at small thresholds never stops below ~128 samples).
    light_tree: Cycles' light tree: "auto" (on for more than 8 emitters, lights and emitting
        objects together; with a few it only costs), "on", "off".
    denoise: OpenImageDenoise on the final image.
    device: "auto" (OptiX, else CUDA, else CPU), "cpu", "cuda" or "optix"; asking for a
        GPU kind that is not present is an error.
    threads: CPU render threads; 0 uses all cores.
    motion_blur: shutter time in frames (e.g. 0.5); 0 renders without motion blur.
    view_transform: how scene light becomes display colour: "Filmic" (Kubric's MOVi look,
        the default), "Standard" (plain sRGB: a linear colour 1.0 is white), "AgX" or
        "Khronos PBR Neutral".
    """

    samples: int = DEFAULT_SAMPLES
    adaptive_threshold: float = DEFAULT_ADAPTIVE_THRESHOLD
    adaptive_min_samples: int = DEFAULT_ADAPTIVE_MIN_SAMPLES
    light_tree: Literal["auto", "on", "off"] = "auto"
    denoise: bool = True
    device: Literal["auto", "cpu", "cuda", "optix"] = "auto"
    threads: int = 0
    motion_blur: float = 0.0
    view_transform: str = "Filmic"

    def __post_init__(self) -> None:
        if isinstance(self.samples, bool) or not isinstance(self.samples, (int, np.integer)):
            raise _bad("samples", self.samples, "expected an integer")
        if self.samples < 1:
            raise _bad("samples", self.samples, "must be >= 1")
        object.__setattr__(self, "samples", int(self.samples))
        object.__setattr__(self, "adaptive_threshold", _float("adaptive_threshold", self.adaptive_threshold))
        if isinstance(self.adaptive_min_samples, bool) or not isinstance(self.adaptive_min_samples,
                                                                         (int, np.integer)):
            raise _bad("adaptive_min_samples", self.adaptive_min_samples, "expected an integer")
        if self.adaptive_min_samples < 0:
            raise _bad("adaptive_min_samples", self.adaptive_min_samples, "must be >= 0 (0: Cycles' choice)")
        object.__setattr__(self, "adaptive_min_samples", int(self.adaptive_min_samples))
        if self.light_tree not in LIGHT_TREE:
            raise _bad("light_tree", self.light_tree, f"must be one of {', '.join(LIGHT_TREE)}")
        if not isinstance(self.denoise, (bool, np.bool_)):
            raise _bad("denoise", self.denoise, "expected true or false")
        object.__setattr__(self, "denoise", bool(self.denoise))
        device = self.device.lower() if isinstance(self.device, str) else self.device
        if device not in DEVICES:
            raise _bad("device", self.device, f"must be one of {', '.join(DEVICES)}")
        object.__setattr__(self, "device", device)
        if isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer)):
            raise _bad("threads", self.threads, "expected an integer")
        if self.threads < 0:
            raise _bad("threads", self.threads, "must be >= 0 (0 uses all cores)")
        object.__setattr__(self, "threads", int(self.threads))
        object.__setattr__(self, "motion_blur", _float("motion_blur", self.motion_blur))
        if self.view_transform not in VIEW_TRANSFORMS:
            raise _bad("view_transform", self.view_transform, f"must be one of {', '.join(VIEW_TRANSFORMS)}")


def _float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise _bad(name, value, "expected a number")
    out = float(value)
    if not math.isfinite(out):
        raise _bad(name, value, "must be finite")
    if out < 0:
        raise _bad(name, value, "must be >= 0")
    return out


@dataclass
class RenderResult:
    """What `render` returns.

    rgba: uint8 (T, H, W, 4) sRGB frames, in the order of the `frames` asked for.
    frames: the frame numbers rendered.
    device: what rendered them, e.g. "CPU" or "OPTIX (NVIDIA H100)".
    timings: seconds spent in "build" (scene setup in Blender) and "render" (all frames), and
        in "save_blend" when a .blend file was saved.
    """

    rgba: np.ndarray
    device: str
    timings: dict[str, float] = field(default_factory=dict)
    frames: list[int] = field(default_factory=list)
