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
TINY = RenderSettings(samples=4, denoise=False, threads=1)


def ctrl_c_default() -> None:
    """A `preexec_fn` for processes a test interrupts with SIGINT: they get Ctrl-C's default
    action as under a terminal, even when the tests themselves run with SIGINT ignored (a
    background job of a shell without job control), which Python would keep ignoring."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def movi_a_scene(tmp_path_factory):
    """One real MOVi-A scene directory (32x32, 3 frames, 40 tracks, float layers), shared by
    the tests that read scene directories; tests copy it before changing anything."""
    from kubric_gen.generate import generate_scene

    out = tmp_path_factory.mktemp("movi") / "seed_00005"
    generate_scene("movi_a", 5, out, TINY, {"resolution": [32, 32], "num_frames": 3}, num_tracks=40,
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
