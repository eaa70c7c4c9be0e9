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

from kubric_gen.cli_options import (
    add_render_options,
    add_truth_options,
    config_overrides,
    non_negative_int,
    positive_float,
    positive_int,
    render_settings,
    resolution,
)
from kubric_gen.errors import ConfigError, KubricGenError, SceneCrashed

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise ConfigError(message)


def _cmd_render(args: argparse.Namespace) -> int:
    from kubric_gen import preflight
    from kubric_gen.pipeline.world_probe import probe_world
    from kubric_gen.world import load_world, resolve_config

    preflight.check_writable_target(args.output, overwrite=args.overwrite)
    overrides = config_overrides(args)
    settings = render_settings(args)
    probe_world(args.world, overrides, args.timeout, "--timeout")  # a world that crashes on loading: one line
    world = load_world(args.world)
    config = resolve_config(world, overrides)  # fail on a bad --set before any work
    preflight.check_scene(config, settings.device, intrinsics=settings.intrinsics)
    resolution = config.get("resolution")
    if isinstance(resolution, (list, tuple)) and len(resolution) == 2:
        preflight.check_free_space(args.output, tuple(resolution), int(config.get("num_frames") or 24),
                                   intrinsics=settings.intrinsics)
    answer = _render_in_child(args, world, settings, overrides)
    t = answer["timings"]
    path = Path(answer["path"])
    from kubric_gen.datasets.scenes import warn_undeclared_labels

    warn_undeclared_labels(path)  # the world ran in the child: its labels are read back from metadata.json
    print(f"wrote {path}/ ({answer['device']}; physics {t['physics']:.1f} s, "
          f"ground truth {t['ground_truth']:.1f} s, render {t['render']:.1f} s)")
    if not args.no_preview:
        from kubric_gen.io.reader import SceneDir

        sd = SceneDir(path)
        if sd.is_multiview:
            print(f"contact sheet of the {len(sd.views)} cameras: {path / 'contact_sheet.png'}; previews: "
                  + ", ".join(f"{v.name}/{v.preview or 'preview.mp4'}" for v in sd.views))
        else:
            print(f"preview: {path / (sd.preview or 'preview.mp4')}")
    if args.save_blend:
        from kubric_gen.io.format import BLEND

        blends = sorted(str(p) for p in path.glob(f"*/{BLEND}")) or [str(path / BLEND)]  # one per view, or one
        print(f"blender scene: {', '.join(blends)}")
    return 0


def _render_in_child(args: argparse.Namespace, world, settings, overrides: dict) -> dict:
    """Generate the scene in a child process (`kubric_gen.pipeline.isolation`): a world that
    loops forever meets --timeout, a crash (segfault, os._exit, the OOM killer) is one line,
    and Ctrl-C stops the child with this process."""
    from dataclasses import asdict

    from kubric_gen.pipeline.isolation import ChildProcess, SceneFailure, world_spec

    request = {"name": Path(args.output).name, "seed": args.seed, "target": str(Path(args.output).absolute()),
           "overwrite": args.overwrite, "world": world_spec(world), "overrides": overrides,
           "settings": asdict(settings), "num_tracks": args.tracks, "float_layers": args.float_layers,
           "preview": not args.no_preview, "save_blend": args.save_blend, "output": None}
    child = ChildProcess(idle_timeout=0, timeout_option="--timeout")
    bar = _ProgressBar()
    try:
        return child.generate(request, timeout=args.timeout, progress=bar.update)
    except KeyboardInterrupt:
        child.kill()  # it ignores Ctrl-C itself: stop it at once rather than wait for it
        raise
    except SceneFailure as failure:
        if getattr(args, "verbose", False) and failure.stderr_tail:
            print(failure.stderr_tail, file=sys.stderr)
        if not failure.retryable:  # a KubricGenError in the child: the input's fault
            raise ConfigError(failure.message) from None
        hint = "" if getattr(args, "verbose", False) else " (-v shows its last output)"
        raise SceneCrashed(f"the scene's process {failure.reason.removeprefix('the child process ')}{hint}") from None
    finally:
        bar.close()
        child.close()


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


def _warn_undeclared_labels_of_run(output: str) -> None:
    """One line naming the labels a world without a label schema set on its objects (read from the
    first finished scene: the scenes ran in other processes)."""
    from kubric_gen.datasets.scenes import warn_undeclared_labels
    from kubric_gen.io.reader import SceneDirError, list_scene_dirs

    try:
        scenes = list_scene_dirs(output)
    except (SceneDirError, OSError):
        return
    if scenes:
        warn_undeclared_labels(scenes[0])


