"""`kubric-gen build-dataset`: package a folder of scene directories as a TFDS dataset.

Wired into kubric_gen/cli.py with `add_commands(subparsers, common)`. Importing this module
imports neither TensorFlow nor Apache Beam.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging

log = logging.getLogger(__name__)


def beam_options_from_args(args: argparse.Namespace) -> list[str] | None:
    """Beam pipeline arguments from --runner / --beam-option / --no-beam (None: no Beam).

    Without --no-beam the default is Beam's DirectRunner when apache_beam is installed,
    else generation in this process.
    """
    if args.no_beam:
        return None
    explicit = args.runner is not None or bool(args.beam_options)
    if not explicit and importlib.util.find_spec("apache_beam") is None:
        log.info("apache_beam is not installed: generating the dataset in this process")
        return None
    return [f"--runner={args.runner or 'DirectRunner'}", *args.beam_options]


def _cmd_build_dataset(args: argparse.Namespace) -> int:
    from kubric_gen.datasets.build import build_dataset
    from kubric_gen.datasets.extras import check_extras
    from kubric_gen.preflight import check_writable_dir

    check_extras(args.extras, 1)  # the names, before any work
    if "://" not in str(args.data_dir):
        check_writable_dir(args.data_dir, "--data-dir")

    result = build_dataset(args.scenes_dir, args.name, args.data_dir, config=args.config,
                           beam_options=beam_options_from_args(args), splits=args.splits,
                           overwrite=args.overwrite, file_format=args.file_format, extras=args.extras)
    print(result.summary())
    for path, reason in result.skipped:
        print(f"  skipped {path}: {reason}")
    print(how_to_load(result.name, result.config, result.version, str(args.data_dir), result.file_format))
    return 0


def how_to_load(name: str, config: str, version: str, data_dir: str, file_format: str) -> str:
    """The line saying how to read a build, with calls that work for its file format:
    `tfds.load` cannot read ArrayRecord (NotImplementedError), so those get `tfds.data_source`
    and the PyTorch dataset."""
    full = f"{name}/{config}:{version}"
    if file_format == "array_record":
        return (f"load it with: tfds.data_source({full!r}, data_dir={data_dir!r}, split='train') "
                f"or kubric_gen.datasets.torch.TFDSDataset({name!r}, data_dir={data_dir!r}, split='train', "
                f"config={config!r}) (tfds.load cannot read array_record)")
    return f"load it with: tfds.load({full!r}, data_dir={data_dir!r}, split='train')"


def add_file_format_option(parser: argparse.ArgumentParser) -> None:
    """`--file-format` of build-dataset and run --tfds."""
    from kubric_gen.datasets.config import FILE_FORMATS

    parser.add_argument("--file-format", choices=FILE_FORMATS, default="tfrecord",
                        help="tfrecord (default; MOVi's, read with tfds.load) or array_record (also random access: "
                             "tfds.data_source, kubric_gen.datasets.torch)")


def add_commands(subparsers, common_parent: argparse.ArgumentParser) -> None:
    """Add `build-dataset` to the `kubric-gen` subcommands."""
    p = subparsers.add_parser(
        "build-dataset", parents=[common_parent],
        help="package scene directories as a TFDS dataset with Kubric MOVi's features",
        description="Package the scene directories under SCENES_DIR (local, or gs:// etc.) as the TensorFlow "
                    "Datasets dataset NAME in DATA_DIR, with the features of Kubric's MOVi datasets. Incomplete "
                    "or invalid scene directories are skipped with a warning. Load the result with "
                    "tfds.load(NAME, data_dir=DATA_DIR).")
    p.add_argument("scenes_dir", metavar="SCENES_DIR", help="folder of scene directories (or one scene directory)")
    p.add_argument("--name", required=True, help="dataset name (snake_case), e.g. my_movi_a")
    p.add_argument("--data-dir", required=True, metavar="DATA_DIR", help="TFDS data directory to write into")
    p.add_argument("--config", metavar="WxH",
                   help="resolution config, e.g. 128x128 (default: the scenes' own resolution; a smaller one "
                        "must divide it by an integer factor)")
    p.add_argument("--splits", metavar="SPEC",
                   help="split fractions by scene-name hash, e.g. train=0.8,validation=0.1,test=0.1 "
                        "(default: train=0.9,validation=0.1)")
    p.add_argument("--overwrite", action="store_true",
                   help="rebuild the config if it was prepared from other scenes")
    add_file_format_option(p)
    p.add_argument("--extras", metavar="LIST", default=None,
                   help="optional features beyond MOVi's, comma-separated: amodal, scene_flow, "
                        "occlusion_boundaries, intrinsics, parts, deformations (default: none; see "
                        "docs/datasets.md)")
    g = p.add_argument_group("Apache Beam")
    g.add_argument("--runner", metavar="RUNNER",
                   help="Beam runner (default: DirectRunner when apache_beam is installed, else no Beam)")
    g.add_argument("--beam-option", dest="beam_options", action="append", default=[], metavar="ARG",
                   help="a Beam pipeline argument, repeatable, e.g. --beam-option=--direct_num_workers=2")
    g.add_argument("--no-beam", action="store_true", help="generate in this process without Beam")
    p.set_defaults(func=_cmd_build_dataset)
