"""Start-up time of the `kubric-gen` command (`kubric-gen --help`): every command, and every
test that runs one, pays it before doing anything.

Baselines measured in the same run, interleaved: the bare interpreter (`python -c pass`) and,
with `--baseline-tree DIR`, the same command from another checkout of kubric_gen (e.g. a
`git worktree` of an older commit). Prints one JSON object (and writes it with --output).

    python benchmarks/cli_startup.py --repeats 10 --baseline-tree /tmp/kg_old
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from report import emit

ROOT = Path(__file__).resolve().parents[1]


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd="/")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--baseline-tree", type=Path, help="another kubric_gen checkout to time the same way")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    def env_for(tree: Path) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": f"{tree}:{os.environ.get('PYTHONPATH', '')}"}

    cases = {"python_c_pass": ([sys.executable, "-c", "pass"], dict(os.environ)),
             "kubric_gen_help": ([sys.executable, "-m", "kubric_gen.cli", "--help"], env_for(ROOT))}
    if args.baseline_tree:
        cases["baseline_tree_help"] = ([sys.executable, "-m", "kubric_gen.cli", "--help"], env_for(args.baseline_tree))
    for argv, env in cases.values():  # warm the file cache once
        _time(argv, env)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, (argv, env) in cases.items():
            times[name].append(_time(argv, env))
    median = {name: round(statistics.median(t), 3) for name, t in times.items()}
    result = {"benchmark": "cli_startup", "repeats": args.repeats, "median_s": median,
              "min_s": {name: round(min(t), 3) for name, t in times.items()},
              "kubric_gen_over_interpreter_s": round(median["kubric_gen_help"] - median["python_c_pass"], 3)}
    if args.baseline_tree:
        result["baseline_over_interpreter_s"] = round(median["baseline_tree_help"] - median["python_c_pass"], 3)
        result["speedup_vs_baseline"] = round(median["baseline_tree_help"] / median["kubric_gen_help"], 2)
    emit(result, args.output)


if __name__ == "__main__":
    main()
