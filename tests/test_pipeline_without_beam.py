"""Apache Beam is an optional extra: without it, `kubric-gen run` (and a Beam build of a dataset)
says in one line what to install, and every other command works. Beam's absence is simulated
in subprocesses by a sitecustomize module that hides `apache_beam` from the import system."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ONE_CUBE = str(ROOT / "tests" / "worlds" / "one_cube.py")
HINT = "pip install 'kubric_gen[beam]'"

HIDE_BEAM = '''
import importlib.machinery

_find_spec = importlib.machinery.PathFinder.find_spec


def _without_beam(name, path=None, target=None):
    if name == "apache_beam" or name.startswith("apache_beam."):
        return None  # as if it were not installed
    return _find_spec(name, path, target)


importlib.machinery.PathFinder.find_spec = staticmethod(_without_beam)
'''


@pytest.fixture(scope="module")
def no_beam_env(tmp_path_factory):
    import os

    shim = tmp_path_factory.mktemp("no_beam")
    (shim / "sitecustomize.py").write_text(HIDE_BEAM)
    return dict(os.environ, PYTHONPATH=str(shim))


COMMANDS = """
import contextlib, io, json, sys
from kubric_gen import cli

results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(argv)
    results.append([status, err.getvalue(), sorted(m for m in sys.modules if m.startswith("apache_beam"))])
print(json.dumps(results))
"""


def test_the_shim_hides_beam(no_beam_env):
    proc = subprocess.run([sys.executable, "-c", "import apache_beam"], env=no_beam_env, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "No module named 'apache_beam'" in proc.stderr


def test_run_without_beam_is_one_line_exit_2_and_every_other_command_works(no_beam_env, tmp_path):
    out = tmp_path / "scene"
    run = subprocess.Popen([sys.executable, "-m", "kubric_gen.cli", "run", ONE_CUBE, "--num-scenes", "2",
                            "--output", str(tmp_path / "run")], cwd=ROOT, env=no_beam_env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    commands = [  # in one process (each command is mostly start-up)
        ["run", ONE_CUBE, "--num-scenes", "2", "--output", str(tmp_path / "run"), "--runner", "dask", "--tfds", "d"],
        ["build-dataset", str(tmp_path), "--name", "d", "--data-dir", str(tmp_path / "tfds"), "--runner",
         "DirectRunner"],
        ["worlds", "movi_a"],
        ["assets", "list"],
        ["render", ONE_CUBE, "--seed", "0", "--output", str(out), "--samples", "4", "--tracks", "16", "--no-preview"],
        ["validate", str(out)],
        ["view", str(out), "--output", str(tmp_path / "view")],
    ]
    import json

    others = subprocess.run([sys.executable, "-c", COMMANDS, json.dumps(commands)], cwd=ROOT, env=no_beam_env,
                            capture_output=True, text=True, timeout=300)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 2 and err.strip() == f"kubric-gen: error: kubric-gen run needs Apache Beam: {HINT}", err
    assert others.returncode == 0, others.stderr
    results = json.loads(others.stdout.strip().splitlines()[-1])
    (run_status, run_err, _), (dataset_status, dataset_err, _), *rest = results
    assert run_status == 2 and run_err.strip() == f"kubric-gen: error: kubric-gen run needs Apache Beam: {HINT}"
    assert dataset_status == 2 and dataset_err.strip() == (
        f"kubric-gen: error: kubric-gen build-dataset with a Beam runner needs Apache Beam: {HINT}"), dataset_err
    assert not (tmp_path / "run").exists() and not (tmp_path / "tfds" / "d").exists()
    for argv, (status, stderr, beam_modules) in zip(commands[2:], rest, strict=True):
        assert status == 0 and not beam_modules, (argv, stderr)
    assert (out / "_COMPLETE").is_file() and (tmp_path / "view").is_dir()
