"""`kubric-gen export FORMAT SRC OUT`: scene directories in another community's format."""

from __future__ import annotations

import argparse
import sys
import time

from kubric_gen.cli_options import non_negative_int


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    from kubric_gen.export.formats import FORMATS

    formats = "; ".join(f"{f.name}: {f.summary}" for f in FORMATS.values())
    p = sub.add_parser("export", parents=[common], help="export scene directories to COCO, flow, stereo, TAP-Vid or "
                                                        "NeRF files",
                       description=f"Write the scene directory or folder of scene directories SRC to OUT in FORMAT "
                                   f"({formats}). Resumable: run it again to finish a stopped export. Conventions: "
                                   f"docs/exports.md.")
    p.add_argument("format", metavar="FORMAT", help=f"one of {', '.join(FORMATS)}")
    p.add_argument("source", metavar="SRC", help="a scene directory or a folder of them")
    p.add_argument("output", metavar="OUT", help="the folder to write (new, empty, or an export to resume)")
    p.add_argument("--workers", type=non_negative_int("--workers"), default=0, metavar="N",
                   help="scenes exported at once, in worker processes (default 0: one per core)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT when it holds an export of another format or options")
    p.add_argument("--category", metavar="LABEL", default=None,
                   help="coco: the class label whose names are the categories (default: the world's first)")
    p.set_defaults(func=_cmd_export)


class _Progress:
    """A unit progress bar on stderr on a terminal; elsewhere (a job's log) a line at most every
    LOG_INTERVAL seconds."""

    LOG_INTERVAL = 30.0

    def __init__(self, name: str) -> None:
        self.name, self.bar = name, None
        self.logged = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            if time.monotonic() - self.logged >= self.LOG_INTERVAL and done < total:
                self.logged = time.monotonic()
                print(f"kubric-gen export {self.name}: {done}/{total} units", file=sys.stderr, flush=True)
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"export {self.name}", unit="scene", file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_export(args: argparse.Namespace) -> int:
    from kubric_gen.export import export

    progress = _Progress(args.format)
    try:
        result = export(args.format, args.source, args.output, workers=args.workers, overwrite=args.overwrite,
                        options={"category": args.category}, progress=progress)
    finally:
        progress.close()
    for name, why in sorted(result.failed.items()):
        print(f"kubric-gen export: {name}: {why}", file=sys.stderr)
    print(f"exported {len(result.exported)} of {len(result.units)} units to {result.output}/ "
          f"({len(result.resumed)} already done, {len(result.failed)} failed) in {result.seconds:.1f} s")
    return 1 if result.failed else 0
