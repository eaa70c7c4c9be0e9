"""Export speed: scenes per second of each `kubric-gen export` format, with one worker process
and with one per core, over the same folder of scenes (made here with 1 sample per pixel unless
--scenes names a folder). Each (format, workers) is run --repeats times into fresh folders,
formats alternated; the best time counts.

    .venv/bin/python benchmarks/export.py [--world movi_a] [--num-scenes 4] [--resolution 128]
        [--frames 24] [--scenes FOLDER] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from report import emit

from kubric_gen.export import FORMATS, export
from kubric_gen.io import SceneDir
from kubric_gen.io.reader import list_scene_dirs


def make_scenes(root: Path, world: str, count: int, resolution: int, frames: int) -> Path:
    from kubric_gen.generate import generate_scene
    from kubric_gen.render import RenderSettings

    settings = RenderSettings(samples=1, denoise=False)
    for seed in range(count):
        generate_scene(world, seed, root / f"scene_{seed:08d}", settings,
                       {"resolution": [resolution, resolution], "num_frames": frames}, preview=False)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="movi_a")
    parser.add_argument("--num-scenes", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--scenes", help="a folder of scene directories to export (default: made here)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kubric_gen_export_bench_"))
    try:
        scenes = Path(args.scenes) if args.scenes else make_scenes(work / "scenes", args.world, args.num_scenes,
                                                                    args.resolution, args.frames)
        paths = list_scene_dirs(scenes)
        first = SceneDir(paths[0])
        cameras = len(first.camera_names)
        cores = os.cpu_count() or 1
        seconds: dict[tuple[str, int], list[float]] = {}
        for repeat in range(args.repeats):
            for name in FORMATS:
                if name == "stereo" and cameras != 2:
                    continue
                for workers in (1, cores):
                    out = work / f"{name}_{workers}_{repeat}"
                    start = time.perf_counter()
                    result = export(name, scenes, out, workers=workers)
                    seconds.setdefault((name, workers), []).append(time.perf_counter() - start)
                    if result.failed:
                        raise SystemExit(f"{name}: {result.failed}")
                    shutil.rmtree(out)
        runs = [{"format": name, "workers": workers, "seconds": round(min(times), 3),
                 "scenes_per_second": round(len(paths) / min(times), 3)}
                for (name, workers), times in seconds.items()]
        emit({"benchmark": "export", "cpus": cores, "scenes": len(paths), "cameras": cameras,
              "resolution": list(first.resolution), "frames": first.num_frames, "runs": runs}, args.output)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
