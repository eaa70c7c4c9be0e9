import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import kubric_gen as kg
from kubric_gen.render.settings import RenderSettings

REFERENCE = Path(__file__).parents[2] / "shared" / "reference" / "kubric_movi_a_128"
# Skips that CI allows: tests that need an NVIDIA GPU (or a machine without one). Any other skip
# under CI (`.ci/run` runs with CI=true) fails the run: a missing ../shared/reference, podman,
# a package or a permission would otherwise hide the compatibility tests it guards.
GPU_SKIP_WORDS = ("NVIDIA", "CUDA")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skips = [report for report in (reporter.stats.get("skipped", []) if reporter else [])
             if isinstance(report.longrepr, tuple) and not any(w in report.longrepr[2] for w in GPU_SKIP_WORDS)]
    if skips:
        for report in skips:
            reporter.write_line(f"skipped under CI (only GPU tests may skip): {report.nodeid}: {report.longrepr[2]}",
                                red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# `make test` hands whole files to its pytest-xdist workers in collection order (--dist loadfile
# --no-loadscope-reorder: xdist's own order, most tests first, left the container build, the
# longest file on a machine that never built the image, to the end, with the other worker idle).
# The longest files go first (longest-first scheduling); the others keep their order. Seconds, in
# a 2-worker run on 2 cores with cold caches.
LONGEST_FILES = {"test_container.py": 390, "test_matrix.py": 430, "test_pipeline.py": 300, "test_datasets.py": 120,
                 "test_bad_input.py": 80, "test_worlds.py": 80, "test_quiet_output.py": 60,
                 "test_world_packages.py": 50, "test_physics.py": 30, "test_view.py": 27, "test_torch.py": 25,
                 "test_datasets_multiview.py": 22, "test_ci_rules.py": 21, "test_render_textures.py": 15,
                 "test_examples.py": 14, "test_validate_multiview.py": 13, "test_cli.py": 12, "test_save_blend.py": 12}


# The container image (tests/test_container.py) is built by a background process that the session
# starts before any test (`make test`: pytest-xdist's controller, whose environment the workers
# inherit), at a lower priority, so that its downloads and disk writes overlap the other tests
# instead of holding a worker; the container file then runs last and finds the image built (its
# fixture waits for the build, then builds again: every layer from podman's cache). Only when the
# whole suite runs with container tests possible; `pytest tests/test_container.py` builds in its fixture.
IMAGE_BUILD_ENV = "KUBRIC_GEN_TEST_IMAGE_BUILD"
_image_build: subprocess.Popen | None = None


def _whole_suite_with_containers(config: pytest.Config) -> bool:
    tests = Path(__file__).resolve().parent
    targets = [Path(str(a).split("::")[0]).resolve() for a in config.args] or [Path.cwd()]
    whole = all(t in (tests, tests.parent) for t in targets) and not config.getoption("keyword") \
        and not config.getoption("markexpr")
    return whole and os.geteuid() == 0 and shutil.which("podman") is not None


def pytest_configure(config: pytest.Config) -> None:
    global _image_build
    if hasattr(config, "workerinput") or IMAGE_BUILD_ENV in os.environ or not _whole_suite_with_containers(config):
        return
    folder = Path(tempfile.mkdtemp(prefix="kubric_gen-image-build-"))
    script = (f'"{sys.executable}" "{Path(__file__).parents[1] / "benchmarks" / "container.py"}" --build-only '
              f'--nice 10 > "{folder}/result.json" 2> "{folder}/log"; echo $? > "{folder}/rc"')
    _image_build = subprocess.Popen(["sh", "-c", script], start_new_session=True,
                                    preexec_fn=lambda: os.nice(10))
    os.environ[IMAGE_BUILD_ENV] = str(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _image_build is None:
        return
    if _image_build.poll() is None:  # the container tests never waited for it
        os.killpg(_image_build.pid, signal.SIGTERM)
        _image_build.wait()
    shutil.rmtree(os.environ.pop(IMAGE_BUILD_ENV), ignore_errors=True)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    last = {"test_container.py"} if IMAGE_BUILD_ENV in os.environ else set()
    # stable: each file's own order stays
    items.sort(key=lambda item: (item.path.name in last, -LONGEST_FILES.get(item.path.name, 0)))


TINY = RenderSettings(samples=4, denoise=False, threads=1)


def ctrl_c_default() -> None:
    """A `preexec_fn` for processes a test interrupts with SIGINT: they get Ctrl-C's default
    action as under a terminal, even when the tests themselves run with SIGINT ignored (a
    background job of a shell without job control), which Python would keep ignoring."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def tiny_world_scene(folder: Path, world: str, num_tracks: int) -> Path:
    """Scene 0 of a built-in world, tiny (32x32, 3 frames), written to folder/scene."""
    from kubric_gen.generate import generate_scene

    out = folder / "scene"
    generate_scene(world, 0, out, TINY, {"resolution": [32, 32], "num_frames": 3}, num_tracks=num_tracks)
    return out


@pytest.fixture(scope="session")
def movi_a_scene(tmp_path_factory):
    """One real MOVi-A scene directory (32x32, 3 frames, 40 tracks, float layers, intrinsic
    images), shared by the tests that read scene directories; tests copy it before changing anything."""
    from kubric_gen.generate import generate_scene

    out = tmp_path_factory.mktemp("movi") / "seed_00005"
    generate_scene("movi_a", 5, out, dataclasses.replace(TINY, intrinsics=True),
                   {"resolution": [32, 32], "num_frames": 3}, num_tracks=40,
                   float_layers=True)
    return out


@pytest.fixture
def floor():
    return kg.Cube(name="floor", scale=(10, 10, 0.5), position=(0, 0, -0.5), motion="static", is_background=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def assert_same_tree(a, b, path: str = "") -> None:
    """Equal nested examples: dicts by key, arrays and ragged lists (tf.data's RaggedTensors too)
    element by element."""
    a, b = (x.to_list() if hasattr(x, "to_list") else x for x in (a, b))
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for k in a:
            assert_same_tree(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)) or (isinstance(a, np.ndarray) and a.dtype == object):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tree(x, y, f"{path}[{i}]")
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=path)


def assert_same_samples(a, b, path: str = "") -> None:
    """Equal PyTorch samples: the same keys, tensors equal in dtype and value."""
    import torch

    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same_samples(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), path
    else:
        assert a == b, path
