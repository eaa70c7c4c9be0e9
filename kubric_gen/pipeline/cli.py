"""The command line of `kubric-gen run`: render many scenes of a world with Apache Beam.

`add_run_parser(subparsers, common_parent)` adds the `run` subcommand to the `kubric-gen`
parser (kubric_gen/cli.py wires it to `driver.drive`, then `build-dataset` for `--tfds`);
`run_options(args)` turns its parsed arguments into the driver's `RunOptions`. Arguments it
does not know are handed to Beam as PipelineOptions (e.g. `--dask_client_address=HOST:PORT`,
`--project=...`); write them as `--name=value`.
"""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Render scenes SEED_OFFSET .. SEED_OFFSET+N-1 of WORLD into OUTPUT/scene_XXXXXXXX (the seed),
each like `kubric-gen render WORLD --seed SEED`, fanned out with Apache Beam. Each scene renders
in a child process; crashes and timeouts are retried. Complete scenes made with the same world,
seed, config, render settings and versions are skipped, so running the same command again
resumes an interrupted run; one made otherwise stops the run (exit status 2) unless --overwrite.
OUTPUT/_run.json summarises the run; the exit status is 1 if some scene failed. Unknown
--options are passed to Beam."""


def _pass_through(parser_class: type) -> type:
    """A parser class whose parse_known_args keeps unknown arguments in `beam_args`
    instead of handing them back (so the top-level parse_args accepts them)."""

    class PassThroughParser(parser_class):
        def parse_known_args(self, args=None, namespace=None):
            namespace, extras = super().parse_known_args(args, namespace)
            namespace.beam_args = list(getattr(namespace, "beam_args", []) or []) + list(extras)
            return namespace, []

    PassThroughParser.__name__ = f"PassThrough{parser_class.__name__}"
    return PassThroughParser


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    from kubric_gen.cli_options import (
        add_render_options,
        add_truth_options,
        non_negative_int,
        positive_float,
        positive_int,
    )

    p.add_argument("world", metavar="WORLD", help="a built-in world name (e.g. movi_a) or a path to a world .py")
    p.add_argument("--num-scenes", type=positive_int("--num-scenes"), required=True, metavar="N",
                   help="number of scenes")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="output directory, or an fsspec URL (gs://..., s3://..., file://...)")
    p.add_argument("--seed-offset", type=non_negative_int("--seed-offset"), default=0, metavar="S",
                   help="seed of the first scene; scene i has seed S+i (default: 0)")
    g = p.add_argument_group("pipeline")
    g.add_argument("--runner", default="direct", metavar="NAME",
                   help="direct (default: this machine, --workers processes), dask (with "
                        "--dask_client_address=HOST:PORT), dataflow, flink, spark, portable, prism")
    g.add_argument("--workers", type=positive_int("--workers"), default=None, metavar="K",
                   help="parallel scenes on the direct runner (default: the number of cores, or --workers-per-gpu "
                        "per GPU); Cycles and ground-truth threads per scene default to cores // K")
    g.add_argument("--workers-per-gpu", type=positive_int("--workers-per-gpu"), default=None, metavar="N",
                   help="with GPUs (--device auto, cuda or optix): scenes rendered at once on each GPU, each "
                        "render child pinned to one GPU; default: 8, fewer when the machine has under 2 cores "
                        "per worker (--workers overrides the total)")
    g.add_argument("--retries", type=non_negative_int("--retries"), default=2, metavar="N",
                   help="retries of a scene that crashes or times out (default: 2)")
    g.add_argument("--scene-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="kill and retry a scene that takes longer (default: no limit)")
    g.add_argument("--scenes-per-child", type=positive_int("--scenes-per-child"), default=8, metavar="N",
                   help="scenes a child process renders before it is replaced; 1 = a fresh process per scene "
                        "(default: 8; a failed scene always gets a fresh one)")
    g.add_argument("--log-interval", type=positive_float, default=30.0, metavar="SECONDS",
                   help="seconds between progress lines when stderr is not a terminal (default: 30)")
    p.add_argument("--no-preview", action="store_true", help="skip preview.mp4 and contact_sheet.png")
    p.add_argument("--overwrite", action="store_true",
                   help="render again the complete scenes in OUTPUT that were made with another world, seed, "
                        "config, render settings or versions (without it they stop the run); a scene folder "
                        "holding files kubric_gen did not write is moved to OUTPUT/_replaced/ first")
    g = p.add_argument_group("dataset")
    g.add_argument("--tfds", metavar="NAME", default=None,
                   help="after rendering, package OUTPUT as the TFDS dataset NAME (needs the 'tfds' extra)")
    g.add_argument("--tfds-data-dir", metavar="DIR", default=None,
                   help="TFDS data directory for --tfds (default: OUTPUT/_tfds)")
    from kubric_gen.datasets.cli import add_file_format_option

    add_file_format_option(g)
    g.add_argument("--tfds-extras", metavar="LIST", default=None,
                   help="with --tfds: optional features beyond MOVi's, as build-dataset --extras (amodal, "
                        "scene_flow, occlusion_boundaries)")
    add_render_options(p)
    add_truth_options(p)
    for action in p._actions:
        if "--threads" in action.option_strings:
            action.help = ("Cycles threads per scene; 0 = share the cores: cores // workers on the direct runner, "
                           "the host's cores / its worker threads on Dask, all cores elsewhere (default: 0)")


def add_run_parser(subparsers, common_parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add `run` to the `kubric-gen` subcommands (`subparsers` from add_subparsers); return its
    parser (the caller sets its `func`)."""
    p = subparsers.add_parser("run", parents=[common_parent], allow_abbrev=False,
                              help="render many scenes of a world with Apache Beam (resumable)",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.__class__ = _pass_through(type(p))
    add_run_arguments(p)
    p.set_defaults(beam_args=[])
    return p


def check_dataset_options(args: argparse.Namespace) -> None:
    """`--tfds NAME` is a valid dataset name and `--tfds-extras` names known extras; both
    `--file-format` and `--tfds-extras` only go with it (checked before any scene is rendered)."""
    if args.tfds:
        from kubric_gen.datasets.config import check_name
        from kubric_gen.datasets.extras import check_extras

        check_name(args.tfds)
        check_extras(args.tfds_extras, 1)
    else:
        from kubric_gen.errors import ConfigError

        if args.file_format != "tfrecord":
            raise ConfigError(f"--file-format {args.file_format}: only used with --tfds NAME")
        if args.tfds_extras:
            raise ConfigError(f"--tfds-extras {args.tfds_extras}: only used with --tfds NAME")


def run_options(args: argparse.Namespace):
    """The driver's RunOptions from the parsed command line."""
    from kubric_gen.cli_options import config_overrides, render_settings
    from kubric_gen.pipeline.driver import RunOptions

    return RunOptions(
        world=args.world, num_scenes=args.num_scenes, output=args.output, seed_offset=args.seed_offset,
        overrides=config_overrides(args), settings=render_settings(args), num_tracks=args.tracks,
        float_layers=args.float_layers, preview=not args.no_preview, runner=args.runner, workers=args.workers,
        workers_per_gpu=args.workers_per_gpu, retries=args.retries, scene_timeout=args.scene_timeout,
        scenes_per_child=args.scenes_per_child, log_interval=args.log_interval,
        verbose=bool(getattr(args, "verbose", False)), beam_args=list(getattr(args, "beam_args", []) or []),
        command_line=getattr(args, "command_line", None), overwrite=bool(getattr(args, "overwrite", False)))