def _cmd_run(args: argparse.Namespace) -> int:
    """`kubric-gen run` (pipeline.driver), then with --tfds `build-dataset` on its output."""
    from kubric_gen import beam
    from kubric_gen.pipeline.cli import check_dataset_options, run_options
    from kubric_gen.pipeline.driver import drive

    beam.require("kubric-gen run")
    check_dataset_options(args)
    status = drive(run_options(args))
    if status == 0 and not args.tfds:  # (build_dataset says it itself)
        _warn_undeclared_labels_of_run(args.output)
    if status != 0 or not args.tfds:
        return status
    from kubric_gen.datasets import build_dataset

    data_dir = args.tfds_data_dir or f"{args.output.rstrip('/')}/_tfds"
    result = build_dataset(args.output, args.tfds, data_dir, overwrite=True, file_format=args.file_format,
                           extras=args.tfds_extras)
    counts = ", ".join(f"{split} {n}" for split, n in sorted(result.splits.items()))
    from kubric_gen.datasets.cli import how_to_load

    print(f"dataset {args.tfds} ({counts}) in {data_dir}; "
          + how_to_load(result.name, result.config, result.version, str(data_dir), result.file_format))
    return 0


def _cmd_worlds(args: argparse.Namespace) -> int:
    from kubric_gen.pipeline.world_probe import probe_world
    from kubric_gen.world import builtin_world_names, load_world

    names = [args.world] if args.world else builtin_world_names()
    for name in names:
        probe_world(name, timeout=args.timeout)
        world = load_world(name)
        print(f"{world.name}  ({world.path})")
        print(textwrap.indent(world.doc or "(no description)", "    "))
        print("    defaults: " + ", ".join(f"{k}={v!r}" for k, v in world.defaults.items()))
        print()
    return 0


def _cmd_scene(args: argparse.Namespace) -> int:
    from kubric_gen.pipeline.world_probe import probe_world
    from kubric_gen.scene import Scene
    from kubric_gen.world import build_scene, is_builtin, load_world, resolve_config

    overrides = config_overrides(args)
    probe_world(args.world, overrides, args.timeout, "--timeout")
    world = load_world(args.world)
    config = resolve_config(world, overrides)  # a bad --set: one line, before any child starts
    if is_builtin(args.world):
        scene = build_scene(world, args.seed, config)
    else:  # a user's world builds in a child process, like every render of it
        scene = Scene.from_dict(_build_in_child(args, world, overrides))
    print(scene.to_json())
    return 0


def _build_in_child(args: argparse.Namespace, world, overrides: dict) -> dict:
    """The scene of `args.seed` as plain data, built in a child process: a world that crashes
    (segfault, os._exit) is one line, one that loops meets --timeout, Ctrl-C stops it."""
    from kubric_gen.pipeline.isolation import BUILD, ChildProcess, SceneFailure, world_spec

    child = ChildProcess(idle_timeout=0, timeout_option="--timeout")
    request = {"kind": BUILD, "name": f"seed {args.seed}", "seed": args.seed, "world": world_spec(world),
               "overrides": overrides}
    try:
        return child.generate(request, timeout=args.timeout)["scene"]
    except KeyboardInterrupt:
        child.kill()
        raise
    except SceneFailure as failure:
        if not failure.retryable:  # a KubricGenError in the child: the input's fault
            raise ConfigError(failure.message) from None
        raise SceneCrashed(f"world {world.name!r}: its process building the scene of seed {args.seed} "
                           f"{failure.reason.removeprefix('the child process ')}") from None
    finally:
        child.close()


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
    p.add_argument("--seed", type=non_negative_int("--seed"), required=True, help="scene seed (0 is a seed)")
    p.add_argument("--output", required=True, metavar="DIR", help="the scene directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--no-preview", action="store_true", help="skip preview.mp4 and contact_sheet.png")
    p.add_argument("--save-blend", action="store_true",
                   help="also save the Blender scene of frame 0 as OUTPUT/scene.blend (images packed), "
                        "to open in Blender 5")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="stop the scene after this many seconds (exit status 1; default: no limit)")
    add_render_options(p)
    add_truth_options(p)
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("worlds", parents=[common], help="list the built-in worlds and their config")
    p.add_argument("world", nargs="?", help="show only this world (name or path)")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="stop a world that takes longer to load (exit status 1; default: no limit)")
    p.set_defaults(func=_cmd_worlds)

    p = sub.add_parser("scene", parents=[common], help="print the scene description (JSON) of one seed of a world")
    p.add_argument("world", metavar="WORLD")
    p.add_argument("--seed", type=non_negative_int("--seed"), required=True)
    p.add_argument("--resolution", type=resolution, metavar="WxH")
    p.add_argument("--frames", type=positive_int("--frames"), metavar="N")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="stop a world that takes longer to load or to build the scene (exit status 1; "
                        "default: no limit)")
    p.set_defaults(func=_cmd_scene)

    from kubric_gen.assets.cli import add_commands as add_asset_commands

    add_asset_commands(sub, parents=[common])

    from kubric_gen.datasets.cli import add_commands as add_dataset_commands

    add_dataset_commands(sub, common)

    from kubric_gen.pipeline.cli import add_run_parser

    add_run_parser(sub, common).set_defaults(func=_cmd_run)

    from kubric_gen.cli_validate import add_commands as add_validate_commands

    add_validate_commands(sub, common)

    from kubric_gen.cli_view import add_commands as add_view_commands

    add_view_commands(sub, common)

    from kubric_gen.export.cli import add_commands as add_export_commands

    add_export_commands(sub, common)
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
