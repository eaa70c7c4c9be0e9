"""Render settings and results: plain data, no `bpy` (safe to import anywhere)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from kubric_gen import checks
from kubric_gen.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "optix")
"""Where Cycles renders (`auto`: the best NVIDIA GPU present, else the CPU)."""
LIGHT_TREE = ("auto", "on", "off")
"""Cycles' light tree (many-light sampling): `auto` turns it on for more than 8 emitters."""
# The most PSNR per second on MOVi-A at 128x128 on the CPU (benchmarks/render_quality.py): at most
# 256 samples, adaptive sampling from 16 samples on at a 0.05 noise threshold, no light tree.
DEFAULT_SAMPLES, DEFAULT_ADAPTIVE_THRESHOLD, DEFAULT_ADAPTIVE_MIN_SAMPLES = 256, 0.05, 16
# Blender's view transforms; Filmic is what Kubric's MOVi frames were rendered with
VIEW_TRANSFORMS = ("Filmic", "Standard", "AgX", "Khronos PBR Neutral")
"""Blender's view transforms from scene light to display colours (Filmic: MOVi's look)."""


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
    intrinsics: also keep the intrinsic images (albedo, diffuse shading, glossy colour and the
        residual light: `render.intrinsics`), read from Cycles' light passes of the same render.
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
    intrinsics: bool = False

    def __post_init__(self) -> None:
        def check(name: str, kind: Callable, *args: Any, **kwargs: Any) -> None:
            object.__setattr__(self, name, kind(ConfigError, name, getattr(self, name), *args, **kwargs))

        check("samples", checks.integer, 1)
        check("adaptive_threshold", checks.number, 0)
        check("adaptive_min_samples", checks.integer, 0, hint="0: Cycles' choice")
        check("light_tree", checks.choice, LIGHT_TREE)
        check("denoise", checks.boolean)
        if isinstance(self.device, str):
            object.__setattr__(self, "device", self.device.lower())
        check("device", checks.choice, DEVICES)
        check("threads", checks.integer, 0, hint="0 uses all cores")
        check("motion_blur", checks.number, 0)
        check("view_transform", checks.choice, VIEW_TRANSFORMS)
        check("intrinsics", checks.boolean)


@dataclass
class RenderResult:
    """What `render` returns.

    rgba: uint8 (T, H, W, 4) sRGB frames, in the order of the `frames` asked for.
    frames: the frame numbers rendered.
    device: what rendered them, e.g. "CPU" or "OPTIX (NVIDIA H100)".
    timings: seconds spent in "build" (scene setup in Blender) and "render" (all frames), and
        in "save_blend" when a .blend file was saved.
    intrinsics: with `RenderSettings.intrinsics`, (T, H, W, 3) float32 linear RGB arrays
        "albedo", "shading", "glossy_color", "residual" and "combined" (Cycles' linear image:
        `render.intrinsics` says how they relate); else None.
    """

    rgba: np.ndarray
    device: str
    timings: dict[str, float] = field(default_factory=dict)
    frames: list[int] = field(default_factory=list)
    intrinsics: dict[str, np.ndarray] | None = None
