"""Soft toys thrown among CLEVR shapes: closed deformable bodies colliding with rigid ones.

Two to four CLEVR shapes (MOVi-A's kinds, colours and materials, half-extent 0.3-0.6 m) and one
to three soft toys (a ball or pybullet_data's torus, 0.8-1.2 m across, a random CLEVR colour)
start without overlap above a grey floor and are thrown towards the centre, as in
MOVi. A toy is a closed mass-spring surface (PyBullet's soft body on the rendered mesh's own
vertices): it squashes when it lands and when it hits a shape. CLEVR's lights; the camera moves on
a straight line. Toys are instances of category "ball" or "torus"; their vertices per
frame are in deformations.npz, and their object coordinates name points of the rest shape.

Config:
  resolution       [width, height] in pixels (256x256)
  num_frames       frames (24)
  frame_rate       frames per second (12)
  step_rate        physics steps per second (240)
  min_num_objects  fewest rigid shapes (2)
  max_num_objects  most rigid shapes (4)
  min_num_toys     fewest soft toys (1)
  max_num_toys     most soft toys (3)
  stiffness        the toys' spring stiffness, N/m (60; much stiffer springs make PyBullet's solver unstable)
"""

import dataclasses

import numpy as np

import kubric_gen as kg
from kubric_gen.assets.pybullet_data import data_path
from kubric_gen.labels import Label, LabelSchema
from kubric_gen.worlds import _clevr as clevr
from kubric_gen.worlds import _common as common

CONFIG = {
    "resolution": [256, 256],
    "num_frames": 24,
    "frame_rate": 12,
    "step_rate": 240,
    "min_num_objects": 2,
    "max_num_objects": 4,
    "min_num_toys": 1,
    "max_num_toys": 3,
    "stiffness": 60.0,
}

# name: (rest shape: a generated shape or a pybullet_data mesh, its half-height at scale 1, turn to Z-up). A hollow
# mass-spring surface keeps its shape only where it is round and thick: pybullet_data's bunny goes flat
TOYS = {
    "ball": ("sphere", 1.0, (1.0, 0.0, 0.0, 0.0)),
    "torus": ("torus/torus_textured.obj", 0.25, (np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0)),
}
CATEGORIES = (*TOYS, *clevr.SHAPES)
LABELS = LabelSchema("soft_toys", (Label("category", "class", names=CATEGORIES, doc="soft toy or CLEVR shape"),))
FLOOR_GREY = (128 / 255,) * 3
REGION = ((-2.5, -2.5, 0.8), (2.5, 2.5, 2.5))  # where objects start (their centres)


def toy(rng, name, kind, stiffness):
    """A soft toy of `kind` (TOYS), 0.8-1.2 m tall, of a random CLEVR colour."""
    shape, half_height, turn = TOYS[kind]
    scale = float(rng.uniform(0.4, 0.6)) / max(half_height, 0.5)
    where = {"shape": "sphere", "subdivisions": 2} if shape == "sphere" else {"path": str(data_path() / shape)}
    return kg.DeformableObject(name=name, body="soft", scale=(scale,) * 3, quaternion=tuple(float(q) for q in turn),
                               mass=1.0, stiffness=stiffness, bending_stiffness=stiffness / 2, damping=0.05,
                               friction=0.6, asset_id=kind, labels={"category": kind},
                               material=kg.Principled(color=clevr.rgb(kg.choice(rng, list(clevr.COLORS))),
                                                      roughness=0.7, specular=0.3), **where)


def build(rng, config):
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    toys_lo, toys_hi = common.check_count(config, "min_num_toys", "max_num_toys")
    if not config["stiffness"] > 0:
        raise kg.ConfigError(f"config 'stiffness': must be > 0 (got {config['stiffness']})")
    scene = common.base_scene(config, common.AMBIENT, {"background": "clevr"})
    scene += common.flat_floor(FLOOR_GREY, 0.5, 0.3, half_size=100.0)
    clevr.add_lights(scene, rng)
    objects = [clevr.random_shape(rng, f"object_{i}", float(rng.uniform(0.3, 0.6)))
               for i in range(int(rng.integers(lo, hi + 1)))]
    objects += [toy(rng, f"toy_{i}", kg.choice(rng, list(TOYS)), float(config["stiffness"]))
                for i in range(int(rng.integers(toys_lo, toys_hi + 1)))]
    for obj in objects:
        if isinstance(obj, kg.DeformableObject):  # a toy keeps its upright turn, spun about the vertical
            obj = dataclasses.replace(obj, quaternion=tuple(kg.geometry.quat_multiply(kg.random_z_rotation(rng),
                                                                                      obj.quaternion)))
        placed = kg.place_without_overlap(scene, obj, region=REGION, rng=rng,
                                          random_rotation=not isinstance(obj, kg.DeformableObject), margin=0.05)
        scene.update(placed.name, velocity=common.toss(rng, placed.position))
    start = common.shell_camera(rng, 8.0, 9.5, min_height=5.5).position  # high enough to see no horizon
    scene.camera = common.linear_camera(rng, scene, 8.0, 9.5, 1.5, look_at=(0.0, 0.0, 0.3), start=start)
    return scene
