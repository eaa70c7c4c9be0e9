"""Worlds with helper modules and world packages, found the same way in every process that runs
them: `render` and `run` children started from a working directory holding a decoy `kubric_gen/`
folder, a world package shipped by value to a child in another working directory (its folder
gone), the same package on a real local Dask cluster, and built-in names that folders of the
same name in the working directory do not hide. Real commands, real children, tiny renders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_pipeline import dask_cluster  # noqa: F401 - the module-scoped fixture: a real local cluster

from kubric_gen.pipeline.isolation import ChildProcess, world_spec
from kubric_gen.world import load_world

KUBRIC_GEN = str(Path(sys.executable).parent / "kubric-gen")
TINY = ["--resolution", "16x16", "--frames", "1", "--samples", "1", "--tracks", "4", "--no-preview"]

HELPER = """\
import kubric_gen as kg


def floor():
    return kg.Cube(name="floor", scale=(5, 5, 0.1), position=(0, 0, -0.1), motion="static", is_background=True,
                   material=kg.Principled(color=(0.5, 0.5, 0.5)))
"""

BUILD = """\
CONFIG = {"resolution": [16, 16], "num_frames": 1, "frame_rate": 12}


def build(rng, config):
    scene = kg.Scene(resolution=tuple(config["resolution"]), num_frames=config["num_frames"],
                     frame_rate=config["frame_rate"], step_rate=config["frame_rate"] * 20)
    scene += floor()
    scene += kg.Cube(name="cube", scale=0.4, position=(float(rng.uniform(-0.5, 0.5)), 0, 1.0),
                     material=kg.Flat(color=colour(), strength=2.0))
    scene.camera = kg.PerspectiveCamera(position=(0, -6, 3), look_at=(0, 0, 0.5))
    scene += kg.SunLight(direction=(0, 0.5, -1), strength=2.0)
    return scene
"""


def file_world(folder: Path) -> Path:
    """`folder/w.py`, importing `floor` from `myhelpers.py` beside it and `colour` lazily in build."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "myhelpers.py").write_text(HELPER + "\n\ndef colour():\n    return (1.0, 0.2, 0.1)\n")
    body = BUILD.replace("    scene += floor()", "    from myhelpers import colour  # lazily, in build\n"
                         "    scene += floor()")
    (folder / "w.py").write_text("import kubric_gen as kg\nfrom myhelpers import floor\n\n" + body)
    return folder / "w.py"


def package_world(parent: Path, name: str = "cubeworld") -> Path:
    """`parent/name/`: a world package whose __init__.py imports its helpers relatively."""
    pkg = parent / name
    (pkg / "parts").mkdir(parents=True)
    (pkg / "helpers.py").write_text(HELPER)
    (pkg / "parts" / "__init__.py").write_text("")
    (pkg / "parts" / "colours.py").write_text("def colour():\n    return (0.1, 0.9, 0.2)\n")
    (pkg / "__init__.py").write_text("import kubric_gen as kg\n\nfrom .helpers import floor\n"
                                     "from .parts.colours import colour\n\n" + BUILD)
    return pkg


def decoy(cwd: Path) -> None:
    """A `kubric_gen/` folder in the working directory that breaks whoever imports it."""
    (cwd / "kubric_gen").mkdir(parents=True)
    (cwd / "kubric_gen" / "__init__.py").write_text("raise ImportError('the decoy kubric_gen/ in the cwd')\n")


