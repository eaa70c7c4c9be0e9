"""MOVi-B: 3-10 KuBasic shapes with random hue colours thrown onto a coloured floor.

As MOVi-A, but the objects are any of Kubric's basic shapes (cube, cylinder, sphere,
cone, torus, gear, torus_knot, sponge, teapot, suzanne; `spot` is not available
offline), scaled uniformly in [0.7, 1.4], coloured with a random hue, rubber or metal;
the dome floor has a random hue too (recorded as the scene's background colour), and the
camera is placed uniformly in a half-sphere shell of radius 7-9 m looking at the origin.
Instance labels: shape, scale, color, material.

Config:
  resolution, num_frames, frame_rate, step_rate   as MOVi-A (256x256, 24, 12, 240)
  min_num_objects, max_num_objects                 object count range (3, 10)
  scale_range                                      [low, high] uniform scale (0.7, 1.4)
  camera_radius                                    [inner, outer] of the camera shell (7, 9)
  library                                          asset library of the shapes ("kubasic")
  floor_friction, floor_restitution                (0.3, 0.5)
"""

import kubric_gen as kg
from kubric_gen.labels import Label, LabelSchema
from kubric_gen.worlds import _clevr as clevr
from kubric_gen.worlds import _common as common

CONFIG = {
    "resolution": [256, 256], "num_frames": 24, "frame_rate": 12, "step_rate": 240,
    "min_num_objects": 3, "max_num_objects": 10, "scale_range": [0.7, 1.4], "camera_radius": [7.0, 9.0],
    "library": "kubasic", "floor_friction": 0.3, "floor_restitution": 0.5,
}


def labels(config):
    """MOVi-B's features; the shape names (and label ids) are the library's categories
    (KuBasic's: MOVi-B's 11 shapes in MOVi's order)."""
    return LabelSchema("movi_b", (
        Label("shape_label", "class", keys=("shape",), names=common.library(config["library"]).categories,
              doc="shape"),
        Label("scale", "float", doc="uniform scale of the object"),
        Label("color", "float3", doc="RGB colour in [0, 1] (linear, as given to the renderer)"),
        Label("material_label", "class", keys=("material",), names=tuple(clevr.MATERIALS), doc="material"),
    ), scene=(Label("metadata/background_color", "float3", keys=("background_color", "background"),
                    doc="floor colour"),))


def build(rng, config):
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    scale_lo, scale_hi = common.check_range(config, "scale_range")
    inner, outer = common.check_range(config, "camera_radius")
    shapes = common.library(config["library"])
    scene = common.base_scene(config, common.AMBIENT, {})
    floor_color = kg.random_hue_color(rng)
    scene.metadata["background"] = "#" + "".join(f"{round(c * 255):02x}" for c in floor_color)  # as MOVi-B
    scene.metadata["background_color"] = list(floor_color)
    scene += common.floor_dome(floor_color, config["floor_friction"], config["floor_restitution"])
    clevr.add_lights(scene, rng)
    scene.camera = common.shell_camera(rng, inner, outer)
    for i in range(int(rng.integers(lo, hi + 1))):
        shape, scale = shapes.sample(rng), float(rng.uniform(scale_lo, scale_hi))
        color, material = kg.random_hue_color(rng), kg.choice(rng, list(clevr.MATERIALS))
        obj = shapes.make(shape, name=f"object_{i}", scale=scale, **clevr.made_of(material, color),
                          labels={"shape": shape, "scale": scale, "color": list(color), "material": material})
        obj = kg.place_without_overlap(scene, obj, region=common.SPAWN_REGION, rng=rng, random_rotation=True)
        scene.update(obj.name, velocity=common.toss(rng, obj.position))
    return scene
