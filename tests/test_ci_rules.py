"""Under CI (`.ci/run` sets CI=true) a skipped test fails the run, unless it needs an NVIDIA GPU
(`conftest.pytest_sessionfinish`): a missing ../shared/reference must not hide the compatibility
tests behind it. Checked on a throwaway test module run with this suite's conftest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadfile"]], ids=["one-process", "xdist"])
@pytest.mark.parametrize("reason, ci, status", [
    ("needs ../shared/reference", "true", 1),
    ("needs an NVIDIA driver", "true", 0),
    ("needs ../shared/reference", "", 0),
], ids=["reference-under-ci", "gpu-under-ci", "reference-elsewhere"])
def test_a_skip_under_ci_fails_unless_it_needs_a_gpu(tmp_path, reason, ci, status, workers):
    """Also with pytest-xdist's workers, as `make test` runs the suite: the skips reach the
    controlling process's summary, where the rule is applied."""
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_one.py").write_text(f"import pytest\n\ndef test_it():\n    pytest.skip({reason!r})\n\n"
                                          "def test_other():\n    pass\n")
    env = {**os.environ, "CI": ci}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, "test_one.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert ("skipped under CI" in proc.stdout) == (status == 1), proc.stdout
