import dataclasses
import os
import signal
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


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    items.sort(key=lambda item: -LONGEST_FILES.get(item.path.name, 0))  # stable: each file's own order stays


TINY = RenderSettings(samples=4, denoise=False, threads=1)


def ctrl_c_default() -> None:
    """A `preexec_fn` for processes a test interrupts with SIGINT: they get Ctrl-C's default
    action as under a terminal, even when the tests themselves run with SIGINT ignored (a
    background job of a shell without job control), which Python would keep ignoring."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
