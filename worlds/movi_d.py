"""MOVi-D: a crowd of 10-20 resting objects, then 1-3 objects tossed into it.

As MOVi-C, but first 10-20 library objects are dropped and settled on the floor (they
start the video at rest; `is_dynamic` false), then 1-3 more objects are thrown in
(`is_dynamic` true). Instance labels: category, scale, is_dynamic.

Config: as movi_c, plus
  min_num_static, max_num_static     resting objects (10, 20)
  min_num_dynamic, max_num_dynamic   tossed objects (1, 3)
  settle_seconds                     simulated time to let the crowd come to rest (2.0)
"""

import kubric_gen as kg
from kubric_gen.labels import Label, LabelSchema
from kubric_gen.worlds import _common as common
from kubric_gen.worlds.movi_c import BACKGROUND, add_object, object_labels

CONFIG = {
    "resolution": [256, 256], "num_frames": 24, "frame_rate": 12, "step_rate": 240,
    "min_num_static": 10, "max_num_static": 20, "min_num_dynamic": 1, "max_num_dynamic": 3,
    "scale_range": [0.75, 3.0], "camera_radius": [7.0, 9.0], "settle_seconds": 2.0,
    "library": "pybullet_data", "hdri_dir": "", "floor_friction": 0.3, "floor_restitution": 0.5,
}
STATIC_REGION = ((-7.0, -7.0, 0.5), (7.0, 7.0, 7.0))
DYNAMIC_REGION = ((-5.0, -5.0, 1.0), (5.0, 5.0, 5.0))  # MOVi-D's

IS_DYNAMIC = Label("is_dynamic", "bool", doc="tossed (true) or resting on the floor at the start (false)")


def labels(config, name="movi_d"):
    return LabelSchema(name, (*object_labels(config), IS_DYNAMIC), scene=(BACKGROUND,))


def build(rng, config, camera=None):
    n_static = common.check_count(config, "min_num_static", "max_num_static")
    n_dynamic = common.check_count(config, "min_num_dynamic", "max_num_dynamic")
    scale_range = common.check_range(config, "scale_range")
    inner, outer = common.check_range(config, "camera_radius")
    if not config["settle_seconds"] > 0:
        raise kg.ConfigError(f"config 'settle_seconds': must be > 0 (got {config['settle_seconds']})")
    objects = common.library(config["library"])
    scene = common.base_scene(config, kg.ColorBackground(), {})
    common.background(rng, scene, config)
    for i in range(int(rng.integers(n_static[0], n_static[1] + 1))):
        add_object(rng, scene, objects, f"static_{i}", scale_range, STATIC_REGION, labels={"is_dynamic": False})
    scene = kg.settle(scene, seconds=float(config["settle_seconds"]))
    for i in range(int(rng.integers(n_dynamic[0], n_dynamic[1] + 1))):
        obj = add_object(rng, scene, objects, f"dynamic_{i}", scale_range, DYNAMIC_REGION,
                         labels={"is_dynamic": True})
        scene.update(obj.name, velocity=common.toss(rng, obj.position))
    scene.camera = camera(rng, scene) if camera else common.shell_camera(rng, inner, outer)
    return scene
