"""Hello world: a few coloured shapes fall onto a floor under a sun.

Config:
  resolution   [width, height] in pixels
  num_frames   frames to render
  frame_rate   frames per second
  num_objects  how many shapes fall
"""

import kubric_gen as kg

CONFIG = {"resolution": [128, 128], "num_frames": 12, "frame_rate": 12, "num_objects": 4}


def build(rng, config):
    scene = kg.Scene(resolution=tuple(config["resolution"]), num_frames=config["num_frames"],
                     frame_rate=config["frame_rate"], step_rate=config["frame_rate"] * 20,
                     background=kg.ColorBackground(color=(0.3, 0.4, 0.6), strength=0.5))
    scene += kg.Cube(name="floor", scale=(10, 10, 0.1), position=(0, 0, -0.1), motion="static",
                     is_background=True, material=kg.Principled(color=(0.5, 0.5, 0.5), roughness=0.8))
    shapes = [kg.Cube, kg.Sphere, kg.Cylinder]
    for i in range(config["num_objects"]):
        shape = kg.choice(rng, shapes)
        obj = shape(name=f"{shape.kind}_{i}", scale=float(rng.uniform(0.3, 0.6)),
                    material=kg.Principled(color=kg.random_hue_color(rng, 0.8, 0.9), roughness=0.4),
                    velocity=tuple(rng.uniform((-1, -1, 0), (1, 1, 0))))
        kg.place_without_overlap(scene, obj, region=((-2, -2, 1), (2, 2, 3)), rng=rng, random_rotation=True)
    scene.camera = kg.PerspectiveCamera(focal_length=35, position=(7, -7, 5), look_at=(0, 0, 0.5))
    scene += kg.SunLight(direction=(-1, 1, -2), strength=3)
    return scene
