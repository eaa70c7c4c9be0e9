"""What a user sees: each command, run as a real process with its output going to a file (as in
a log or a CI job), prints our own lines and nothing else: no TensorFlow start-up notes, TFDS
banners or deprecation warnings, Beam's import-time warnings (in the driver or in the workers
of a local Dask cluster), and no progress-bar escape codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TINY = ["--resolution", "16x16", "--frames", "2", "--samples", "1"]
# the beginnings of every line our commands print (stderr: "kubric-gen[ CMD]: ...")
OURS = re.compile(r"^(kubric-gen[ :]|wrote |preview: |dataset |load it with: )")


def _kubric_gen(args: list, cwd: Path) -> list[str]:
    """Run `kubric-gen ARGS` with stdout and stderr to files; their lines (status 0 asserted)."""
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.run([sys.executable, "-m", "kubric_gen.cli", *map(str, args)], cwd=cwd, stdout=o,
                              stderr=e, stdin=subprocess.DEVNULL, env=env, timeout=600)
    text = out.read_text() + err.read_text()
    assert proc.returncode == 0, text
    return [line for line in text.split("\n") if line]  # not splitlines(): a progress bar's \r must stay visible


def _assert_only_ours(lines: list[str]) -> None:
    assert lines, "the command printed nothing at all"
    control = [line for line in lines if "\x1b" in line or "\r" in line]
    assert control == [], f"terminal control codes written to a file: {control}"
    foreign = [line for line in lines if not OURS.match(line)]
    assert foreign == [], f"lines that are not kubric-gen's: {foreign}"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("quiet")


@pytest.fixture(scope="module")
def run_lines(work) -> list[str]:
    """`run` on the local runner, packaged with --tfds (TensorFlow, TFDS and Beam all imported)."""
    return _kubric_gen(["run", "movi_a", "--num-scenes", "2", "--output", work / "out", *TINY, "--tfds", "quiet",
                        "--tfds-data-dir", work / "tfds"], work)


def test_run_with_a_dataset_prints_our_lines_only(run_lines):
    _assert_only_ours(run_lines)
    assert any(line.startswith("dataset quiet ") for line in run_lines)


@pytest.mark.slow
def test_run_on_a_local_dask_cluster_prints_our_lines_only(tmp_path):
    """The workers of the local cluster are other processes writing to the same stderr."""
    pytest.importorskip("distributed", reason="needs dask.distributed: pip install 'kubric_gen[dask]'")
    lines = _kubric_gen(["run", "movi_a", "--num-scenes", "1", "--output", tmp_path / "out", *TINY, "--runner",
                         "dask"], tmp_path)
    _assert_only_ours(lines)


@pytest.mark.parametrize("command", [
    ["render", "movi_b", "--seed", "1", "--output", "{work}/render", *TINY],
    ["validate", "{work}/out"],
    ["validate", "{work}/tfds/quiet"],
    ["view", "{work}/out", "--output", "{work}/view_scenes"],
    ["view", "{work}/tfds/quiet", "--output", "{work}/view_dataset"],
    ["build-dataset", "{work}/out", "--name", "quiet_again", "--data-dir", "{work}/tfds"],
], ids=["render", "validate-scenes", "validate-dataset", "view-scenes", "view-dataset", "build-dataset"])
def test_every_command_prints_our_lines_only(command, run_lines, work, tmp_path):
    _assert_only_ours(_kubric_gen([arg.replace("{work}", str(work)) for arg in command], tmp_path))


def test_the_check_catches_foreign_lines():
    for line in ("WARNING:root:apitools not found", "Downloading and preparing dataset Unknown size",
                 "I0000 00:00:1.0 cpu_feature_guard.cc:210] oneDNN", "\rGenerating splits...:   0%|"):
        with pytest.raises(AssertionError):
            _assert_only_ours([line])
    with pytest.raises(AssertionError):
        _assert_only_ours(["kubric-gen run: 1/2 scenes\rkubric-gen run: 2/2 scenes"])
