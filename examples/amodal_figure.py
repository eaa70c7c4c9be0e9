"""Draw the amodal figures of the docs from a folder of rendered scenes (e.g. a MOVi-E run).

    .venv/bin/kubric-gen run movi_e --num-scenes 6 --output out/movi_e --resolution 128x128 --frames 12 --samples 16
    .venv/bin/python examples/amodal_figure.py out/movi_e --output docs/images

Writes `amodal_overlay.png` (one frame of the first scene: the RGB, each instance's visible
pixels tinted and its amodal silhouette outlined in the same colour, so the hidden part of an
object shows as an outline over what hides it) and `visible_fraction.png` (the histogram of
`visible_fraction` over every instance and frame of every scene where the instance is in the
image), and prints the numbers it drew as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from kubric_gen.io import SceneDir
from kubric_gen.io.reader import list_scene_dirs
from kubric_gen.visual import colors


def _outline(mask: np.ndarray) -> np.ndarray:
    """The pixels of a mask with a 4-neighbour outside it."""
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def overlay(sd: SceneDir, frame: int, scale: int = 4) -> tuple[np.ndarray, dict]:
    rgb = sd.stored("rgba")[frame, ..., :3].astype(float)
    seg = sd.layer("segmentation")[frame]
    masks = sd.amodal()[:, frame]
    palette = colors.segmentation_palette(len(masks)).astype(float)
    out = rgb.copy()
    visible = seg > 0
    out[visible] = 0.55 * rgb[visible] + 0.45 * palette[seg[visible]]
    big = np.repeat(np.repeat(out, scale, 0), scale, 1)
    hidden_parts = 0
    for k, mask in enumerate(masks):
        edge = _outline(np.repeat(np.repeat(mask, scale, 0), scale, 1))
        big[edge] = palette[k + 1]
        hidden_parts += int((mask & (seg != k + 1)).any())
    return big.clip(0, 255).astype(np.uint8), {"frame": frame, "instances_partly_hidden": hidden_parts}


def histogram(fractions: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    ax.hist(fractions, bins=20, range=(0, 1), color="#4a7ab8", edgecolor="white")
    ax.set_xlabel("visible fraction (visible / amodal pixels)")
    ax.set_ylabel("instance-frames")
    ax.set_title(f"{len(fractions)} instance-frames in the image")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", help="a folder of scene directories")
    parser.add_argument("--output", required=True, help="folder for the two PNGs")
    parser.add_argument("--frame", type=int, default=None, help="frame of the overlay (default: the one with the "
                        "most partly hidden instances)")
    args = parser.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    scenes = [SceneDir(p) for p in list_scene_dirs(args.scenes)]
    fractions = np.concatenate([np.asarray(inst["visible_fraction"])[np.asarray(inst["amodal_pixels"]) > 0]
                                for sd in scenes for inst in sd.metadata["instances"]])
    first = scenes[0]
    frames = range(first.num_frames) if args.frame is None else [args.frame]
    best = max(frames, key=lambda f: overlay(first, f)[1]["instances_partly_hidden"])
    image, facts = overlay(first, best)
    Image.fromarray(image).save(out / "amodal_overlay.png")
    histogram(fractions, out / "visible_fraction.png")
    print(json.dumps({"scenes": len(scenes), "instance_frames": len(fractions),
                      "overlay": {"scene": first.name, **facts},
                      "visible_fraction": {"mean": round(float(fractions.mean()), 3),
                                           "fully_visible": round(float((fractions >= 0.999).mean()), 3),
                                           "under_half": round(float((fractions < 0.5).mean()), 3),
                                           "fully_hidden": round(float((fractions == 0).mean()), 3)}}, indent=1))


if __name__ == "__main__":
    main()
