"""MOVi-E: MOVi-D with a camera moving on a straight line while looking at the centre.

The camera starts in the half-sphere shell of radius 8-12 m (as MOVi-E) and moves along
a random straight line by up to `camera_motion` metres over the video (staying in the
shell and above the floor), looking at the origin in every frame.

Config: as movi_d, plus
  camera_motion   largest distance the camera travels, metres (4.0)
"""

from kubric_gen.worlds import _common as common
from kubric_gen.worlds import movi_d

CONFIG = {**movi_d.CONFIG, "camera_radius": [8.0, 12.0], "camera_motion": 4.0}


def labels(config):
    return movi_d.labels(config, "movi_e")


def build(rng, config):
    inner, outer = common.check_range(config, "camera_radius")
    distance = float(config["camera_motion"])
    return movi_d.build(rng, config, camera=lambda r, scene: common.linear_camera(r, scene, inner, outer, distance))