def kubric_gen(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([KUBRIC_GEN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_render_and_run_children_ignore_a_kubric_gen_folder_in_the_working_directory(tmp_path):
    decoy(tmp_path)
    file_world(tmp_path)  # beside the decoy, as a world beside a clone of the repository
    proc = kubric_gen(tmp_path, "render", "w.py", "--seed", "0", "--output", "one", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "one" / "rgba_00000.png").is_file()
    proc = kubric_gen(tmp_path, "run", "w.py", "--num-scenes", "2", "--output", "many", "--workers", "2", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "many" / "_run.json").read_text())["counts"]["done"] == 2
    assert (tmp_path / "many" / "scene_00000001" / "rgba_00000.png").is_file()


def test_children_of_a_process_that_imported_bpy_import_the_compiled_bpy(tmp_path):
    """Importing bpy puts Blender's script folders (a pure-Python `bpy` package among them) on
    sys.path; a render child handed that path imported the wrong bpy ("No module named '_bpy'")."""
    code = ("import sys, bpy\nfrom kubric_gen.cli import main\n"
            f"sys.exit(main(['render', 'helloworld', '--seed', '0', '--output', 'out', *{TINY!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "rgba_00000.png").is_file()


def test_a_world_package_ships_by_value_to_a_child_in_another_directory(tmp_path):
    """The child's working directory holds neither the package nor a way to it: the package's
    folder is renamed after the request was made, so only the shipped files can make the scene."""
    pkg = package_world(tmp_path / "src")
    world = load_world(str(pkg))
    assert world.package and world.name == "cubeworld"
    assert sorted(world.files()) == ["__init__.py", "helpers.py", "parts/__init__.py", "parts/colours.py"]
    request = {"name": "s", "seed": 3, "target": str(tmp_path / "out" / "s"), "overwrite": False,
               "world": world_spec(world), "overrides": {}, "settings": {"samples": 1, "denoise": False},
               "num_tracks": 4, "float_layers": False, "preview": False, "save_blend": False, "output": None}
    json.dumps(request)  # what travels is plain JSON
    sha256 = world.sha256
    pkg.rename(tmp_path / "src" / "moved_away")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    here = os.getcwd()
    os.chdir(elsewhere)
    try:
        child = ChildProcess(idle_timeout=0)
        try:
            answer = child.generate(request, timeout=300)
        finally:
            child.close()
    finally:
        os.chdir(here)
    assert (Path(answer["path"]) / "rgba_00000.png").is_file()
    provenance = json.loads((Path(answer["path"]) / "provenance.json").read_text())
    assert provenance["world"]["name"] == "cubeworld" and provenance["world"]["sha256"] == sha256


def test_a_world_package_renders_on_a_local_dask_cluster(dask_cluster, tmp_path):  # noqa: F811
    """Driver and Dask workers each in a working directory of its own (the workers' is the
    cluster's log folder); the package is named by a path relative to the driver's."""
    driver_cwd = tmp_path / "driver"
    package_world(driver_cwd)
    out = tmp_path / "out"
    proc = kubric_gen(driver_cwd, "run", "cubeworld", "--num-scenes", "2", "--output", str(out), *TINY,
                      "--runner", "dask", f"--dask_client_address={dask_cluster}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "_run.json").read_text())["counts"]["done"] == 2
    for seed in range(2):
        assert (out / f"scene_0000000{seed}" / "rgba_00000.png").is_file()
        provenance = json.loads((out / f"scene_0000000{seed}" / "provenance.json").read_text())
        assert provenance["world"]["name"] == "cubeworld"


def test_a_builtin_name_is_the_builtin_world_whatever_the_working_directory_holds(tmp_path):
    (tmp_path / "movi_a").mkdir()
    (tmp_path / "movi_a" / "junk.txt").write_text("not a world")
    proc = kubric_gen(tmp_path, "scene", "./movi_a", "--seed", "0")
    assert proc.returncode == 2 and "__init__.py" in proc.stderr, proc.stderr  # a path: the folder, no package
    (tmp_path / "movi_a" / "junk.txt").unlink()
    (tmp_path / "movi_a").rmdir()
    # the output folder is named like the world: every scene still loads the built-in world
    proc = kubric_gen(tmp_path, "run", "movi_a", "--output", "movi_a", "--num-scenes", "1", "--workers", "1", *TINY)
    assert proc.returncode == 0, proc.stderr
    run = json.loads((tmp_path / "movi_a" / "_run.json").read_text())
    assert run["counts"]["done"] == 1, run
    metadata = json.loads((tmp_path / "movi_a" / "scene_00000000" / "metadata.json").read_text())
    assert metadata["metadata"]["num_instances"] >= 3  # MOVi-A's objects, not anything else
    proc = kubric_gen(tmp_path, "render", "movi_a", "--seed", "0", "--output", "single", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "single" / "provenance.json").read_text())["world"]["name"] == "movi_a"


def test_helper_modules_of_two_worlds_with_the_same_name_stay_apart(tmp_path):
    """Two file worlds in one process, each with its own `myhelpers.py`: each gets its own."""
    from kubric_gen.world import build_scene, resolve_config

    a, b = file_world(tmp_path / "a"), file_world(tmp_path / "b")
    (tmp_path / "b" / "myhelpers.py").write_text(HELPER.replace("(5, 5, 0.1)", "(7, 7, 0.1)")
                                                 + "\n\ndef colour():\n    return (0.0, 0.0, 1.0)\n")
    scenes = []
    for path in (a, b):
        world = load_world(str(path))
        scenes.append(build_scene(world, 0, resolve_config(world)))
    assert scenes[0].object("floor").scale == (5, 5, 0.1) and scenes[1].object("floor").scale == (7, 7, 0.1)
    assert scenes[1].object("cube").material.color == (0.0, 0.0, 1.0)


@pytest.mark.parametrize("helper, hidden", [("numpy.py", "numpy"), ("turtle.py", "standard-library"),
                                            ("json.py", "json")])
def test_a_helper_that_would_hide_another_module_is_refused(tmp_path, helper, hidden):
    from kubric_gen.errors import WorldError

    path = file_world(tmp_path)
    (tmp_path / helper).write_text("x = 1\n")
    with pytest.raises(WorldError, match=hidden):
        load_world(str(path))
