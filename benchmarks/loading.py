"""Read throughput of each way to load a dataset (examples/s), measured in one run on the same scenes.

Packages the scene directories under --scenes twice (TFRecord and ArrayRecord, no Beam), then
reads every example of the split --epochs times after one warm-up pass, every feature decoded:

  - tfds_load (baseline): `tfds.as_numpy(tfds.load(...))` over the TFRecord build (MOVi's way)
  - data_source_sequential / data_source_random: `tfds.data_source` over the ArrayRecord build,
    in stored order and in a random permutation (what random access is for)
  - torch_tfds_w0 / torch_tfds_w2: `kubric_gen.datasets.torch.TFDSDataset` (float tensors in
    units) through a DataLoader with 0 and 2 worker processes (spawned), batch 1
  - torch_scene_dirs_w0 / torch_scene_dirs_w2: `SceneDirDataset` over the scene directories
    themselves (no packaging), 0 and 2 worker processes (forked), batch 1

Each entry has examples_per_s and speedup_vs_tfds_load. Prints one JSON object.

    .venv/bin/kubric-gen run movi_a --num-scenes 8 --output /tmp/bench256 --resolution 256x256 --frames 24 --samples 4
    .venv/bin/python benchmarks/loading.py --scenes /tmp/bench256 --output benchmarks/results/loading.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

from report import emit

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _timed(read_all, epochs: int) -> float:
    """Examples per second of `read_all()` (returns the number read) over `epochs` passes, after a warm-up."""
    read_all()
    start, count = time.perf_counter(), 0
    for _ in range(epochs):
        count += read_all()
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", required=True, help="folder of scene directories")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow_datasets as tfds
    import torch

    from kubric_gen.datasets import build_dataset
    from kubric_gen.datasets import torch as kt

    data_dir = tempfile.mkdtemp(prefix="kubric_gen-bench-loading-")
    builds = {fmt: build_dataset(args.scenes, f"bench_{fmt}", data_dir, file_format=fmt, splits="train=1.0")
              for fmt in ("tfrecord", "array_record")}
    n = builds["tfrecord"].num_examples
    info = tfds.builder_from_directory(builds["tfrecord"].path).info
    t_len, height, width = (int(v) for v in info.features["video"].shape[:3])

    def tfds_load() -> int:
        ds = tfds.load("bench_tfrecord", data_dir=data_dir, split="train", download=False)
        return sum(1 for _ in tfds.as_numpy(ds))

    source = tfds.data_source("bench_array_record", data_dir=data_dir, split="train", download=False)
    order = np.random.default_rng(0).permutation(len(source))

    def data_source(indices) -> int:
        for i in indices:
            source[int(i)]
        return len(indices)

    def loader(dataset, workers: int, context: str | None):
        dl = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=workers, collate_fn=kt.collate,
                                         multiprocessing_context=context if workers else None,
                                         persistent_workers=bool(workers))
        return lambda: sum(len(b["video_name"]) for b in dl)

    rates = {"tfds_load": _timed(tfds_load, args.epochs),
             "data_source_sequential": _timed(lambda: data_source(range(len(source))), args.epochs),
             "data_source_random": _timed(lambda: data_source(order), args.epochs)}
    # scene directories first: forked workers must start before this process reads ArrayRecord files
    scene_dirs = kt.SceneDirDataset(args.scenes)
    rates["torch_scene_dirs_w2"] = _timed(loader(scene_dirs, 2, "fork"), args.epochs)
    rates["torch_scene_dirs_w0"] = _timed(loader(scene_dirs, 0, None), args.epochs)
    records = kt.TFDSDataset("bench_array_record", data_dir)
    rates["torch_tfds_w0"] = _timed(loader(records, 0, None), args.epochs)
    rates["torch_tfds_w2"] = _timed(loader(records, 2, "spawn"), args.epochs)

    base = rates["tfds_load"]
    emit({
        "benchmark": "loading",
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()},
        "dataset": {"examples": n, "frames": t_len, "height": height, "width": width, "epochs": args.epochs},
        "results": {k: {"examples_per_s": round(v, 3), "speedup_vs_tfds_load": round(v / base, 3)}
                    for k, v in rates.items()},
    }, args.output)


if __name__ == "__main__":
    main()
