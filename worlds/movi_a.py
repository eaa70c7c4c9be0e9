"""MOVi-A: 3-10 CLEVR shapes thrown onto a grey floor (Greff et al., Kubric, CVPR 2022).

Each object is a cube, cylinder or sphere; small (scale 0.7) or large (1.4); one of
the 8 CLEVR colours; rubber or metal with their friction, restitution and
density. Objects start without overlap in the spawn region with a horizontal
velocity towards the centre and fall onto a grey dome floor. The camera sits at
CLEVR's position moved by up to `camera_jitter` metres along +x, +y and +z, looking
at the origin; CLEVR's sun, key, fill and back lights are jittered the same way, and a
dim ambient light (never seen by the camera) fills the shadows, as in MOVi-A.
Instances carry MOVi-A's labels: shape, size, size_label, color, color_label,
material.

Config:
  resolution         [width, height] in pixels (MOVi-A: 256x256)
  num_frames         frames (24)
  frame_rate         frames per second (12)
  step_rate          physics steps per second (240)
  min_num_objects    fewest objects (3)
  max_num_objects    most objects (10)
  camera_jitter      the camera moves by a uniform [0, camera_jitter) m along +x, +y, +z (1.0)
  floor_friction     (0.3)
  floor_restitution  (0.5)
"""

import kubric_gen as kg
from kubric_gen.labels import Label, LabelSchema
from kubric_gen.worlds import _clevr as clevr
from kubric_gen.worlds import _common as common
from kubric_gen.worlds._clevr import COLORS, MATERIALS, SHAPES, SIZES

CONFIG = {
    "resolution": [256, 256],
    "num_frames": 24,
    "frame_rate": 12,
    "step_rate": 240,
    "min_num_objects": 3,
    "max_num_objects": 10,
    "camera_jitter": 1.0,
    "floor_friction": 0.3,
    "floor_restitution": 0.5,
}

FLOOR_GREY = (128 / 255,) * 3  # MOVi-A's floor: CSS "gray", as a linear colour

LABELS = LabelSchema("movi_a", (  # MOVi-A's features, names and label ids
    Label("shape_label", "class", keys=("shape",), names=tuple(SHAPES), doc="shape"),
    Label("size_label", "class", names=tuple(SIZES), doc="size class"),
    Label("color", "float3", doc="RGB colour in [0, 1] (linear, as given to the renderer)"),
    Label("color_label", "class", names=tuple(COLORS), doc="CLEVR colour name"),
    Label("material_label", "class", keys=("material",), names=tuple(MATERIALS), doc="material"),
))


def build(rng, config):
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    jitter = config["camera_jitter"]
    if not jitter >= 0:
        raise kg.ConfigError(f"config 'camera_jitter': must be >= 0 (got {jitter})")
    scene = common.base_scene(config, common.AMBIENT, {"background": "clevr"})
    scene += common.floor_dome(FLOOR_GREY, config["floor_friction"], config["floor_restitution"])
    clevr.add_lights(scene, rng)
    position = tuple(float(c) for c in rng.uniform(0.0, 1.0, 3) * jitter + clevr.CAMERA)
    scene.camera = kg.PerspectiveCamera(focal_length=35.0, sensor_width=32.0, position=position,
                                        look_at=(0.0, 0.0, 0.0))
    for i in range(int(rng.integers(lo, hi + 1))):
        shape, size = kg.choice(rng, list(SHAPES)), kg.choice(rng, list(SIZES))
        color, material = kg.choice(rng, list(COLORS)), kg.choice(rng, list(MATERIALS))
        rgb = clevr.rgb(color)
        obj = SHAPES[shape](name=f"object_{i}", scale=SIZES[size], asset_id=shape, **clevr.made_of(material, rgb),
                            labels={"shape": shape, "size": SIZES[size], "size_label": size, "color": list(rgb),
                                    "color_label": color, "material": material})
        obj = kg.place_without_overlap(scene, obj, region=common.SPAWN_REGION, rng=rng, random_rotation=True)
        scene.update(obj.name, velocity=common.toss(rng, obj.position))
    return scene
