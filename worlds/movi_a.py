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
from kubric_gen.worlds import _common as common

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

SHAPES = {"cube": kg.Cube, "cylinder": kg.Cylinder, "sphere": kg.Sphere}
SIZES = {"small": 0.7, "large": 1.4}
COLORS = {  # CLEVR's palette, as Kubric's MOVi-A uses it
    "blue": (42, 75, 215), "brown": (129, 74, 25), "cyan": (41, 208, 208), "gray": (87, 87, 87),
    "green": (29, 105, 20), "purple": (129, 38, 192), "red": (173, 35, 35), "yellow": (255, 238, 51),
}
CLEVR_CAMERA = (7.48113, -6.50764, 5.34367)
FLOOR_GREY = (128 / 255,) * 3  # MOVi-A's floor: CSS "gray", as a linear colour

LABELS = LabelSchema("movi_a", (  # MOVi-A's features, names and label ids
    Label("shape_label", "class", keys=("shape",), names=tuple(SHAPES), doc="shape"),
    Label("size_label", "class", names=tuple(SIZES), doc="size class"),
    Label("color", "float3", doc="RGB colour in [0, 1] (linear, as given to the renderer)"),
    Label("color_label", "class", names=tuple(COLORS), doc="CLEVR colour name"),
    Label("material_label", "class", keys=("material",), names=tuple(common.MATERIALS), doc="material"),
))


def build(rng, config):
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    jitter = config["camera_jitter"]
    if not jitter >= 0:
        raise kg.ConfigError(f"config 'camera_jitter': must be >= 0 (got {jitter})")
    scene = common.base_scene(config, common.AMBIENT, {"background": "clevr"})
    scene.add(common.floor_dome(FLOOR_GREY, config["floor_friction"], config["floor_restitution"]))
    common.add_clevr_lights(scene, rng)
    position = tuple(float(c) for c in rng.uniform(0.0, 1.0, 3) * jitter + CLEVR_CAMERA)
    scene.camera = kg.PerspectiveCamera(focal_length=35.0, sensor_width=32.0, position=position,
                                        look_at=(0.0, 0.0, 0.0))
    for i in range(int(rng.integers(lo, hi + 1))):
        shape = kg.choice(rng, list(SHAPES))
        size_label = kg.choice(rng, list(SIZES))
        color_label = kg.choice(rng, list(COLORS))
        material = kg.choice(rng, list(common.MATERIALS))
        color = tuple(c / 255 for c in COLORS[color_label])
        spec = common.MATERIALS[material]
        obj = SHAPES[shape](
            name=f"object_{i}", scale=SIZES[size_label], asset_id=shape,
            material=kg.Principled(color=color, **spec["look"]),
            density=spec["density"], friction=spec["friction"], restitution=spec["restitution"],
            labels={"shape": shape, "size": SIZES[size_label], "size_label": size_label,
                    "color": list(color), "color_label": color_label, "material": material})
        obj = kg.place_without_overlap(scene, obj, region=common.SPAWN_REGION, rng=rng, random_rotation=True)
        scene.replace_object(common.toss(rng, obj, obj.position))
    return scene
