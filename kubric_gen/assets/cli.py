"""`kubric-gen assets ...`: list a library, convert a folder of meshes into one.

Wire it into the main parser with `add_commands(subparsers, parents=[common])`. User
mistakes raise `KubricGenError`s (AssetError, ConfigError), which the main command
prints as one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kubric_gen.errors import ConfigError


def add_commands(subparsers, parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
    """Add `assets list` and `assets convert` to `subparsers`; returns the `assets` parser."""
    parents = list(parents)
    assets = subparsers.add_parser("assets", parents=parents, help="list asset libraries, convert meshes into one",
                                   description="Asset libraries: manifests of meshes, textures and backgrounds.")
    parser_class = getattr(subparsers, "_parser_class", argparse.ArgumentParser)
    sub = assets.add_subparsers(dest="assets_command", required=True, metavar="COMMAND", parser_class=parser_class)

    p = sub.add_parser("list", parents=parents, help="list the assets of a library (or the built-in libraries)",
                       description="Print id, kind, category, local bounds and availability of each asset. "
                                   "Without LIBRARY, list the built-in libraries.")
    p.add_argument("library", nargs="?", metavar="LIBRARY",
                   help="a manifest path or URL, a folder with manifest.json, an archive, or a built-in "
                        "name (kubasic, pybullet_data)")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("convert", parents=parents, help="convert a folder of meshes into an asset library",
                       description="Normalise every mesh under SRC_DIR (OBJ, GLB, PLY, STL, ...; the Google "
                                   "Scanned Objects layout included), compute collision meshes and write "
                                   "LIB_DIR/manifest.json. Unchanged models are skipped on a re-run.")
    p.add_argument("src", metavar="SRC_DIR", help="folder of meshes")
    p.add_argument("--output", required=True, metavar="LIB_DIR", help="library folder to create or update")
    p.add_argument("--collision", default="auto", choices=["auto", "vhacd", "convex_hull", "lazy"],
                   help="collision meshes: auto = convex hull for convex meshes, else VHACD (~10 s per mesh); "
                        "lazy = computed on first use (default: auto)")
    p.add_argument("--category", default=None, help="category recorded for every converted asset")
    p.add_argument("--licence", default=None, help="licence recorded for every converted asset")
    p.add_argument("--force", action="store_true", help="convert again even models that did not change")
    p.add_argument("--skip-errors", action="store_true", help="skip meshes that cannot be read instead of stopping")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("prepare", parents=parents, help="make every asset's files now (shapes, collision meshes)",
                       description="Generate, fetch or extract every available asset of each LIBRARY and compute "
                                   "its collision mesh, into the cache ($KUBRIC_GEN_CACHE), so that no scene pays "
                                   "for it later. Our images run this for the built-in libraries.")
    p.add_argument("libraries", nargs="*", metavar="LIBRARY", default=["kubasic", "pybullet_data"],
                   help="built-in names, manifest paths or URLs (default: kubasic pybullet_data)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="processes (default: one per core)")
    p.set_defaults(func=_cmd_prepare)
    return assets


def _cmd_prepare(args: argparse.Namespace) -> int:
    import time

    from kubric_gen.assets.library import AssetLibrary

    if args.workers < 0:
        raise ConfigError(f"--workers: must be >= 0 (got {args.workers})")
    for source in args.libraries:
        start = time.perf_counter()
        library = AssetLibrary.load(source)
        bar = _Bar(f"preparing {library.name}")
        try:
            done = library.prepare(workers=args.workers, progress=bar.update)
        finally:
            bar.close()
        print(f"{library.name}: {len(done)} of {len(library)} assets prepared in {time.perf_counter() - start:.1f} s "
              f"({library.root})")
    return 0


def _fmt_bounds(bounds) -> str:
    if bounds is None:
        return "-"
    lo, hi = bounds
    return "[" + " ".join(f"{v:.3g}" for v in lo) + "]..[" + " ".join(f"{v:.3g}" for v in hi) + "]"


def _cmd_list(args: argparse.Namespace) -> int:
    from kubric_gen.assets.library import BUILTIN, AssetLibrary

    if not args.library:
        descriptions = {"kubasic": "Kubric's basic shapes, generated on first use",
                        "pybullet_data": "meshes of the pybullet_data package (duck, bunny, 1000 random objects, ...)"}
        for name in BUILTIN:
            print(f"{name:15s} {descriptions[name]}")
        return 0
    if args.library == "pybullet_data":
        bar = _Bar("indexing pybullet_data")
        try:
            library = AssetLibrary.pybullet_data(progress=bar.update)
        finally:
            bar.close()
    else:
        library = AssetLibrary.load(args.library)
    width = max([len(e.id) for e in library] + [2])
    print(f"# {library.name}: {len(library)} assets ({library.location})")
    print(f"{'id':{width}s}  {'kind':10s} {'category':12s} {'bounds':44s} available")
    for e in library:
        available = "yes" if e.available else f"no: {e.reason}"
        print(f"{e.id:{width}s}  {e.kind:10s} {e.category or '-':12s} {_fmt_bounds(e.bounds):44s} {available}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kubric_gen.assets.convert import convert_folder
    from kubric_gen.preflight import check_writable_dir

    if not Path(args.src).is_dir():
        raise ConfigError(f"SRC_DIR: not a folder (got {args.src!r})")
    check_writable_dir(args.output, "--output")
    result = convert_folder(args.src, args.output, collision=args.collision, progress=True, force=args.force,
                            skip_errors=args.skip_errors, category=args.category, licence=args.licence)
    for rel, message in result.failed:
        print(f"failed: {rel}: {message}", file=sys.stderr)
    print(result.summary())
    return 0


class _Bar:
    """A tqdm bar on stderr (only on a terminal), created on the first update."""

    def __init__(self, desc: str) -> None:
        self.desc, self.bar = desc, None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="mesh", disable=None, file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
