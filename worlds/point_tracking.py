"""Point tracking: MOVi-E scenes with dense point tracks (TAP-Vid conventions).

The scene is MOVi-E's (a settled crowd, tossed objects, a camera moving on a straight
line); the scene asks for `num_tracks` point tracks (tracks.npz), spread over frames
and objects with the background included. Point-track training code that reprojects
MOVi layers needs T, H and W to be multiples of 4 (the defaults are).

Config: as movi_e, plus
  num_tracks   point tracks per scene (2048)
"""

import kubric_gen as kg
from kubric_gen.worlds import movi_d, movi_e

CONFIG = {**movi_e.CONFIG, "num_tracks": 2048}


def labels(config):
    return movi_d.labels(config, "point_tracking")


def build(rng, config):
    if config["num_tracks"] < 1:
        raise kg.ConfigError(f"config 'num_tracks': must be >= 1 (got {config['num_tracks']})")
    scene = movi_e.build(rng, config)
    scene.num_tracks = int(config["num_tracks"])
    scene.metadata["tracks"] = "point_tracking"
    return scene.validate()
