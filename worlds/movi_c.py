"""MOVi-C: 3-10 everyday objects from a mesh library thrown into an HDRI or sky scene.

Objects come from an asset library (pybullet_data's meshes by default: duck, bunny,
teddy, mug, ... and 1000 procedural objects; any library converted with
`kubric-gen assets convert`, given by path or URL), scaled so that their largest
extent is uniform in [0.75, 3] m (as MOVi-C; the scale divides that by the largest side
of the mesh's bounds), with their own textures when they have one, else a random hue. The
background is a random HDRI from `hdri_dir` as environment light and as a dome whose
floor is geometry, or, without `hdri_dir`, Blender's procedural sky over a grey dome.
The camera sits in a half-sphere shell of radius 7-9 m looking at the origin.
Instance labels: category, scale (the largest extent, m).

Config:
  resolution, num_frames, frame_rate, step_rate   (256x256, 24, 12, 240)
  min_num_objects, max_num_objects                 (3, 10)
  scale_range                                      (0.75, 3.0)
  camera_radius                                    (7, 9)
  library                                          "pybullet_data", a manifest path/URL or a library folder
  hdri_dir                                         folder of .hdr/.exr files, or a library of HDRIs (a
                                                   manifest, e.g. a mirror of Kubric's HDRI_haven.json);
                                                   "" = procedural sky
  floor_friction, floor_restitution                (0.3, 0.5)
"""

import kubric_gen as kg
from kubric_gen.labels import Label, LabelSchema
from kubric_gen.worlds import _common as common

CONFIG = {
    "resolution": [256, 256], "num_frames": 24, "frame_rate": 12, "step_rate": 240,
    "min_num_objects": 3, "max_num_objects": 10, "scale_range": [0.75, 3.0], "camera_radius": [7.0, 9.0],
    "library": "pybullet_data", "hdri_dir": "", "floor_friction": 0.3, "floor_restitution": 0.5,
}
SPAWN_REGION = ((-5.0, -5.0, 1.0), (5.0, 5.0, 5.0))  # MOVi-C's


def object_labels(config):
    """MOVi-C..F's per-instance labels; category names (and label ids) are the library's."""
    return (
        Label("asset_id", "text", doc="asset id in the object library"),
        Label("scale", "float", doc="largest extent of the object (m)"),
        Label("category", "class", names=common.library(config["library"]).categories, doc="object category"),
    )


BACKGROUND = Label("background", "text", doc="the HDRI's asset id, or 'sky' without hdri_dir")


def labels(config):
    return LabelSchema("movi_c", object_labels(config), scene=(BACKGROUND,))


def add_object(rng, scene, objects, name, scale_range, region, **kwargs):
    """A random library object, placed without overlap; returns it (already in the scene)."""
    asset = objects.sample(rng)
    size = float(rng.uniform(*scale_range))  # largest extent in metres, MOVi's "scale"
    entry = objects.entry(asset)
    lo, hi = entry.bounds
    extent = max(h - low for low, h in zip(lo, hi, strict=True)) or 1.0
    if objects.texture(asset) is None:  # untextured meshes get a random colour, as MOVi-B's shapes
        kwargs["material"] = kg.Principled(color=kg.random_hue_color(rng, 0.8, 0.9), roughness=0.5)
    # description: GSO's, from a Kubric-format library (MOVi-E's builder looks assets up by it); in
    # metadata.json only, as MOVi's datasets have no such feature
    labels = {"category": entry.category or asset, "scale": size,
              "description": str(entry.metadata.get("description", "")), **kwargs.pop("labels", {})}
    obj = objects.make(asset, name=name, scale=size / extent, labels=labels, **kwargs)
    return kg.place_without_overlap(scene, obj, region=region, rng=rng, random_rotation=True)


def build(rng, config):
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    scale_range = common.check_range(config, "scale_range")
    inner, outer = common.check_range(config, "camera_radius")
    objects = common.library(config["library"])
    scene = common.base_scene(config, kg.ColorBackground(), {})
    common.background(rng, scene, config)
    scene.camera = common.shell_camera(rng, inner, outer)
    for i in range(int(rng.integers(lo, hi + 1))):
        obj = add_object(rng, scene, objects, f"object_{i}", scale_range, SPAWN_REGION)
        scene.update(obj.name, velocity=common.toss(rng, obj.position))
    return scene
