"""A test world that kills its own process (SIGKILL) for some seeds; otherwise one_cube.

Config:
- crash_seeds: seeds whose scene always kills the process that builds it.
- flaky_seeds: seeds whose scene kills the process on the first try only (it leaves a
  marker file `<marker_dir>/crashed_<seed>` behind, and builds normally once it exists).
- marker_dir: where flaky seeds keep their markers (required with flaky_seeds).
- raise_seeds: seeds whose scene raises an exception (a bug in the world's own code).
- resolution, num_frames, frame_rate: as in one_cube.

A world does not receive its seed, so it recognises a seed by its generator's state.
"""

import os
import signal
from pathlib import Path

import kubric_gen as kg

CONFIG = {"resolution": [32, 32], "num_frames": 2, "frame_rate": 12, "crash_seeds": [], "flaky_seeds": [],
          "marker_dir": "",
          "raise_seeds": []}


def _seed_of(rng, candidates):
    state = rng.bit_generator.state
    for seed in candidates:
        if kg.make_rng(int(seed)).bit_generator.state == state:
            return int(seed)
    return None


def build(rng, config):
    if _seed_of(rng, config["crash_seeds"]) is not None:
        os.kill(os.getpid(), signal.SIGKILL)
    if _seed_of(rng, config["raise_seeds"]) is not None:
        raise RuntimeError("this seed is broken")
    flaky = _seed_of(rng, config["flaky_seeds"])
    if flaky is not None:
        marker = Path(config["marker_dir"]) / f"crashed_{flaky}"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    return _one_cube().build(rng, config)


def _one_cube():
    from kubric_gen.world import load_world

    return load_world(str(Path(__file__).with_name("one_cube.py"))).module
