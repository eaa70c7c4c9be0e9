"""Our own CPU stages per scene: ground truth and writing, against an older commit in the same run.

For MOVi-A (`--seed` 3 with 10 objects, 256x256, 24 frames by default) a child process builds and
simulates the scene, then times `compute_ground_truth` (every layer, both flows with occlusion,
256 point tracks) and `write_scene` (every file of the scene directory, preview included), each
`--repeats` times (the fastest counts). The RGBA frames are the ground-truth normals shaded as
colours (smooth, like a render; no renderer runs). The same child runs with this checkout and
with `--baseline` (a commit, checked out in a temporary git worktree), one after the other on the
same machine, so the speed-up is measured, not remembered. Target (issue 12): ground truth +
writing <= 2 s per scene on 2 cores.

    .venv/bin/python benchmarks/cpu_stages.py [--baseline d6e4f42] [--resolution 256] [--frames 24]
        [--threads 0 1] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import emit

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "d6e4f42"  # the last commit before issue 12's ground-truth and writing changes


def child(args: argparse.Namespace) -> dict:
    import inspect

    import numpy as np

    from kubric_gen.io.scene_dir import write_scene
    from kubric_gen.simulation import physics
    from kubric_gen.truth import compute_ground_truth
    from kubric_gen.world import build_scene, load_world, resolve_config

    world = load_world("movi_a")
    config = resolve_config(world, {"resolution": [args.resolution] * 2, "num_frames": args.frames,
                                    "min_num_objects": 10, "max_num_objects": 10})
    scene = build_scene(world, args.seed, config)
    trajectory = physics.simulate(scene)
    threaded = "threads" in inspect.signature(compute_ground_truth).parameters
    out: dict = {"objects": len(scene.objects) - 1, "runs": []}
    for threads in args.threads if threaded else [None]:
        kwargs = {} if threads is None else {"threads": threads}
        truth_s, write_s = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            truth = compute_ground_truth(scene, trajectory, num_tracks=256, **kwargs)
            truth_s.append(time.perf_counter() - start)
            rgba = np.concatenate([((truth.normal + 1) * 127.5).astype(np.uint8),
                                   np.full(truth.normal.shape[:3] + (1,), 255, np.uint8)], axis=-1)
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                write_scene(Path(tmp) / "scene", scene, trajectory, rgba, {}, {}, truth=truth, **kwargs)
                write_s.append(time.perf_counter() - start)
                size = sum(p.stat().st_size for p in (Path(tmp) / "scene").iterdir())
        out["runs"].append({"threads": threads if threaded else "n/a", "ground_truth_s": round(min(truth_s), 3),
                            "write_s": round(min(write_s), 3), "total_s": round(min(truth_s) + min(write_s), 3),
                            "scene_dir_mib": round(size / 2**20, 2)})
    return out


def run_child(args: argparse.Namespace, source: Path) -> dict:
    command = [sys.executable, __file__, "--child", "--seed", str(args.seed), "--resolution", str(args.resolution),
               "--frames", str(args.frames), "--repeats", str(args.repeats),
               "--threads", *map(str, args.threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=source)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[0, 1], help="0 = one per core")
    parser.add_argument("--baseline", default=BASELINE, help="commit to compare with ('' to skip)")
    parser.add_argument("--output", help="also write the JSON here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    results = {"benchmark": "cpu_stages", "cpus": os.cpu_count(), "world": "movi_a", "seed": args.seed,
               "resolution": args.resolution, "frames": args.frames, "current": run_child(args, ROOT)}
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp:
            worktree = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.baseline],
                           check=True, capture_output=True)
            try:
                results["baseline"] = {"commit": args.baseline, **run_child(args, worktree)}
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                               check=False, capture_output=True)
        best = min(r["total_s"] for r in results["current"]["runs"])
        results["speedup_total"] = round(results["baseline"]["runs"][0]["total_s"] / best, 2)
    results["target_total_s"] = 2.0
    emit(results, args.output)


if __name__ == "__main__":
    main()
