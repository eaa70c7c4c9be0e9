"""`examples/train_flow.py` as a user runs it: a few training steps on the shared MOVi-A scene lower
the loss and write the loss curve, the per-step losses and the weights."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

if os.environ.get("KUBRIC_GEN_REQUIRE_CONTAINER_TESTS") == "1":  # CI installs every extra: no skipping there
    import torch
else:
    torch = pytest.importorskip("torch", reason="examples/train_flow.py needs PyTorch: pip install 'kubric_gen[torch]'")

REPO = Path(__file__).parents[1]
EXAMPLE = REPO / "examples" / "train_flow.py"
STEPS = 20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_train_flow_lowers_the_loss_and_writes_its_outputs(movi_a_scene: Path, tmp_path: Path) -> None:
    """20 steps (fixed seed) on one 32x32, 3-frame scene: the mean EPE of the last 5 steps is below
    that of the first 5; loss.png, loss.json and model.pt are written."""
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / movi_a_scene.name).symlink_to(movi_a_scene, target_is_directory=True)  # read only, never copied
    out = tmp_path / "train"
    argv = [sys.executable, str(EXAMPLE), "--scenes", str(scenes), "--steps", str(STEPS), "--batch-size", "8",
            "--pairs-per-scene", "8", "--size", "32", "--workers", "1", "--seed", "0", "--log-every", "5",
            "--output", str(out)]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "zero-flow EPE" in proc.stdout.splitlines()[-1], proc.stdout

    record = json.loads((out / "loss.json").read_text())
    losses = record["loss"]
    assert len(losses) == STEPS and all(math.isfinite(v) and v >= 0 for v in losses), losses
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first, f"the loss did not go down: first 5 steps {first:.4f}, last 5 {last:.4f}: {losses}"
    assert len(record["zero_flow_epe"]) == STEPS

    png = (out / "loss.png").read_bytes()
    assert len(png) > 1000 and png.startswith(PNG_SIGNATURE)
    weights = torch.load(out / "model.pt", weights_only=True)
    assert weights["head.weight"].shape[0] == 2 and all(torch.isfinite(w).all() for w in weights.values())


def test_help_reads_the_right_way_round() -> None:
    """Every on/off option of the example shows both spellings with its default, so that
    `--help` never says `--no-x ... (default: True)`."""
    out = subprocess.run([sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, check=True).stdout
    options = " ".join(out.split())  # argparse wraps long lines
    assert "--mask, --no-mask" in options and "count them too) (default: True)" in options
    lone_negations = [word for word in options.split() if word.startswith("--no-")
                      and f"--{word[5:].rstrip(',]')}" not in options]
    assert lone_negations == [], lone_negations
