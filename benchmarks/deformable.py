"""Deformable scenes: what a frame costs (physics, ground truth, render) against MOVi-A's.

The same measurement as `articulated.py` (one scene per world, each stage timed in this process,
the worlds alternated, best of `repeats`, per frame), for the worlds with cloth and soft bodies;
MOVi-A is the baseline of the same run.

    .venv/bin/python benchmarks/deformable.py [--worlds movi_a cloth soft_toys]
        [--resolution 128] [--frames 8] [--samples 32] [--repeats 2]
"""

from __future__ import annotations

from articulated import main

if __name__ == "__main__":
    main(("movi_a", "cloth", "soft_toys"), __doc__)
