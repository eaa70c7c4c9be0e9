"""The command line: bad input gives one clear line, a non-zero exit and no output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORLD_FILE = Path(__file__).parent / "worlds" / "one_cube.py"


def kubric_gen(*args, cwd=None):
    exe = Path(sys.executable).parent / "kubric-gen"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("args, expected", [
    (["render", "movi_a", "--seed", "1", "--resolution", "0x0"], "--resolution"),
    (["render", "movi_a", "--seed", "1", "--resolution", "big"], "--resolution"),
    (["render", "no_such_world", "--seed", "1"], "no_such_world"),
    (["render", "missing/world.py", "--seed", "1"], "missing/world.py"),
    (["render", "movi_a", "--seed", "1", "--set", "colour=red"], "'colour'"),
    (["render", "movi_a", "--seed", "1", "--set", "min_num_objects=many"], "'min_num_objects'"),
    (["render", "movi_a", "--seed", "1", "--set", "min_num_objects=5", "--set", "max_num_objects=2"],
     "max_num_objects"),
    (["render", "movi_a", "--seed", "-3"], "--seed"),
    (["render", "movi_a", "--seed", "1", "--samples", "0"], "--samples"),
    (["render", "movi_a", "--seed", "1", "--device", "tpu"], "--device"),
    (["render", "movi_a", "--seed", "1", "--frames", "0"], "--frames"),
])
def test_bad_input_one_line_nonzero_exit_nothing_created(tmp_path, args, expected):
    out = tmp_path / "out"
    result = kubric_gen(*args, "--output", str(out), cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kubric-gen: error:") and expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert sorted(os.listdir(tmp_path)) == []  # no output, no temporary leftovers


def test_existing_output_is_not_overwritten_silently(tmp_path):
    out = tmp_path / "scene"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = kubric_gen("render", str(WORLD_FILE), "--seed", "0", "--output", str(out))
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert (out / "keep.txt").read_text() == "mine"


def test_worlds_lists_builtin_worlds_with_config():
    result = kubric_gen("worlds")
    assert result.returncode == 0
    assert "movi_a" in result.stdout and "helloworld" in result.stdout
    assert "min_num_objects=3" in result.stdout


def test_scene_prints_valid_json_with_overrides():
    result = kubric_gen("scene", "movi_a", "--seed", "0", "--resolution", "64x48", "--set", "max_num_objects=4")
    assert result.returncode == 0, result.stderr
    scene = json.loads(result.stdout)
    assert scene["resolution"] == [64, 48] and scene["seed"] == 0
    assert 3 <= len(scene["objects"]) - 1 <= 4


def test_help_for_every_command():
    for args in (["--help"], ["render", "--help"], ["worlds", "--help"], ["scene", "--help"], ["run", "--help"],
                 ["build-dataset", "--help"], ["assets", "--help"], ["view", "--help"]):
        result = kubric_gen(*args)
        assert result.returncode == 0 and "usage:" in result.stdout
