"""Train a small optical-flow network on a generated dataset (PyTorch, CPU is enough).

The model sees two consecutive frames t and t+1 (6 channels) and predicts `forward_flow`
(2, H, W): the (d_row, d_col) motion in pixels of the point seen at each pixel. The loss is the
endpoint error (EPE, the mean L2 norm of the flow difference) over the pixels that are not
occluded at t+1 (`~forward_flow_occlusion`).

Make a small dataset (about a minute on 2 cores), then train (a few minutes for 300 steps):

    .venv/bin/kubric-gen run movi_a --num-scenes 8 --output out/flow_data --resolution 64x64 --frames 12 --samples 16
    .venv/bin/python examples/train_flow.py --scenes out/flow_data --steps 300 --output out/train_flow

Or read a prepared dataset (`kubric-gen build-dataset ... --file-format array_record`):

    .venv/bin/python examples/train_flow.py --tfds my_movi_a --data-dir out/tfds --steps 300 --output out/train_flow

Each step loads `ceil(batch_size / pairs_per_scene)` scene videos through a DataLoader (resized
to `--size`, optionally randomly cropped first) and takes `--pairs-per-scene` random frame pairs
from each. The scenes must share their number of frames. `--output` receives `loss.json`
(per-step losses and the zero-flow baseline), `loss.png` (the loss curve) and `model.pt` (the
weights, a state dict of `FlowNet`). The last line printed compares the first and last
smoothed losses with the EPE of predicting zero flow on the same pairs.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from kubric_gen.datasets.torch import Compose, RandomCrop, Resize, SceneDirDataset, TFDSDataset, collate

LAYERS = ("video", "forward_flow", "forward_flow_occlusion")


def conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, group norm, GELU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(4, cout), nn.GELU())


class FlowNet(nn.Module):
    """A small U-Net: two frames (B, 6, H, W) in [0, 1] -> flow (B, 2, H, W) in pixels (H, W divisible by 4)."""

    def __init__(self, width: int = 12) -> None:
        super().__init__()
        w1, w2, w3 = width, 2 * width, 3 * width
        self.enc1 = nn.Sequential(conv(6, w1), conv(w1, w1))
        self.enc2 = nn.Sequential(conv(w1, w2, stride=2), conv(w2, w2))
        self.enc3 = nn.Sequential(conv(w2, w3, stride=2), conv(w3, w3))
        self.dec2 = conv(w3 + w2, w2)
        self.dec1 = conv(w2 + w1, w1)
        self.head = nn.Conv2d(w1, 2, 3, padding=1)
        nn.init.zeros_(self.head.weight)  # start from zero flow: the first losses are the zero-flow EPE
        nn.init.zeros_(self.head.bias)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Flow t -> t+1 of frames[:, :3] (t) and frames[:, 3:] (t+1)."""
        x = frames - 0.5
        e1 = self.enc1(torch.cat([x[:, :3], x[:, 3:] - x[:, :3]], dim=1))  # frame t and the change to t+1
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, size=e2.shape[-2:], mode="bilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[-2:], mode="bilinear", align_corners=False), e1], 1))
        return self.head(d1)


