"""Bad input across every command: each case must end with exit status 2 (or 1 for a crash
of the scene's own process), one line `kubric-gen: error: ...` naming the problem, no
traceback, and nothing new on disk. Cases that run a world's own code or crash a process run
as a `kubric-gen` process each; the others (argument and input checks) call `main()` in this
process with its output, logging and warnings captured as a fresh process would print them,
which saves an interpreter start per case. The module reports how every case ended
(`bad_input.json` in pytest's temporary directory, or where KUBRIC_GEN_BAD_INPUT_REPORT
says; `benchmarks/results/bad_input.json` is one such report).

Plus hypothesis fuzzing of scene JSON and of `--set` values: no exception other than a
kubric_gen error in 500 examples each.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path

import pytest
from conftest import ctrl_c_default
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kubric_gen as kg
from kubric_gen.cli import main
from kubric_gen.errors import KubricGenError
from kubric_gen.world import load_world, parse_overrides, resolve_config

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--resolution", "16x16", "--frames", "1", "--samples", "1"]


def _file(tmp: Path) -> str:
    (tmp / "a_file").write_text("x")
    return str(tmp / "a_file")


def _world(tmp: Path, body: str) -> str:
    path = tmp / "w.py"
    path.write_text(body)
    return str(path)


def _scene_copy(tmp: Path, scene: Path) -> str:
    shutil.copytree(scene, tmp / "scenes" / "scene_00000000")
    return str(tmp / "scenes")


def _nan_mesh(tmp: Path) -> str:
    (tmp / "meshes").mkdir()
    (tmp / "meshes" / "m.obj").write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\n")
    return str(tmp / "meshes")


# Placeholders that need a file made first: "{name}" in an argument becomes SETUPS[name](tmp, scene),
# where tmp is the case's own working folder and scene a finished MOVi-A scene directory.
SETUPS = {
    "file": lambda tmp, scene: _file(tmp),
    "scenes": lambda tmp, scene: _scene_copy(tmp, scene),
    "nanmesh": lambda tmp, scene: _nan_mesh(tmp),
}


# (id, argv with {tmp}/{file}/{world:...}/{scenes}/{nanmesh} placeholders, exit status, part of the message)
CASES = [
    # -- the command line itself
    ("no-command", [], 2, "required"),
    ("unknown-command", ["paint"], 2, "invalid choice"),
    ("unknown-option", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--colour", "red"], 2,
     "unrecognized arguments"),
    # -- render
    ("render-unknown-world", ["render", "movi_z", "--seed", "0", "--output", "{tmp}/o"], 2, "no built-in world"),
    ("render-negative-seed", ["render", "movi_a", "--seed", "-1", "--output", "{tmp}/o"], 2, "--seed"),
    ("render-text-seed", ["render", "movi_a", "--seed", "abc", "--output", "{tmp}/o"], 2, "--seed"),
    ("render-no-output", ["render", "movi_a", "--seed", "0"], 2, "--output"),
    ("render-zero-resolution", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--resolution", "0x10"], 2,
     "--resolution"),
    ("render-text-resolution", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--resolution", "big"], 2,
     "--resolution"),
    ("render-huge-resolution", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--resolution",
                                "100000x100000"], 2, "needs about"),
    ("render-zero-frames", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--frames", "0"], 2, "--frames"),
    ("render-zero-samples", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--samples", "0"], 2,
     "--samples"),
    ("render-negative-threads", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--threads", "-1"], 2,
     "--threads"),
    ("render-unknown-device", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--device", "tpu"], 2,
     "--device"),
    ("render-cuda-without-gpu", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--device", "cuda"], 2,
     "NVIDIA"),
    ("render-negative-threshold", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o",
                                   "--adaptive-threshold", "-1", *TINY], 2, "adaptive_threshold"),
    ("render-nan-threshold", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--adaptive-threshold",
                              "nan", *TINY], 2, "adaptive_threshold"),
    ("render-negative-min-samples", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o",
                                     "--adaptive-min-samples", "-1"], 2, "--adaptive-min-samples"),
    ("render-unknown-light-tree", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--light-tree",
                                   "sometimes"], 2, "--light-tree"),
    ("run-zero-workers-per-gpu", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o",
                                  "--workers-per-gpu", "0"], 2, "--workers-per-gpu"),
    ("render-negative-tracks", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--tracks", "-1"], 2,
     "--tracks"),
    ("render-zero-timeout", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--timeout", "0"], 2,
     "--timeout"),
    ("render-nan-timeout", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--timeout", "nan"], 2,
     "--timeout"),
    ("render-unknown-view", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--view-transform",
                             "Sepia"], 2, "--view-transform"),
    ("render-unknown-key", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set", "colour=1"], 2,
     "unknown key"),
    ("render-set-without-equals", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set", "jitter"], 2,
     "key=value"),
    ("render-set-nan", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set", "camera_jitter=NaN"], 2,
     "finite"),
    ("render-set-infinity", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set",
                             "camera_jitter=Infinity"], 2, "finite"),
    ("render-set-negative-infinity-in-list", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set",
                                              "resolution=[16, -Infinity]"], 2, "finite"),
    ("render-set-text-for-number", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set",
                                    "camera_jitter=far"], 2, "expected a number"),
    ("render-set-negative-jitter", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set",
                                    "camera_jitter=-1", *TINY], 2, "camera_jitter"),
    ("render-set-zero-objects", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set",
                                 "min_num_objects=0", *TINY], 2, "min_num_objects"),
    ("render-set-bad-frame-rate", ["render", "movi_a", "--seed", "0", "--output", "{tmp}/o", "--set", "step_rate=7",
                                   *TINY], 2, "step_rate"),
    ("render-multiview-zero-cameras", ["render", "multiview", "--seed", "0", "--output", "{tmp}/o", "--set",
                                       "num_cameras=0", *TINY], 2, "config 'num_cameras': must be an integer in 1..8"),
    ("render-multiview-elevation-reversed", ["render", "multiview", "--seed", "0", "--output", "{tmp}/o", "--set",
                                             "camera_elevation=[50, 10]", *TINY], 2, "config 'camera_elevation'"),
    ("render-stereo-negative-baseline", ["render", "stereo", "--seed", "0", "--output", "{tmp}/o", "--set",
                                         "baseline=-0.1", *TINY], 2, "config 'baseline': must be a number in (0, 10]"),
    ("render-output-under-a-file", ["render", "movi_a", "--seed", "0", "--output", "{file}/scene"], 2,
     "not a directory"),
    ("render-output-is-a-file", ["render", "movi_a", "--seed", "0", "--output", "{file}", "--overwrite"], 2,
     "not a directory"),
    ("render-output-exists", ["render", "movi_a", "--seed", "0", "--output", "{tmp}"], 2, "already exists"),
    ("render-overwrite-working-dir", ["render", "movi_a", "--seed", "0", "--output", ".", "--overwrite"], 2,
     "working directory"),
    ("render-world-syntax-error", ["render", "{world:def build(rng, config)\n}", "--seed", "0", "--output",
                                   "{tmp}/o"], 2, "SyntaxError"),
    ("render-world-import-error", ["render", "{world:import no_such_module_xyz\n}", "--seed", "0", "--output",
                                   "{tmp}/o"], 2, "ModuleNotFoundError"),
    ("render-world-raises", ["render", "{world:CONFIG = {}\ndef build(rng, config):\n    return 1 / 0\n}", "--seed",
                             "0", "--output", "{tmp}/o"], 2, "ZeroDivisionError"),
    ("render-world-without-build", ["render", "{world:CONFIG = {}\n}", "--seed", "0", "--output", "{tmp}/o"], 2,
     "no build"),
    ("render-world-returns-no-scene", ["render", "{world:CONFIG = {}\ndef build(rng, config):\n    return 3\n}",
                                       "--seed", "0", "--output", "{tmp}/o"], 2, "not a Scene"),
    ("render-world-bad-label", ["render", "{world:import kubric_gen as kg\nfrom kubric_gen.labels import Label, "
                                "LabelSchema\nLABELS = LabelSchema('w', (Label('size', 'class', names=('s',)),))\n"
                                "CONFIG = {}\ndef build(rng, config):\n    s = kg.Scene(resolution=(16, 16), "
                                "num_frames=1)\n    s.add(kg.Cube(name='c', labels={'size': 'huge'}))\n    return s\n}",
                                "--seed", "0", "--output", "{tmp}/o"], 2, "'huge' is not one of"),
    ("render-world-massless-dynamic", ["render", "{world:import kubric_gen as kg\nCONFIG = {}\ndef build(rng, config)"
                                       ":\n    s = kg.Scene(resolution=(16, 16), num_frames=1)\n    s.add(kg.Cube("
                                       "name='c', mass=0))\n    return s\n}", "--seed", "0", "--output", "{tmp}/o"], 2,
     "mass > 0"),
    ("render-world-too-fast", ["render", "{world:import kubric_gen as kg\nCONFIG = {}\ndef build(rng, config):\n"
                               "    s = kg.Scene(resolution=(16, 16), num_frames=1)\n    s.add(kg.Cube(name='c', "
                               "velocity=(1e12, 0, 0)))\n    return s\n}", "--seed", "0", "--output", "{tmp}/o"], 2,
     "m/s"),
    ("render-world-interpenetrating", ["render", "{world:import kubric_gen as kg\nCONFIG = {}\ndef build(rng, config)"
                                       ":\n    s = kg.Scene(resolution=(16, 16), num_frames=1)\n    s.add(kg.Cube("
                                       "name='a'), kg.Cube(name='b', position=(0.5, 0, 0)))\n    return s\n}", "--seed",
                                       "0", "--output", "{tmp}/o"], 2, "interpenetrate"),
    ("render-world-missing-file", ["render", "{tmp}/nowhere.py", "--seed", "0", "--output", "{tmp}/o"], 2,
     "not found"),
    ("render-world-loops-forever", ["render", "{world:CONFIG = {}\ndef build(rng, config):\n    while True:\n"
                                    "        pass\n}", "--seed", "0", "--output", "{tmp}/o", "--timeout", "2"], 1,
     "timed out after 2 s (--timeout)"),
    ("render-world-exits", ["render", "{world:import os\nCONFIG = {}\ndef build(rng, config):\n    os._exit(3)\n}",
                            "--seed", "0", "--output", "{tmp}/o"], 1, "exited with status 3"),
    ("render-world-segfaults", ["render", "{world:import ctypes\nCONFIG = {}\ndef build(rng, config):\n"
                                "    ctypes.string_at(0)\n}", "--seed", "0", "--output", "{tmp}/o"], 1, "SIGSEGV"),
    # -- scene, worlds
    ("scene-nan", ["scene", "movi_a", "--seed", "0", "--set", "camera_jitter=nan"], 2, "finite"),
    ("scene-unknown-world", ["scene", "movi_q", "--seed", "0"], 2, "no built-in world"),
    ("worlds-unknown", ["worlds", "movi_q"], 2, "no built-in world"),
    # -- run
    ("run-zero-scenes", ["run", "movi_a", "--num-scenes", "0", "--output", "{tmp}/o"], 2, "--num-scenes"),
    ("run-text-scenes", ["run", "movi_a", "--num-scenes", "many", "--output", "{tmp}/o"], 2, "--num-scenes"),
    ("run-unknown-runner", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--runner", "warp"], 2,
     "--runner"),
    ("run-bad-dataset-name", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--tfds", "Bad-Name"], 2,
     "snake_case"),
    ("run-cuda-without-gpu", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--device", "cuda"], 2,
     "NVIDIA"),
    ("run-memory-url", ["run", "movi_a", "--num-scenes", "1", "--output", "memory://o"], 2, "memory://"),
    ("run-output-is-a-file", ["run", "movi_a", "--num-scenes", "1", "--output", "{file}"], 2, "not a directory"),
    ("run-unknown-beam-option", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--bogus_flag=1"], 2,
     "unrecognized"),
    ("run-set-nan", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--set", "camera_jitter=NaN"], 2,
     "finite"),
    ("run-seed-beyond-64-bits", ["run", "movi_a", "--num-scenes", "2", "--output", "{tmp}/o", "--seed-offset",
                                 str(2 ** 64 - 1)], 2, "2^64"),
    ("run-negative-timeout", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--scene-timeout", "-1"],
     2, "--scene-timeout"),
    ("run-huge-resolution", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--resolution",
                             "100000x100000"], 2, "needs about"),
    ("run-file-format-without-tfds", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--file-format",
                                      "array_record"], 2, "--file-format"),
    ("run-tfds-extras-without-tfds", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--tfds-extras",
                                      "amodal"], 2, "--tfds-extras amodal: only used with --tfds NAME"),
    ("run-tfds-extras-unknown", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--tfds", "d",
                                 "--tfds-extras", "normals"], 2, "--extras: 'normals' is not one of"),
    ("run-negative-retries", ["run", "movi_a", "--num-scenes", "1", "--output", "{tmp}/o", "--retries", "-1"], 2,
     "--retries"),
    # -- build-dataset
    ("dataset-missing-scenes", ["build-dataset", "{tmp}/none", "--name", "d", "--data-dir", "{tmp}/tfds"], 2,
     "SCENES_DIR"),
    ("dataset-scenes-is-a-file", ["build-dataset", "{file}", "--name", "d", "--data-dir", "{tmp}/tfds"], 2,
     "SCENES_DIR"),
    ("dataset-no-scenes", ["build-dataset", "{tmp}", "--name", "d", "--data-dir", "{tmp}/tfds"], 2, "SCENES_DIR"),
    ("dataset-bad-name", ["build-dataset", "{scenes}", "--name", "Bad-Name", "--data-dir", "{tmp}/tfds"], 2,
     "snake_case"),
    ("dataset-catalog-name", ["build-dataset", "{scenes}", "--name", "mnist", "--data-dir", "{tmp}/tfds",
                              "--no-beam"], 2, "catalog"),
    ("dataset-data-dir-is-a-file", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{file}"], 2,
     "--data-dir"),
    ("dataset-config-not-a-divisor", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds",
                                      "--config", "7x7"], 2, "--config"),
    ("dataset-config-text", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds", "--config",
                             "big"], 2, "--config"),
    ("dataset-splits-sum", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds", "--splits",
                            "train=0.5"], 2, "--splits"),
    ("dataset-splits-negative", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds", "--splits",
                                 "train=-1,validation=2"], 2, "--splits"),
    ("dataset-unknown-runner", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds", "--runner",
                                "NoSuchRunner"], 2, "--runner"),
    ("dataset-unknown-beam-option", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds",
                                     "--beam-option=--bogus"], 2, "unrecognized"),
    ("dataset-unknown-file-format", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds",
                                     "--file-format", "parquet"], 2, "--file-format"),
    ("dataset-unknown-extra", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds",
                               "--extras", "amodal,albedo"], 2, "--extras: 'albedo' is not one of amodal"),
    ("dataset-boundaries-downscaled", ["build-dataset", "{scenes}", "--name", "d", "--data-dir", "{tmp}/tfds",
                                       "--config", "16x16", "--extras", "occlusion_boundaries"], 2,
     "--extras occlusion_boundaries: only at the scenes' own resolution"),
    # -- validate, view, assets
    ("validate-missing", ["validate", "{tmp}/none"], 2, "does not exist"),
    ("view-missing", ["view", "{tmp}/none"], 2, "does not exist"),
    ("validate-empty", ["validate", "{tmp}"], 2, "no scene directory"),
    ("convert-missing-source", ["assets", "convert", "{tmp}/none", "--output", "{tmp}/lib"], 2, "SRC_DIR"),
    ("convert-output-is-a-file", ["assets", "convert", "{nanmesh}", "--output", "{file}"], 2, "--output"),
    ("convert-no-meshes", ["assets", "convert", "{tmp}", "--output", "{tmp}/../lib_none"], 2, "no mesh files"),
    ("convert-nan-vertex", ["assets", "convert", "{nanmesh}", "--output", "{tmp}/lib"], 2, "NaN or infinite"),
    ("assets-unknown-library", ["assets", "list", "no_such_library"], 2, "no asset manifest"),
]

# ---- cases added per area: each area keeps its own list and adds its own SETUPS entries after it
# -- run: resume, the driver's isolation, names, leftovers
RUN_CASES: list = [
    # resume: a complete scene in OUTPUT made otherwise than this run asks (the fixture is seed 5, 32x32, 3 frames)
    ("run-resume-copied-scene", ["run", "movi_a", "--num-scenes", "1", "--output", "{scene_as_seed0}"], 2,
     "scene_00000000 was made with seed 5, this run asks 0"),
    ("run-resume-other-resolution", ["run", "movi_a", "--num-scenes", "1", "--seed-offset", "5", "--output",
                                     "{scene_seed5}", "--resolution", "16x16", "--frames", "3"], 2,
     "was made with config 'resolution' [32, 32], this run asks [16, 16]; use --overwrite"),
    ("run-resume-other-world", ["run", "movi_b", "--num-scenes", "1", "--seed-offset", "5", "--output",
                                "{scene_seed5}"], 2, "was made with world 'movi_a', this run asks 'movi_b'"),
    ("run-resume-other-samples", ["run", "movi_a", "--num-scenes", "1", "--seed-offset", "5", "--output",
                                  "{scene_seed5}", "--resolution", "32x32", "--frames", "3", "--samples", "7"], 2,
     "was made with render setting 'samples' 4, this run asks 7"),
    # a damaged run record under OUTPUT/_runs/
    ("run-damaged-run-record", ["run", "movi_a", "--num-scenes", "1", "--output", "{runs_not_json}"], 2,
     "_runs/a.json: a damaged run record: not readable JSON"),
    ("run-run-record-bad-seeds", ["run", "movi_a", "--num-scenes", "1", "--output", "{runs_bad_seeds}"], 2,
     "_runs/a.json: a damaged run record: 'seeds' 'all' is not [first, last]"),
]


def _output_with_scene(tmp: Path, scene: Path, seed: int) -> str:
    shutil.copytree(scene, tmp / "out" / f"scene_{seed:08d}")
    return str(tmp / "out")


def _output_with_run_record(tmp: Path, text: str) -> str:
    (tmp / "out" / "_runs").mkdir(parents=True)
    (tmp / "out" / "_runs" / "a.json").write_text(text)
    return str(tmp / "out")


SETUPS["scene_as_seed0"] = lambda tmp, scene: _output_with_scene(tmp, scene, 0)
SETUPS["scene_seed5"] = lambda tmp, scene: _output_with_scene(tmp, scene, 5)
SETUPS["runs_not_json"] = lambda tmp, scene: _output_with_run_record(tmp, '{"state": "running", "seeds": [0,')
SETUPS["runs_bad_seeds"] = lambda tmp, scene: _output_with_run_record(
    tmp, '{"state": "running", "seeds": "all", "heartbeat": 0}')
# -- scene directories and their readers (validate, view, build-dataset)
IO_CASES: list = [
    # a named pipe posing as a frame: refused before it is opened (it would block every reader forever)
    ("validate-fifo-frame", ["validate", "{fifoscenes}"], 2, "a named pipe, not a regular file"),
    ("view-fifo-frame", ["view", "{fifoscenes}", "--output", "{tmp}/view"], 2, "a named pipe, not a regular file"),
    ("dataset-fifo-frame", ["build-dataset", "{fifoscenes}", "--name", "d", "--data-dir", "{tmp}/tfds"], 2,
     "a named pipe, not a regular file"),
    # a damaged scene is validate's report (problems on stdout, exit 1), not a traceback
    ("validate-truncated-npz", ["validate", "{truncatednpz}"], 1, "1 of 1 scene directories failing"),
    ("convert-one-triangle", ["assets", "convert", "{triangle}", "--output", "{tmp}/lib"], 2, "the mesh is flat"),
]


def _fifo_scene(tmp: Path, scene: Path) -> str:
    scenes = _scene_copy(tmp, scene)
    frame = Path(scenes) / "scene_00000000" / "rgba_00000.png"
    frame.unlink()
    os.mkfifo(frame)
    return scenes


def _truncated_npz(tmp: Path, scene: Path) -> str:
    scenes = _scene_copy(tmp, scene)
    tracks = Path(scenes) / "scene_00000000" / "tracks.npz"
    tracks.write_bytes(tracks.read_bytes()[: tracks.stat().st_size // 2])
    return scenes


def _triangle(tmp: Path) -> str:
    (tmp / "triangle").mkdir()
    (tmp / "triangle" / "t.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    return str(tmp / "triangle")


SETUPS["fifoscenes"] = _fifo_scene
SETUPS["truncatednpz"] = _truncated_npz
SETUPS["triangle"] = lambda tmp, scene: _triangle(tmp)
# -- datasets, assets, GPUs
DATASET_ASSET_CASES: list = [
    # -- datasets: view of a prepared dataset whose shard is missing or truncated (read before any page is written)
    ("view-dataset-missing-shard", ["view", "{dataset_missing_shard}"], 2, "cannot read split 'train'"),
    ("view-dataset-truncated-shard", ["view", "{dataset_truncated_shard}", "--output", "{tmp}/page"], 2,
     "cannot read split 'train'"),
]
_BUILT_DATASET: dict[str, Path] = {}
_BUILDING = threading.Lock()  # the cases' setups run 4 at a time


def _damaged_dataset(tmp: Path, scene: Path, damage: str) -> str:
    """A real one-split dataset of the fixture scene (built once, copied) with its train shard
    removed or cut in half; returns the dataset folder."""
    with _BUILDING:
        if "path" not in _BUILT_DATASET:
            from kubric_gen.datasets import build_dataset

            built = Path(tmp).parents[1] / "_built_dataset"
            shutil.copytree(scene, built / "scenes" / scene.name)
            result = build_dataset(built / "scenes", "kg_bad_shard", built / "tfds", splits="train=1")
            _BUILT_DATASET["path"] = Path(result.data_dir) / "kg_bad_shard"
    copy = tmp / "tfds" / "kg_bad_shard"
    shutil.copytree(_BUILT_DATASET["path"], copy)
    shard = sorted(copy.glob("*/*/*train.tfrecord*"))[0]
    if damage == "missing":
        shard.unlink()
    else:
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return str(copy)


SETUPS["dataset_missing_shard"] = lambda tmp, scene: _damaged_dataset(tmp, scene, "missing")
SETUPS["dataset_truncated_shard"] = lambda tmp, scene: _damaged_dataset(tmp, scene, "truncated")
# -- world files and packages
WORLD_CASES: list = [
    *[(name, ["render", world, "--seed", "0", "--output", "{tmp}/o"], 2, fragment) for name, world, fragment in (
        ("world-folder-without-init", "{pkg_noinit}", "__init__.py"),
        ("world-package-without-build", "{pkg_nobuild}", "defines no build"),
        ("world-package-helper-raises", "{pkg_badhelper}", "bad.py:2): ZeroDivisionError"),
        ("world-helper-missing", "{world:from myhelpers_xyz import floor\n}", "ModuleNotFoundError"),
        ("world-package-named-kubric_gen", "{pkg_kubric_gen}", "would hide the module 'kubric_gen'"),
        ("world-package-named-numpy", "{pkg_numpy}", "would hide the module 'numpy'"),
        ("world-helper-named-numpy", "{helper_numpy}", "would hide the module 'numpy'"))],
    ("world-helper-named-stdlib", ["scene", "{helper_turtle}", "--seed", "0"], 2, "standard-library module"),
    ("world-package-bad-name", ["scene", "{pkg_dashed}", "--seed", "0"], 2, "must be a Python identifier"),
    ("world-path-missing", ["render", "./movi_z", "--seed", "0", "--output", "{tmp}/o"], 2, "file not found"),
    ("run-world-folder-without-init", ["run", "{pkg_noinit}", "--num-scenes", "1", "--output", "{tmp}/o"], 2,
     "__init__.py"),
    ("run-world-package-named-numpy", ["run", "{pkg_numpy}", "--num-scenes", "1", "--output", "{tmp}/o"], 2,
     "would hide"),
    # a world whose module-level code kills or hangs the process loading it: every command that loads a
    # world loads it first in a throwaway child (kubric_gen.pipeline.world_probe), so it ends in one line
    *[(f"{command}-world-import-{how}", [command, "{world:" + code + "}", *rest], 1, f"loading it {said}")
      for how, code, said in (("segfaults", "import ctypes\nctypes.string_at(0)\n", "was killed by signal SIGSEGV"),
                              ("exits", "import os\nos._exit(3)\n", "exited with status 3"))
      for command, rest in (("render", ["--seed", "0", "--output", "{tmp}/o"]), ("scene", ["--seed", "0"]),
                            ("worlds", []), ("run", ["--num-scenes", "1", "--output", "{tmp}/o"]))],
    ("render-world-import-loops", ["render", "{world:while True:\n    pass\n}", "--seed", "0", "--output",
                                   "{tmp}/o", "--timeout", "2"], 1, "loading it timed out after 2 s (--timeout)"),
    ("run-world-import-loops", ["run", "{world:while True:\n    pass\n}", "--num-scenes", "1", "--output",
                                "{tmp}/o", "--scene-timeout", "2"], 1,
     "loading it timed out after 2 s (--scene-timeout)"),
    *[(f"{command}-world-import-loops", [command, "{world:while True:\n    pass\n}", *rest, "--timeout", "2"], 1,
       "loading it timed out after 2 s (--timeout)") for command, rest in (("scene", ["--seed", "0"]), ("worlds", []))],
    # a world whose build() kills or hangs the process: `scene` builds a user's world in a child process
    # (render and run's cases are in the render cases above and in tests/test_pipeline.py)
    *[(f"scene-world-build-{how}", ["scene", "{world:CONFIG = {}\ndef build(rng, config):\n" + code + "}",
                                    "--seed", "0", *timeout], status, said)
      for how, code, timeout, status, said in (
          ("segfaults", "    import ctypes\n    ctypes.string_at(0)\n", [], 1,
           "its process building the scene of seed 0 was killed by signal SIGSEGV"),
          ("exits", "    import os\n    os._exit(3)\n", [], 1,
           "its process building the scene of seed 0 exited with status 3"),
          ("raises", "    return 1 / 0\n", [], 2, "failed while building scene 0"),
          ("loops", "    while True:\n        pass\n", ["--timeout", "2"], 1,
           "its process building the scene of seed 0 timed out after 2 s (--timeout)"))],
]

_PKG_WORLD = "import kubric_gen as kg\nCONFIG = {}\ndef build(rng, config):\n    return kg.Scene()\n"


def _package(tmp: Path, name: str, files: dict[str, str]) -> str:
    """A world package `tmp/pkgs/name/` with `files` (relative path -> text)."""
    folder = tmp / "pkgs" / name
    folder.mkdir(parents=True)
    for rel, text in files.items():
        (folder / rel).write_text(text)
    return str(folder)


def _helper_beside(tmp: Path, helper: str) -> str:
    (tmp / "beside").mkdir()
    (tmp / "beside" / helper).write_text("x = 1\n")
    (tmp / "beside" / "w.py").write_text(_PKG_WORLD)
    return str(tmp / "beside" / "w.py")


SETUPS["pkg_noinit"] = lambda tmp, scene: _package(tmp, "noinit", {"world.py": _PKG_WORLD})
SETUPS["pkg_nobuild"] = lambda tmp, scene: _package(tmp, "nobuild", {"__init__.py": "CONFIG = {}\n"})
SETUPS["pkg_badhelper"] = lambda tmp, scene: _package(tmp, "badhelper", {
    "__init__.py": "from . import bad\n" + _PKG_WORLD, "bad.py": "x = 1\n1 / 0\n"})
SETUPS["pkg_kubric_gen"] = lambda tmp, scene: _package(tmp, "kubric_gen", {"__init__.py": _PKG_WORLD})
SETUPS["pkg_numpy"] = lambda tmp, scene: _package(tmp, "numpy", {"__init__.py": _PKG_WORLD})
SETUPS["pkg_dashed"] = lambda tmp, scene: _package(tmp, "my-world", {"__init__.py": _PKG_WORLD})
SETUPS["helper_numpy"] = lambda tmp, scene: _helper_beside(tmp, "numpy.py")
SETUPS["helper_turtle"] = lambda tmp, scene: _helper_beside(tmp, "turtle.py")
CASES += RUN_CASES + IO_CASES + DATASET_ASSET_CASES + WORLD_CASES


def _expand(argv: list[str], tmp: Path, scenes: Path) -> list[str]:
    out = []
    for arg in argv:
        if arg.startswith("{world:"):
            out.append(_world(tmp, arg[len("{world:"):-1]))
            continue
        for name, setup in SETUPS.items():
            if "{" + name + "}" in arg:
                arg = arg.replace("{" + name + "}", setup(tmp, scenes))
        out.append(arg.replace("{tmp}", str(tmp)))
    return out


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


REPORT: dict[str, dict] = {}
# placeholders of cases that need a process of their own: a world the case then runs (whatever its
# code does to the interpreter stays there), or a TFDS dataset the command reads with TensorFlow
# (whose C++ logging is set once, when a process first imports it: here, by other tests)
OWN_PROCESS = ("{world:", "{pkg_", "{helper_", "{dataset_")


def needs_own_process(case) -> bool:
    """A case runs as its own process when it ends in a crash (status 1) or has one of the
    OWN_PROCESS placeholders; the rest fail in argument and input checks, which `main()` meets
    the same way in this process."""
    _, argv, status, _ = case
    return status != 2 or any(arg.startswith(OWN_PROCESS) for arg in argv)


def _show_on_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _fresh_process_warning_filters() -> None:
    """The warning filters a fresh interpreter starts with (its DeprecationWarnings are shown only
    for __main__), each warning shown every time, as the first time in a fresh process."""
    warnings.resetwarnings()
    warnings.simplefilter("always")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("always", category=DeprecationWarning, module="__main__")


def _main_in_process(args: list[str], work: Path, cache: str) -> subprocess.CompletedProcess:
    """`main(args)` with what a fresh `kubric-gen` process would print captured: sys.stdout and
    sys.stderr, the file descriptors 1 and 2 beneath them (C libraries, children), a root logger
    without pytest's handlers (so `main`'s basicConfig prints), and every warning shown. The
    working directory and KUBRIC_GEN_CACHE are the case's; an escaping exception is printed as
    the interpreter would print it. Not thread-safe: cases run one at a time."""
    text_out, text_err = io.StringIO(), io.StringIO()
    root_logger = logging.getLogger()
    saved_handlers, saved_level = root_logger.handlers[:], root_logger.level
    saved_cwd, saved_cache = os.getcwd(), os.environ.get("KUBRIC_GEN_CACHE")
    saved_fds = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as fd_out, tempfile.TemporaryFile() as fd_err:
        try:
            root_logger.handlers = []
            os.environ["KUBRIC_GEN_CACHE"] = cache
            os.chdir(work)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(fd_out.fileno(), 1)
            os.dup2(fd_err.fileno(), 2)
            with contextlib.redirect_stdout(text_out), contextlib.redirect_stderr(text_err), \
                    warnings.catch_warnings():
                _fresh_process_warning_filters()
                warnings.showwarning = _show_on_stderr
                try:
                    status = main(args)
                except SystemExit as e:  # argparse's own exit, after printing its message
                    status = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
                    if isinstance(e.code, str):
                        print(e.code, file=sys.stderr)
                except BaseException:  # noqa: BLE001 - what the interpreter would print and exit with
                    traceback.print_exc()
                    status = 1
        finally:
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for fd in saved_fds:
                os.close(fd)
            os.chdir(saved_cwd)
            if saved_cache is None:
                os.environ.pop("KUBRIC_GEN_CACHE", None)
            else:
                os.environ["KUBRIC_GEN_CACHE"] = saved_cache
            root_logger.handlers, root_logger.level = saved_handlers, saved_level
        fd_out.seek(0)
        fd_err.seek(0)
        stdout = text_out.getvalue() + fd_out.read().decode(errors="replace")
        stderr = text_err.getvalue() + fd_err.read().decode(errors="replace")
    return subprocess.CompletedProcess(args, status, stdout, stderr)


def _run_case(case, root: Path, scene: Path, cache: str) -> dict:
    """Run one case in a fresh folder (as its own `kubric-gen` process if it needs one); what it
    printed and left."""
    name, argv, _, _ = case
    work = root / name / "work"
    work.mkdir(parents=True)
    args = _expand(argv, work, scene)
    before = _listing(root / name)
    started = time.perf_counter()
    if needs_own_process(case):
        proc = subprocess.run([sys.executable, "-m", "kubric_gen.cli", *args], cwd=work, capture_output=True,
                              text=True, timeout=300, env={**os.environ, "KUBRIC_GEN_CACHE": cache})
    else:
        proc = _main_in_process(args, work, cache)
    return {"args": args, "work": str(work), "proc": proc, "new_files": sorted(_listing(root / name) - before),
            "seconds": round(time.perf_counter() - started, 2)}


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, movi_a_scene):
    """Every selected case (`-k` picks some): those in this process one after another, then the
    processes 4 at a time (each is mostly process start-up)."""
    from concurrent.futures import ThreadPoolExecutor

    selected = {item.callspec.params["case"][0] for item in request.session.items
                if item.originalname == "test_bad_input_is_one_line_and_leaves_nothing"}
    cases = [case for case in CASES if case[0] in selected]
    root = tmp_path_factory.mktemp("bad_input")
    cache = str(tmp_path_factory.getbasetemp() / "bad_input_cache")
    results = {case[0]: _run_case(case, root, movi_a_scene, cache) for case in cases if not needs_own_process(case)}
    processes = [case for case in cases if needs_own_process(case)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for case, result in zip(processes, pool.map(lambda c: _run_case(c, root, movi_a_scene, cache), processes),
                                strict=True):
            results[case[0]] = result
    return results


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing(case, outcomes):
    name, _, status, fragment = case
    outcome = outcomes[name]
    proc, work = outcome["proc"], outcome["work"]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    REPORT[name] = {"argv": [a.replace(work, "{tmp}") for a in outcome["args"]], "exit": proc.returncode,
                    "stderr": [line.replace(work, "{tmp}") for line in lines],
                    "in": "its own process" if needs_own_process(case) else "main() in pytest's process",
                    "seconds": outcome["seconds"]}
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert len(lines) == 1 and lines[0].startswith("kubric-gen: error: "), proc.stderr
    assert fragment in lines[0], lines[0]
    assert outcome["new_files"] == [], outcome["new_files"]


def test_bad_input_report(tmp_path_factory):
    """At least 60 cases ran; their endings are written down (how each case ended)."""
    assert len(CASES) >= 60
    path = Path(os.environ.get("KUBRIC_GEN_BAD_INPUT_REPORT") or tmp_path_factory.getbasetemp() / "bad_input.json")
    path.write_text(json.dumps({"cases": len(REPORT), "by_exit_status": _endings(), "cases_detail": REPORT},
                               indent=1, sort_keys=True) + "\n")
    print(f"bad input: {len(REPORT)} cases, exit statuses {_endings()}; report: {path}")


def _endings() -> dict[str, int]:
    endings: dict[str, int] = {}
    for record in REPORT.values():
        endings[str(record["exit"])] = endings.get(str(record["exit"]), 0) + 1
    return endings


# ---------------------------------------------------------------- fuzzing
NASTY = st.one_of(st.just(float("nan")), st.just(float("inf")), st.just(-float("inf")),
                  st.integers(-10 ** 20, 10 ** 20),
                  st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8), st.none(), st.booleans(),
                  st.lists(st.integers(-3, 3), max_size=4), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                               max_size=2))


def _base_scene() -> dict:
    scene = kg.Scene(resolution=(16, 16), num_frames=2)
    scene.add(kg.Cube(name="floor", scale=(5, 5, 0.1), motion="static", is_background=True),
              kg.Sphere(name="ball", position=(0, 0, 1), labels={"size": 1.0}),
              kg.SunLight(direction=(0, 0, -1)))
    return scene.to_dict()


def _leaves(data, path=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(data, list) and data and not all(isinstance(v, (int, float)) for v in data):
        for i, v in enumerate(data):
            yield from _leaves(v, (*path, i))
    else:
        yield path


BASE = _base_scene()
LEAVES = list(_leaves(BASE))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(LEAVES), NASTY), min_size=1, max_size=3))
def test_fuzzed_scene_json_is_a_scene_or_a_scene_error(changes):
    data = json.loads(json.dumps(BASE))
    for path, value in changes:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    try:
        scene = kg.Scene.from_dict(data)
    except KubricGenError:
        return
    text = scene.to_json()  # a scene that validates serialises, with finite numbers only
    assert "NaN" not in text and "Infinity" not in text


VALUES = st.one_of(st.text(max_size=12), st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "[1, NaN]",
                                                          "[16, 16]", "[0, 16]", "true", "null", "{}", "[]", "-1",
                                                          "0", "1e-300", "16x16", "3"]),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10 ** 9, 10 ** 9).map(str))


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["resolution", "num_frames", "frame_rate", "no_such_key"]), VALUES)
def test_fuzzed_set_values_end_in_a_scene_or_one_error_line(capsys, key, value):
    """`kubric-gen scene helloworld --set KEY=VALUE` through the whole command (a built-in world
    builds in this process, so 500 scenes build in seconds; a user's world builds in a child)."""
    status = main(["scene", "helloworld", "--seed", "0", "--set", f"{key}={value}"])
    out, err = capsys.readouterr()
    assert status in (0, 2)
    if status == 2:
        assert err.startswith("kubric-gen: error: ") and err.count("\n") == 1, err
    else:
        assert "NaN" not in out and "Infinity" not in out
        kg.Scene.from_json(out)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(load_world("movi_a").defaults) + ["no_such_key"]), VALUES)
def test_fuzzed_movi_a_config_is_finite_or_a_config_error(key, value):
    world = load_world("movi_a")
    try:
        config = resolve_config(world, parse_overrides([f"{key}={value}"]))
    except KubricGenError:
        return
    assert "NaN" not in json.dumps(config) and "Infinity" not in json.dumps(config)


def test_ctrl_c_stops_render_and_its_child_with_one_line(tmp_path):
    import signal
    import time

    world = _world(tmp_path, "CONFIG = {}\ndef build(rng, config):\n    while True:\n        pass\n")
    proc = subprocess.Popen([sys.executable, "-m", "kubric_gen.cli", "render", world, "--seed", "0", "--output",
                             str(tmp_path / "o")], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=ctrl_c_default)
    try:
        time.sleep(3)  # the child is looping in the world by now
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130 and err.strip() == "kubric-gen: interrupted", err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the render child survived Ctrl-C")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.py"]
