"""`kubric-gen validate PATH`: check a scene directory, a folder of them, or a prepared dataset.

One line per problem on stdout (``PATH/FILE: error|warning: what``), a summary on stderr;
exit status 0 when every check holds (warnings allowed unless --strict), 1 when not, 2 for
bad input. ``--json`` prints one machine-readable report instead. The checks are those of
`kubric_gen.io.validate` (scene directories) and `kubric_gen.datasets.validate` (TFDS
datasets, read without builder code); `build-dataset` skips scenes that fail them. A scene
with several cameras counts as one scene directory: its views are checked as scene directories
(problems name ``view_<camera>/<file>``) and the rig's own files against them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubric_gen.errors import ConfigError

EXIT_PROBLEMS = 1


def _check_scenes(path: str, threads: int) -> list[dict[str, Any]]:
    from kubric_gen.io.reader import SceneDir, list_scene_dirs
    from kubric_gen.io.validate import check_scene

    paths = list_scene_dirs(path)
    if not paths:
        raise ConfigError(f"PATH: {path} holds no scene directory (and no prepared dataset)")

    def one(p: str) -> dict[str, Any]:
        return {"path": p, "problems": check_scene(SceneDir(p))}

    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(paths)))) as pool:
        return list(tqdm(pool.map(one, paths), total=len(paths), desc="validating", unit="scene", disable=None,
                         file=sys.stderr, leave=False))


def _check_datasets(path: str) -> list[dict[str, Any]]:
    from kubric_gen.datasets.validate import check_dataset, find_dataset_versions

    out = []
    for version in find_dataset_versions(path):
        problems, count = check_dataset(version)
        out.append({"path": version, "problems": problems, "examples": count})
    return out


def _cmd_validate(args: argparse.Namespace) -> int:
    path = os.path.expanduser(args.path)
    import fsspec

    fs, root = fsspec.core.url_to_fs(path)
    if not fs.exists(root):
        raise ConfigError(f"PATH: {args.path} does not exist")
    from kubric_gen.datasets.validate import find_dataset_versions

    kind = "dataset" if find_dataset_versions(path) else "scenes"  # scene directories hold no dataset_info.json
    items = _check_datasets(path) if kind == "dataset" else _check_scenes(path, args.threads)
    failing = ("error", "warning") if args.strict else ("error",)
    errors = sum(p.severity == "error" for item in items for p in item["problems"])
    warnings = sum(p.severity == "warning" for item in items for p in item["problems"])
    bad_items = sum(any(p.severity in failing for p in item["problems"]) for item in items)
    ok = bad_items == 0
    if args.json:
        report = {"path": args.path, "kind": kind, "ok": ok, "checked": len(items), "failing": bad_items,
                  "errors": errors, "warnings": warnings,
                  "items": [{**{k: v for k, v in item.items() if k != "problems"},
                             "ok": not any(p.severity in failing for p in item["problems"]),
                             "problems": [p.to_dict() for p in item["problems"]]} for item in items]}
        print(json.dumps(report, indent=2))
    else:
        for item in items:
            for p in item["problems"]:
                print(p.line(item["path"]))
        what = "dataset versions" if kind == "dataset" else "scene directories"
        counts = f"{errors} errors, {warnings} warnings"
        if ok:
            print(f"kubric-gen validate: {len(items)} {what} checked: 0 failing, {counts}", file=sys.stderr)
        else:  # the one line on stderr of a failing command, as every other error (the problems are on stdout)
            print(f"kubric-gen: error: validate: {bad_items} of {len(items)} {what} failing ({counts}; "
                  f"listed on stdout)", file=sys.stderr)
    return 0 if ok else EXIT_PROBLEMS


def add_commands(subparsers, common_parent: argparse.ArgumentParser) -> None:
    """Add `validate` to the `kubric-gen` subcommands."""
    p = subparsers.add_parser(
        "validate", parents=[common_parent],
        help="check scene directories or a prepared dataset: every layer present, decodable and consistent",
        description="Check a scene directory, a folder of scene directories, or a prepared TFDS dataset "
                    "(<data_dir>/<name>[/<config>[/<version>]]): every layer present and decodable, shapes and frame "
                    "counts consistent, no NaN/inf, segmentation ids matching the instances, labels in their "
                    "declared vocabularies, ranges matching the data, flow matching depth and poses, tracks inside "
                    "the image; for a scene with several cameras, every view and the cross-view ground truth "
                    "(cross_view.npz) against the views' depth, segmentation and poses. Prints one line per problem; "
                    "exit status 0 when all hold, 1 when not.")
    p.add_argument("path", metavar="PATH", help="scene directory, folder of them, or dataset directory (local or URL)")
    p.add_argument("--json", action="store_true", help="print a JSON report instead of lines")
    p.add_argument("--strict", action="store_true", help="warnings fail too (exit status 1)")
    p.add_argument("--threads", type=int, default=4, metavar="N", help="scenes checked at once (default: 4)")
    p.set_defaults(func=_cmd_validate)
