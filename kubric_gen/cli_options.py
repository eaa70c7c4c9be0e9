"""Options shared by the commands (`render`, `scene`, `run`): their types, the render and
ground-truth option groups, and what they turn into (render settings, config overrides,
the preflight checks). Below every command module, so that commands never import each other.
"""

from __future__ import annotations

import argparse
import math

from kubric_gen.errors import ConfigError


def resolution(text: str) -> list[int]:
    from kubric_gen.world import parse_resolution

    try:
        return parse_resolution(text, "--resolution")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).partition(": ")[2]) from None


def positive_int(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})")
        return value
    return parse


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number (got {text!r})") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number (got {text!r})")
    return value


def non_negative_int(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a non-negative integer (got {text!r})") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"expected a non-negative integer (got {text!r})")
        return value
    return parse


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that renders."""
    g = parser.add_argument_group("rendering")
    g.add_argument("--resolution", type=resolution, metavar="WxH",
                   help="image size, e.g. 256x256 (sets the world's 'resolution' config)")
    g.add_argument("--frames", type=positive_int("--frames"), metavar="N",
                   help="number of frames (sets the world's 'num_frames' config)")
    from kubric_gen.render.settings import LIGHT_TREE, VIEW_TRANSFORMS, RenderSettings

    defaults = RenderSettings()
    g.add_argument("--samples", type=positive_int("--samples"), default=defaults.samples, metavar="N",
                   help=f"Cycles samples per pixel, the most with adaptive sampling (default: {defaults.samples})")
    g.add_argument("--adaptive-threshold", type=float, default=defaults.adaptive_threshold, metavar="T",
                   help=f"Cycles adaptive-sampling noise threshold, 0 = off (default: {defaults.adaptive_threshold})")
    g.add_argument("--adaptive-min-samples", type=non_negative_int("--adaptive-min-samples"),
                   default=defaults.adaptive_min_samples, metavar="N",
                   help="samples before adaptive sampling may stop a pixel, 0 = Cycles' choice "
                        f"(default: {defaults.adaptive_min_samples})")
    g.add_argument("--light-tree", default=defaults.light_tree, choices=LIGHT_TREE,
                   help="Cycles' light tree: auto = on for more than 8 lights and emitting objects (default: auto)")
    g.add_argument("--no-denoise", action="store_true", help="turn off OpenImageDenoise")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "optix"],
                   help="render device; auto = the best GPU present, else CPU (default: auto)")
    g.add_argument("--threads", type=non_negative_int("--threads"), default=0, metavar="N",
                   help="CPU render threads, 0 = all cores (default: 0)")
    g.add_argument("--view-transform", default=VIEW_TRANSFORMS[0], choices=VIEW_TRANSFORMS,
                   help="how light becomes display colour: Filmic (Kubric's MOVi look, default), Standard (plain "
                        "sRGB), AgX, Khronos PBR Neutral")
    g.add_argument("--intrinsics", action="store_true",
                   help="also write intrinsic images (albedo, diffuse shading, glossy colour, residual light) "
                        "from Cycles' passes: intrinsic_images.npz")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a world config value (repeatable); see `kubric-gen worlds`")


def add_truth_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("ground truth")
    g.add_argument("--tracks", type=non_negative_int("--tracks"), default=None, metavar="N",
                   help="point tracks to sample (tracks.npz), 0 = none (default: the world's choice, else 256)")
    g.add_argument("--float-layers", action="store_true",
                   help="also keep the exact float32 layers in layers.npz")


def render_settings(args: argparse.Namespace):
    from kubric_gen.render.settings import RenderSettings

    return RenderSettings(samples=args.samples, adaptive_threshold=args.adaptive_threshold,
                          adaptive_min_samples=args.adaptive_min_samples, light_tree=args.light_tree,
                          denoise=not args.no_denoise, device=args.device, threads=args.threads,
                          view_transform=args.view_transform, intrinsics=args.intrinsics)


def config_overrides(args: argparse.Namespace) -> dict:
    from kubric_gen.world import parse_overrides

    overrides: dict = parse_overrides(args.overrides)
    if args.resolution is not None:
        overrides["resolution"] = args.resolution
    if args.frames is not None:
        overrides["num_frames"] = args.frames
    return overrides
