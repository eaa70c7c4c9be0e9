"""The `kubric-gen` command.

User mistakes (bad options, unknown worlds, invalid scenes) print one line
`kubric-gen: error: ...` to stderr and exit with status 2, leaving no output behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

from kubric_gen.errors import ConfigError, KubricGenError

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise ConfigError(message)


def _resolution(text: str) -> list[int]:
    from kubric_gen.world import parse_resolution

    try:
        return parse_resolution(text, "--resolution")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e).partition(": ")[2]) from None


def _positive_int(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})")
        return value
    return parse


def _positive_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number (got {text!r})") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number (got {text!r})")
    return value


def _non_negative_int(name: str):
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
    g.add_argument("--resolution", type=_resolution, metavar="WxH",
                   help="image size, e.g. 256x256 (sets the world's 'resolution' config)")
    g.add_argument("--frames", type=_positive_int("--frames"), metavar="N",
                   help="number of frames (sets the world's 'num_frames' config)")
    g.add_argument("--samples", type=_positive_int("--samples"), default=64, metavar="N",
                   help="Cycles samples per pixel (default: 64)")
    g.add_argument("--adaptive-threshold", type=float, default=0.01, metavar="T",
                   help="Cycles adaptive-sampling noise threshold, 0 = off (default: 0.01)")
    g.add_argument("--no-denoise", action="store_true", help="turn off OpenImageDenoise")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "optix"],
                   help="render device; auto = the best GPU present, else CPU (default: auto)")
    g.add_argument("--threads", type=_non_negative_int("--threads"), default=0, metavar="N",
                   help="CPU render threads, 0 = all cores (default: 0)")
    from kubric_gen.render.settings import VIEW_TRANSFORMS

    g.add_argument("--view-transform", default=VIEW_TRANSFORMS[0], choices=VIEW_TRANSFORMS,
                   help="how light becomes display colour: Filmic (Kubric's MOVi look, default), Standard (plain "
                        "sRGB), AgX, Khronos PBR Neutral")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a world config value (repeatable); see `kubric-gen worlds`")


def add_truth_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("ground truth")
    g.add_argument("--tracks", type=_non_negative_int("--tracks"), default=None, metavar="N",
                   help="point tracks to sample (tracks.npz), 0 = none (default: the world's choice, else 256)")
    g.add_argument("--float-layers", action="store_true",
                   help="also keep the exact float32 layers in layers.npz")


def render_settings(args: argparse.Namespace):
    from kubric_gen.render.settings import RenderSettings

    return RenderSettings(samples=args.samples, adaptive_threshold=args.adaptive_threshold,
                          denoise=not args.no_denoise, device=args.device, threads=args.threads,
                          view_transform=args.view_transform)


def config_overrides(args: argparse.Namespace) -> dict:
    from kubric_gen.world import parse_overrides

    overrides: dict = parse_overrides(args.overrides)
    if args.resolution is not None:
        overrides["resolution"] = args.resolution
    if args.frames is not None:
        overrides["num_frames"] = args.frames
    return overrides


def preflight_scene(config: dict, device: str, workers: int = 1) -> None:
    """Memory for the resolution and the GPU asked for, before any scene is built."""
    from kubric_gen import preflight

    resolution = tuple(config.get("resolution") or (256, 256))
    frames = int(config.get("num_frames") or 24)
    if len(resolution) == 2 and all(isinstance(v, int) and v > 0 for v in resolution):
        preflight.check_memory(resolution, frames, workers)
    preflight.check_device(device)


def _cmd_render(args: argparse.Namespace) -> int:
    from kubric_gen import preflight
    from kubric_gen.world import load_world, resolve_config

    preflight.check_writable_target(args.output, overwrite=args.overwrite)
    overrides = config_overrides(args)
    settings = render_settings(args)
    world = load_world(args.world)
    config = resolve_config(world, overrides)  # fail on a bad --set before any work
    preflight_scene(config, settings.device)
    resolution = config.get("resolution")
    if isinstance(resolution, (list, tuple)) and len(resolution) == 2:
        preflight.check_free_space(args.output, tuple(resolution), int(config.get("num_frames") or 24))
    answer = _render_in_child(args, world, settings, overrides)
    t = answer["timings"]
    path = Path(answer["path"])
    print(f"wrote {path}/ ({answer['device']}; physics {t['physics']:.1f} s, "
          f"ground truth {t['ground_truth']:.1f} s, render {t['render']:.1f} s)")
    if not args.no_preview:
        print(f"preview: {path / 'preview.gif'}")
    return 0


def _render_in_child(args: argparse.Namespace, world, settings, overrides: dict) -> dict:
    """Run the scene in a child process (`kubric_gen.pipeline.child`): a world that loops
    forever meets --timeout, a crash (segfault, os._exit, the OOM killer) is one line, and
    Ctrl-C stops the child with this process."""
    from dataclasses import asdict

    from kubric_gen.pipeline.child import Child, SceneFailure
    from kubric_gen.pipeline.run import world_spec

    job = {"name": Path(args.output).name, "seed": args.seed, "target": str(Path(args.output).absolute()),
           "overwrite": args.overwrite, "world": world_spec(world), "overrides": overrides,
           "settings": asdict(settings), "num_tracks": args.tracks, "float_layers": args.float_layers,
           "preview": not args.no_preview, "output": None}
    child = Child(idle_timeout=0, timeout_option="--timeout")
    bar = _ProgressBar()
    try:
        return child.run(job, timeout=args.timeout, progress=bar.update)
    except KeyboardInterrupt:
        child.kill()  # it ignores Ctrl-C itself: stop it at once rather than wait for it
        raise
    except SceneFailure as failure:
        if getattr(args, "verbose", False) and failure.stderr_tail:
            print(failure.stderr_tail, file=sys.stderr)
        if not failure.retryable:  # a KubricGenError in the child: the input's fault
            raise ConfigError(failure.reason.split(": ", 1)[-1]) from None
        hint = "" if getattr(args, "verbose", False) else " (-v shows its last output)"
        raise SceneCrashed(f"the scene's process {failure.reason.removeprefix('the child process ')}{hint}") from None
    finally:
        bar.close()
        child.close()


class SceneCrashed(Exception):
    """The render process died or timed out (exit status 1, not a user error)."""


class _ProgressBar:
    """A frame progress bar on stderr (only on a terminal), created on the first update."""

    def __init__(self) -> None:
        self.bar = None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="rendering", unit="frame", disable=None, file=sys.stderr,
                            leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_worlds(args: argparse.Namespace) -> int:
    from kubric_gen.world import builtin_world_names, load_world

    names = [args.world] if args.world else builtin_world_names()
    for name in names:
        world = load_world(name)
        print(f"{world.name}  ({world.path})")
        print(textwrap.indent(world.doc or "(no description)", "    "))
        print("    defaults: " + ", ".join(f"{k}={v!r}" for k, v in world.defaults.items()))
        print()
    return 0


def _cmd_scene(args: argparse.Namespace) -> int:
    from kubric_gen.world import build_scene, load_world, resolve_config

    world = load_world(args.world)
    scene = build_scene(world, args.seed, resolve_config(world, config_overrides(args)))
    print(scene.to_json())
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log progress details to stderr")
    parser = _Parser(prog="kubric-gen", description="Synthetic video datasets with exact ground truth.",
                     parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("render", parents=[common], help="render one scene of a world into a scene directory",
                       description="Build scene SEED of WORLD, simulate it with PyBullet, render it with "
                                   "Blender Cycles and write a MOVi-style scene directory to OUTPUT.")
    p.add_argument("world", metavar="WORLD", help="a built-in world name (e.g. movi_a) or a path to a world .py")
    p.add_argument("--seed", type=_non_negative_int("--seed"), required=True, help="scene seed (0 is a seed)")
    p.add_argument("--output", required=True, metavar="DIR", help="the scene directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--no-preview", action="store_true", help="skip preview.gif")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                   help="stop the scene after this many seconds (exit status 1; default: no limit)")
    add_render_options(p)
    add_truth_options(p)
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("worlds", parents=[common], help="list the built-in worlds and their config")
    p.add_argument("world", nargs="?", help="show only this world (name or path)")
    p.set_defaults(func=_cmd_worlds)

    p = sub.add_parser("scene", parents=[common], help="print the scene description (JSON) of one seed of a world")
    p.add_argument("world", metavar="WORLD")
    p.add_argument("--seed", type=_non_negative_int("--seed"), required=True)
    p.add_argument("--resolution", type=_resolution, metavar="WxH")
    p.add_argument("--frames", type=_positive_int("--frames"), metavar="N")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_cmd_scene)

    from kubric_gen.assets.cli import add_commands as add_asset_commands

    add_asset_commands(sub, parents=[common])

    from kubric_gen.datasets.cli import add_commands as add_dataset_commands

    add_dataset_commands(sub, common)

    from kubric_gen.pipeline.cli import add_commands as add_pipeline_commands

    add_pipeline_commands(sub, common)

    from kubric_gen.cli_validate import add_commands as add_validate_commands

    add_validate_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        args.command_line = ["kubric-gen", *argv]  # recorded in run summaries
        logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                            format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
        return args.func(args)
    except KubricGenError as e:
        print(f"kubric-gen: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except SceneCrashed as e:
        print(f"kubric-gen: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kubric-gen: interrupted", file=sys.stderr)
        if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
            sys.stderr.flush()  # threads of an interrupted pipeline would keep the process alive
            sys.stdout.flush()
            os._exit(130)
        return 130
    except MemoryError:
        print("kubric-gen: error: out of memory (use a smaller resolution, fewer frames or fewer workers)",
              file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # the machine's fault, not the input's (disk full, permissions changed meanwhile, ...)
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"kubric-gen: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
