"""Make the deformable worlds' pictures in the docs: docs/worlds/{cloth,soft_toys}.gif and
docs/images/deformable_contact_sheet.png (the cloth world's scene with the tracks that start on the
cloth drawn on its frames: each point where the track is at that frame, its trail over the frames
before; hollow where the point is occluded).

    .venv/bin/python docs/images/deformable_sheet.py [--resolution 192] [--frames 24] [--samples 64]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from kubric_gen.generate import generate_scene
from kubric_gen.io import SceneDir
from kubric_gen.render import RenderSettings
from kubric_gen.visual import colors, sheet, video

DOCS = Path(__file__).resolve().parents[1]


def with_tracks(rgb: np.ndarray, xy: np.ndarray, occluded: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The frames (T, H, W, 3) with each track's trail up to the frame and its point on it."""
    out = []
    for t, frame in enumerate(rgb):
        image = Image.fromarray(frame)
        draw = ImageDraw.Draw(image)
        for n in range(len(xy)):
            color = tuple(int(c) for c in palette[n])
            trail = [tuple(p) for p in xy[n, max(0, t - 6):t + 1].tolist()]
            if len(trail) > 1:
                draw.line(trail, fill=color, width=1)
            x, y = xy[n, t]
            box = (x - 2, y - 2, x + 2, y + 2)
            draw.ellipse(box, outline=color) if occluded[n, t] else draw.ellipse(box, fill=color)
        out.append(np.asarray(image))
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=192)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    settings = RenderSettings(samples=args.samples)
    config = {"resolution": [args.resolution, args.resolution], "num_frames": args.frames}
    with tempfile.TemporaryDirectory() as tmp:
        for world in ("cloth", "soft_toys"):
            out = Path(tmp) / world
            generate_scene(world, args.seed, out, settings, config, num_tracks=1024, preview=False)
            sd = SceneDir(out)
            rgb = np.ascontiguousarray(sd.layer("rgba")[..., :3])
            video.write_gif(DOCS / "worlds" / f"{world}.gif", rgb, 12)
            if world != "cloth":
                continue
            tracks = sd.tracks()
            cloth = 1 + next(k for k, inst in enumerate(sd.metadata["instances"]) if inst["name"] == "cloth")
            q = tracks.query_points.astype(int)
            on = np.flatnonzero(sd.layer("segmentation")[q[:, 0], q[:, 1], q[:, 2]] == cloth)[::8]
            palette = colors.segmentation_palette(len(on) + 1)[1:]
            drawn = with_tracks(rgb, tracks.target_points[on], tracks.occluded[on], palette)
            image = sheet.contact_sheet(drawn, sd.layer("segmentation"), sd.layer("depth"), sd.layer("forward_flow"))
            image.save(DOCS / "images" / "deformable_contact_sheet.png", optimize=True)


if __name__ == "__main__":
    main()
