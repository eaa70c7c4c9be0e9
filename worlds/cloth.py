"""A cloth dropped over CLEVR shapes: a deformable sheet draping itself over rigid objects.

Two to four CLEVR shapes (MOVi-A's kinds, colours and materials, half-extent 0.3-0.6 m) stand
still on a grey floor near the origin; a square cloth (side `cloth_size`, `cloth_subdivisions`
quads per side, a random CLEVR colour) starts flat `drop_height` metres up, turned by a random
angle about the vertical, and falls over them (PyBullet's mass-spring cloth: the rendered mesh's
own vertices). CLEVR's lights; the camera moves on a straight line, looking at the shapes.
The cloth is one instance (category "cloth"); its vertices per frame are in deformations.npz,
and its object coordinates name points of the flat sheet, so its flow and point tracks follow
the cloth's material.

Config:
  resolution          [width, height] in pixels (256x256)
  num_frames          frames (24)
  frame_rate          frames per second (12)
  step_rate           physics steps per second (240)
  min_num_objects     fewest shapes under the cloth (2)
  max_num_objects     most shapes (4)
  cloth_size          side of the cloth, m (3.0)
  cloth_subdivisions  quads per side of the cloth's mesh (16)
  drop_height         height of the cloth at the start, m (2.0)
  stiffness           the cloth's spring stiffness, N/m (60)
"""

import dataclasses

import kubric_gen as kg
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
    "cloth_size": 3.0,
    "cloth_subdivisions": 16,
    "drop_height": 2.0,
    "stiffness": 60.0,
}

CATEGORIES = ("cloth", *clevr.SHAPES)
LABELS = LabelSchema("cloth", (Label("category", "class", names=CATEGORIES, doc="cloth or CLEVR shape"),))
FLOOR_GREY = (128 / 255,) * 3
SHAPE_REGION = 1.0  # m: the shapes' centres lie within this square half-width of the origin


def build(rng, config):
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    for key in ("cloth_size", "drop_height", "stiffness"):
        if not config[key] > 0:
            raise kg.ConfigError(f"config '{key}': must be > 0 (got {config[key]})")
    scene = common.base_scene(config, common.AMBIENT, {"background": "clevr"})
    scene += common.flat_floor(FLOOR_GREY, 0.5, 0.3, half_size=100.0)
    clevr.add_lights(scene, rng)
    for i in range(int(rng.integers(lo, hi + 1))):
        size = float(rng.uniform(0.3, 0.6))
        obj = dataclasses.replace(clevr.random_shape(rng, f"object_{i}", size), motion="static",
                                  quaternion=kg.random_z_rotation(rng))
        z = size + 1e-3  # resting on the floor, clear of it
        region = ((-SHAPE_REGION, -SHAPE_REGION, z), (SHAPE_REGION, SHAPE_REGION, z))
        kg.place_without_overlap(scene, obj, region=region, rng=rng)
    color = clevr.rgb(kg.choice(rng, list(clevr.COLORS)))
    half = config["cloth_size"] / 2
    shift = rng.uniform(-0.3, 0.3, 2)
    scene += kg.DeformableObject(
        name="cloth", body="cloth", shape="sheet", subdivisions=int(config["cloth_subdivisions"]),
        scale=(half, half, half), position=(float(shift[0]), float(shift[1]), float(config["drop_height"])),
        quaternion=kg.random_z_rotation(rng), mass=0.5, stiffness=float(config["stiffness"]), bending_stiffness=1.0,
        damping=0.1, friction=0.6, asset_id="cloth", labels={"category": "cloth"},
        material=kg.Principled(color=color, roughness=0.8, specular=0.2))
    start = common.shell_camera(rng, 6.0, 7.5, min_height=3.5).position  # high enough to see no horizon
    scene.camera = common.linear_camera(rng, scene, 6.0, 7.5, 1.5, look_at=(0.0, 0.0, 0.4), start=start)
    return scene
