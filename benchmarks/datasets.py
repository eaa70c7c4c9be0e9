"""TFDS packaging and reading throughput (kubric_gen.datasets) on MOVi-A-sized scenes.

Renders N scenes (default 3 MOVi-A scenes, 256x256, 24 frames, 4 samples: rendering is not
what is measured) or reuses the scene directories under --scenes, then measures, in one run:

packaging (scenes/s, `build_dataset` into a fresh data dir, all scenes in one split):
  - in_process: without Beam, native resolution
  - beam_direct: Beam's DirectRunner (when apache_beam is installed), native resolution
  - in_process_128: without Beam, the downscaled 128x128 config (MOVi's)
  baseline: decoding the same scene directories into MOVi examples only (`read_example`), so
  packaging_ratio = packaging seconds / decoding seconds is what TFDS encoding and writing add.

reading (examples/s over --epochs epochs of the train split, after one warm-up epoch):
  - full_examples: every feature decoded (`tfds.as_numpy(tfds.load(...))`)
  - movi_pipeline: a MOVi-style tf.data pipeline: video / 255, segmentations, backward flow
    decoded with its range, batch 2, prefetch
  baseline: decoding the scene directories themselves with kubric_gen.io (read_layers + read_rgba):
  read_speedup_vs_kubric_gen_io = full_examples examples/s / that rate, and
  read_speedup_vs_decoding_scene_dirs against `read_example` (the packager's own decoding).

Also: bytes per example in the dataset and per scene directory. Prints one JSON object.

    .venv/bin/python benchmarks/datasets.py                       # render 3 scenes, 256x256x24
    .venv/bin/python benchmarks/datasets.py --scenes /tmp/scenes  # reuse scene directories
    .venv/bin/python benchmarks/datasets.py --quick               # smoke run: 64x64, 8 frames, 2 scenes
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from report import emit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _dir_bytes(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in Path(path).rglob(pattern) if p.is_file())


def _samples(scene: str):
    try:
        return json.loads((Path(scene) / "provenance.json").read_text())["render_settings"]["samples"]
    except (OSError, ValueError, KeyError):
        return None


def render_scenes(out: Path, n: int, resolution: tuple[int, int], frames: int, samples: int) -> float:
    from kubric_gen.generate import generate_scene
    from kubric_gen.render.settings import RenderSettings

    start = time.perf_counter()
    for seed in range(n):
        generate_scene("movi_a", seed, out / f"seed_{seed:05d}", RenderSettings(samples=samples, denoise=False),
                     {"resolution": list(resolution), "num_frames": frames}, preview=False)
    return time.perf_counter() - start


def time_packaging(scenes: Path, work: Path, label: str, **kwargs) -> dict:
    from kubric_gen.datasets import build_dataset

    data_dir = work / f"tfds_{label}"
    start = time.perf_counter()
    result = build_dataset(scenes, "bench_movi", data_dir, splits="train=1", **kwargs)
    seconds = time.perf_counter() - start
    n = result.num_examples
    return {"seconds": round(seconds, 3), "scenes": n, "scenes_per_s": round(n / seconds, 3),
            "bytes_per_example": int(_dir_bytes(Path(result.path), "*.tfrecord*") / max(n, 1)),
            "config": result.config, "used_beam": result.used_beam, "data_dir": str(data_dir)}


def time_reading(data_dir: str, config: str, epochs: int) -> dict:
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from kubric_gen.datasets import decode_flow, load

    def prep(ex):
        return {"video": tf.cast(ex["video"], tf.float32) / 255.0,
                "segmentations": tf.cast(ex["segmentations"], tf.int32),
                "flow": decode_flow(ex, "backward")}

    # no auto-caching: every epoch reads and decodes the records (TFDS caches small datasets in memory)
    full = load("bench_movi", data_dir, config=config, read_config=tfds.ReadConfig(try_autocache=False))
    movi = full.map(prep, num_parallel_calls=tf.data.AUTOTUNE).batch(2).prefetch(1)
    out = {}
    for name, ds in (("full_examples", full), ("movi_pipeline", movi)):
        for _ in tfds.as_numpy(ds):  # warm-up epoch (graph tracing, file cache)
            pass
        count, start = 0, time.perf_counter()
        for _ in range(epochs):
            for item in tfds.as_numpy(ds):
                count += len(item["video"]) if name == "movi_pipeline" else 1
        seconds = time.perf_counter() - start
        out[name] = {"examples": count, "seconds": round(seconds, 3), "examples_per_s": round(count / seconds, 3)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=Path, help="reuse these scene directories instead of rendering")
    parser.add_argument("--num-scenes", type=int, default=3)
    parser.add_argument("--resolution", default="256x256")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5, help="reading epochs (after one warm-up epoch)")
    parser.add_argument("--no-beam", action="store_true", help="skip the Beam DirectRunner measurement")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64x64, 8 frames, 2 scenes")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.resolution, args.frames, args.num_scenes = "64x64", 8, 2
    logging.basicConfig(level=logging.WARNING)
    import tensorflow_datasets as tfds

    tfds.disable_progress_bar()
    from kubric_gen.datasets.scenes import find_scenes, read_example
    from kubric_gen.io import read_layers, read_rgba

    width, height = (int(v) for v in args.resolution.split("x"))
    with tempfile.TemporaryDirectory(prefix="kubric_gen-bench-datasets-") as tmp:
        work = Path(tmp)
        render_s = None
        scenes = args.scenes
        if scenes is None:
            scenes = work / "scenes"
            render_s = round(render_scenes(scenes, args.num_scenes, (width, height), args.frames, args.samples), 1)
        infos, _ = find_scenes(scenes)
        if not infos:
            parser.error(f"no scene directories in {scenes}")
        first = infos[0]

        read_example(infos[0].path)  # warm-up: imports TensorFlow
        read_layers(infos[0].path)
        start = time.perf_counter()
        for info in infos:
            read_example(info.path)
        decode_s = time.perf_counter() - start
        start = time.perf_counter()
        for info in infos:
            read_layers(info.path)
            read_rgba(info.path)
        io_s = time.perf_counter() - start

        packaging = {"in_process": time_packaging(scenes, work, "in_process")}
        try:
            import apache_beam  # noqa: F401

            has_beam = not args.no_beam
        except ImportError:
            has_beam = False
        if has_beam:
            packaging["beam_direct"] = time_packaging(scenes, work, "beam", beam_options=["--runner=DirectRunner"])
        small = f"{first.width // 2}x{first.height // 2}"
        packaging[f"in_process_{small}"] = time_packaging(scenes, work, "small", config=small)
        reading = {first.resolution.name: time_reading(packaging["in_process"]["data_dir"], first.resolution.name,
                                                       args.epochs),
                   small: time_reading(packaging[f"in_process_{small}"]["data_dir"], small, args.epochs)}
        for p in packaging.values():
            p.pop("data_dir")
        n = len(infos)
        full_rate = reading[first.resolution.name]["full_examples"]["examples_per_s"]
        result = {
            "benchmark": "datasets",
            "settings": {"scenes": n, "resolution": first.resolution.name, "num_frames": first.num_frames,
                         "samples": _samples(first.path), "epochs": args.epochs,
                         "render_seconds_not_measured": render_s},
            "machine": {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
                        "python": platform.python_version(), "tensorflow_datasets": tfds.__version__,
                        "load_average_1min": round(os.getloadavg()[0], 2)},
            "baseline": {"decode_scene_dirs_to_examples_s": round(decode_s, 3),
                         "decode_scenes_per_s": round(n / decode_s, 3),
                         "kubric_gen_io_read_scenes_per_s": round(n / io_s, 3),
                         "scene_dir_bytes_per_scene": int(_dir_bytes(scenes) / n)},
            "packaging": packaging,
            "packaging_ratio_in_process": round(packaging["in_process"]["seconds"] / decode_s, 2),
            "reading": reading,
            "read_speedup_vs_kubric_gen_io": round(full_rate / (n / io_s), 2),
            "read_speedup_vs_decoding_scene_dirs": round(full_rate / (n / decode_s), 2),
        }
    emit(result, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
