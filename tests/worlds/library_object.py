"""A tiny test world: one object of an asset library (config "library") above a floor.

Config: resolution, num_frames, frame_rate, library (a manifest path or URL, or a built-in name).
"""

import kubric_gen as kg
from kubric_gen.assets import AssetLibrary

CONFIG = {"resolution": [32, 32], "num_frames": 2, "frame_rate": 12, "library": "kubasic"}


def build(rng, config):
    library = AssetLibrary.load(config["library"])
    scene = kg.Scene(resolution=tuple(config["resolution"]), num_frames=config["num_frames"],
                     frame_rate=config["frame_rate"], step_rate=config["frame_rate"] * 20)
    scene.add(kg.Cube(name="floor", scale=(5, 5, 0.1), position=(0, 0, -0.1), motion="static", is_background=True,
                      material=kg.Principled(color=(0.5, 0.5, 0.5))))
    scene.add(library.make(library.sample(rng), name="object", position=(0, 0, 1.0)))
    scene.camera = kg.PerspectiveCamera(position=(0, -6, 3), look_at=(0, 0, 0.5))
    scene.add(kg.SunLight(direction=(0, 0.5, -1), strength=2.0))
    return scene