def endpoint_error(pred: torch.Tensor, flow: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean L2 norm of (pred - flow) over the valid pixels: (B, 2, H, W), (B, 2, H, W), (B, H, W) bool."""
    err = torch.linalg.vector_norm(pred - flow, dim=1)
    weight = valid.to(err.dtype)
    return (err * weight).sum() / weight.sum().clamp(min=1)


def frame_pairs(batch: dict[str, Any], pairs_per_scene: int, generator: torch.Generator,
                mask: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random pairs (t, t+1) from each video of a collated batch: inputs (P, 6, H, W), flow (P, 2, H, W),
    valid (P, H, W), with P = scenes x pairs_per_scene."""
    video = batch["video"]  # (B, T, 3, H, W)
    b, t_len = video.shape[:2]
    t = torch.randint(0, t_len - 1, (b, pairs_per_scene), generator=generator)
    scene = torch.arange(b)[:, None].expand_as(t)
    inputs = torch.cat([video[scene, t], video[scene, t + 1]], dim=2).flatten(0, 1)
    flow = batch["forward_flow"][scene, t].flatten(0, 1)
    valid = ~batch["forward_flow_occlusion"][scene, t].flatten(0, 1)
    return inputs, flow, valid if mask else torch.ones_like(valid)


def make_dataset(args: argparse.Namespace) -> Dataset:
    """The scene directories under --scenes, or the split --split of the prepared dataset --tfds."""
    transforms = []
    if args.crop:
        transforms.append(RandomCrop(args.crop))
    transforms.append(Resize(args.size))
    transform = Compose(transforms)
    if args.tfds:
        return TFDSDataset(args.tfds, args.data_dir, split=args.split, layers=LAYERS, transform=transform)
    return SceneDirDataset(args.scenes, layers=LAYERS, transform=transform)


def smoothed(values: list[float], window: int) -> list[float]:
    """Trailing moving average."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def plot(losses: list[float], baselines: list[float], window: int, path: Path) -> None:
    """The loss curve (raw and smoothed) with the zero-flow baseline, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = range(1, len(losses) + 1)
    ax.plot(steps, losses, color="tab:blue", alpha=0.3, label="EPE (per step)")
    ax.plot(steps, smoothed(losses, window), color="tab:blue", label=f"EPE (mean of {window} steps)")
    ax.plot(steps, smoothed(baselines, window), color="tab:gray", linestyle="--", label="zero-flow EPE")
    ax.set_xlabel("step")
    ax.set_ylabel("endpoint error (pixels)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--scenes", help="a folder of scene directories (kubric-gen run --output)")
    src.add_argument("--tfds", metavar="NAME", help="a dataset prepared with --file-format array_record")
    p.add_argument("--data-dir", help="the TFDS data dir of --tfds")
    p.add_argument("--split", default="train", help="the split of --tfds")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16, help="frame pairs per step")
    p.add_argument("--pairs-per-scene", type=int, default=4, help="frame pairs taken from each loaded video")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (cosine decay to 10%%)")
    p.add_argument("--width", type=int, default=12, help="channels of the first level of the network")
    p.add_argument("--size", type=int, default=64, help="train at size x size pixels (divisible by 4)")
    p.add_argument("--crop", type=int, default=0, help="random square crop (pixels) before resizing; 0: none")
    p.add_argument("--mask", action=argparse.BooleanOptionalAction, default=True,
                   help="leave pixels occluded at t+1 out of the loss (--no-mask: count them too)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads of the training process (this small model gains little from more, and one "
                        "thread copes best with busy cores); 0: torch's default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=25, help="print progress every N steps")
    p.add_argument("--output", required=True, help="folder for loss.png, loss.json and model.pt")
    args = p.parse_args(argv)
    if args.tfds and not args.data_dir:
        p.error("--tfds needs --data-dir")
    if args.steps < 1 or args.batch_size < 1 or args.pairs_per_scene < 1:
        p.error("--steps, --batch-size and --pairs-per-scene must be positive")
    if args.size % 4:
        p.error("--size must be divisible by 4")
    return args


def main(argv: list[str] | None = None) -> int:
    """Train, write the outputs, print a summary; 0 on success."""
    args = parse_args(argv)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    model = FlowNet(args.width)
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s / args.steps, 1.0))))

    dataset = make_dataset(args)
    scenes_per_step = math.ceil(args.batch_size / args.pairs_per_scene)
    sampler = RandomSampler(dataset, replacement=True, num_samples=args.steps * scenes_per_step,
                            generator=torch.Generator().manual_seed(args.seed))
    loader = DataLoader(dataset, batch_size=scenes_per_step, sampler=sampler, num_workers=args.workers,
                        collate_fn=collate, generator=torch.Generator().manual_seed(args.seed + 1),
                        persistent_workers=False,
                        # TFDSDataset's ArrayRecord readers must not be forked; scene directories may be
                        multiprocessing_context="spawn" if args.tfds and args.workers else None)
    pairs_rng = torch.Generator().manual_seed(args.seed + 2)

    source = f"{args.tfds} ({args.split})" if args.tfds else args.scenes
    print(f"{len(dataset)} scenes from {source}; FlowNet with {params} parameters; "
          f"{args.steps} steps of {args.batch_size} frame pairs at {args.size}x{args.size}", flush=True)

    losses: list[float] = []
    baselines: list[float] = []
    window = max(1, min(20, args.steps // 4))
    start = time.perf_counter()
    waited = 0.0  # seconds spent waiting for the DataLoader
    batches = iter(loader)
    for step in range(1, args.steps + 1):
        tick = time.perf_counter()
        batch = next(batches)
        waited += time.perf_counter() - tick
        inputs, flow, valid = frame_pairs(batch, args.pairs_per_scene, pairs_rng, args.mask)
        inputs, flow, valid = inputs[:args.batch_size], flow[:args.batch_size], valid[:args.batch_size]
        loss = endpoint_error(model(inputs), flow, valid)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        baselines.append(endpoint_error(torch.zeros_like(flow), flow, valid).item())
        if step % args.log_every == 0 or step == args.steps:
            print(f"step {step:5d}/{args.steps}  EPE {np.mean(losses[-window:]):.4f}  "
                  f"zero-flow EPE {np.mean(baselines[-window:]):.4f}  {time.perf_counter() - start:.1f} s "
                  f"({waited:.1f} s waiting for data)", flush=True)
    elapsed = time.perf_counter() - start

    torch.save(model.state_dict(), out / "model.pt")
    first, last = float(np.mean(losses[:window])), float(np.mean(losses[-window:]))
    zero = float(np.mean(baselines))
    (out / "loss.json").write_text(json.dumps({
        "steps": len(losses), "loss": losses, "zero_flow_epe": baselines, "window": window,
        "first": first, "last": last, "zero_flow_epe_mean": zero, "seconds": elapsed, "parameters": params,
        "args": {k: v for k, v in vars(args).items()}}, indent=1) + "\n")
    plot(losses, baselines, window, out / "loss.png")
    print(f"done in {elapsed:.1f} s: EPE first {first:.4f} -> last {last:.4f} (means of {window} steps); "
          f"zero-flow EPE {zero:.4f}; wrote {out / 'loss.png'}, {out / 'loss.json'}, {out / 'model.pt'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
