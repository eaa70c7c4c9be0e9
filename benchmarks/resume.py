"""The cost of resuming: how fast `kubric-gen run` skips finished scenes, now that a scene is
skipped only when its provenance matches the run (`kubric_gen.pipeline.resume`).

Renders one tiny real scene with `kubric-gen run` (MOVi-A 16x16, 1 frame, 1 sample), then makes
N (default 5,000) finished scene directories from it cheaply: every file hard-linked, except
provenance.json, rewritten with the scene's own seed (the `_COMPLETE` marker lists it without a
hash, so each directory is a valid finished scene of its seed). Then measures, each the fastest of
--repeat runs in this process:

    scenedir_complete_s   the skip check as it was before this benchmark (the baseline): per
                     scene, the `_COMPLETE` marker exists and `SceneDir.missing()` (which parses
                     metadata.json) finds every file
    complete_s       today's completeness (`Output.complete_scenes`: every file the marker
                     lists is in the folder's listing)
    complete_and_provenance_s   that plus `resume.check` (one provenance.json per scene): the
                     whole skip check of `kubric-gen run` now
    provenance_s     `resume.check` alone
    ratio            complete_and_provenance_s / scenedir_complete_s

and end to end (fastest of --repeat), the wall time of `kubric-gen run movi_a --num-scenes N`
over them (every scene skipped; Beam not started), which is what a user waits for:
`rerun_command_s`; with --baseline-tree DIR (another checkout, e.g. `git worktree add /tmp/old
REV` of a commit before the provenance check) the same command from that checkout
(`baseline_rerun_command_s`, run in turn with ours) and `command_ratio`. Prints one JSON object.

    .venv/bin/python benchmarks/resume.py
    .venv/bin/python benchmarks/resume.py --scenes 5000 --repeat 3 --baseline-tree /tmp/old \
        --output benchmarks/results/resume.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINY = ["--resolution", "16x16", "--frames", "1", "--samples", "1", "--tracks", "4", "--no-preview"]


ROOT = Path(__file__).resolve().parents[1]


def kubric_gen(*args: str, tree: Path | None = None) -> subprocess.CompletedProcess:
    """`kubric-gen ARGS` from this checkout, or from `tree` (ahead of the installed kubric_gen)."""
    env = dict(os.environ, PYTHONPATH=str(tree)) if tree else None
    return subprocess.run([sys.executable, "-m", "kubric_gen.cli", *args], capture_output=True, text=True,
                          check=False, cwd=tree or ROOT, env=env)


def make_scenes(source: Path, out: Path, n: int) -> None:
    """N finished scene directories of seeds 0..N-1 from one (hard links, own provenance)."""
    from kubric_gen.pipeline.outputs import scene_name

    provenance = json.loads((source / "provenance.json").read_text())
    files = [p for p in source.iterdir() if p.is_file() and p.name != "provenance.json"]
    for seed in range(n):
        target = out / scene_name(seed)
        if target == source:
            continue
        target.mkdir()
        for p in files:
            os.link(p, target / p.name)
        (target / "provenance.json").write_text(json.dumps({**provenance, "seed": seed}, indent=2, sort_keys=True))


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", default=None, help="also write the JSON here")
    parser.add_argument("--workdir", default=None, help="where the scenes go (default: a temporary folder)")
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="another checkout whose `kubric-gen run` is timed on the same scenes")
    args = parser.parse_args()

    from kubric_gen.pipeline import resume
    from kubric_gen.pipeline.outputs import open_output, scene_name
    from kubric_gen.world import load_world

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        out = Path(tmp) / "OUT"
        first = kubric_gen("run", "movi_a", "--num-scenes", "1", "--output", str(out), *TINY)
        if first.returncode != 0:
            sys.exit(f"rendering the source scene failed:\n{first.stderr}")
        t0 = time.perf_counter()
        make_scenes(out / scene_name(0), out, args.scenes)
        make_s = time.perf_counter() - t0
        names = [scene_name(s) for s in range(args.scenes)]
        output = open_output(out)
        provenance = json.loads((out / scene_name(0) / "provenance.json").read_text())
        want = resume.expected(load_world("movi_a"), provenance["config"], provenance["render_settings"])

        def scenedir_complete() -> set[str]:
            from kubric_gen.io.reader import SceneDir

            return {n for n in names if (out / n / "_COMPLETE").is_file() and not SceneDir(out / n).missing()}

        def baseline() -> set[str]:
            return output.complete_scenes() & set(names)

        def with_provenance() -> set[str]:
            complete = output.complete_scenes() & set(names)
            return complete - set(resume.check(output, sorted(complete), want, overwrite=False))

        old_s, old_complete = best(scenedir_complete, args.repeat)
        base_s, complete = best(baseline, args.repeat)
        assert old_complete == complete
        new_s, kept = best(with_provenance, args.repeat)
        assert complete == kept == set(names), (len(complete), len(kept))
        check_s, other = best(lambda: resume.check(output, sorted(complete), want, overwrite=False), args.repeat)
        assert other == []
        commands: dict[str, list[float]] = {"rerun_command_s": [], "baseline_rerun_command_s": []}
        for _ in range(args.repeat):
            for key, tree in (("rerun_command_s", None), ("baseline_rerun_command_s", args.baseline_tree)):
                if key.startswith("baseline") and tree is None:
                    continue
                t0 = time.perf_counter()
                rerun = kubric_gen("run", "movi_a", "--num-scenes", str(args.scenes), "--output", str(out), *TINY,
                                   tree=tree.resolve() if tree else None)
                commands[key].append(time.perf_counter() - t0)
                if rerun.returncode != 0 or f"{args.scenes} of {args.scenes} scenes already complete" \
                        not in rerun.stderr:
                    sys.exit(f"the rerun ({key}) did not skip every scene:\n{rerun.stderr}")
    result = {
        "benchmark": "resume",
        "settings": {"scenes": args.scenes, "repeat": args.repeat, "scene": "movi_a " + " ".join(TINY)},
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min": os.getloadavg()[0]},
        "make_scenes_s": round(make_s, 2),
        "scenedir_complete_s": round(old_s, 3),
        "complete_s": round(base_s, 3),
        "complete_and_provenance_s": round(new_s, 3),
        "provenance_s": round(check_s, 3),
        "ratio": round(new_s / old_s, 3),
        **{key: round(min(times), 2) for key, times in commands.items() if times},
    }
    if commands["baseline_rerun_command_s"]:
        result["baseline_tree"] = str(args.baseline_tree)
        result["command_ratio"] = round(min(commands["rerun_command_s"]) / min(commands["baseline_rerun_command_s"]),
                                        3)
    text = json.dumps(result)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
