"""MOVi-F: MOVi-E rendered with real Cycles motion blur.

Config: as movi_e, plus
  motion_blur   camera shutter in frames, 0..1 (0.5); 0 turns the blur off
"""

import dataclasses

import kubric_gen as kg
from kubric_gen.labels import Label
from kubric_gen.worlds import movi_d, movi_e

CONFIG = {**movi_e.CONFIG, "motion_blur": 0.5}


def labels(config):
    schema = movi_d.labels(config, "movi_f")
    blur = Label("metadata/motion_blur", "float", doc="camera shutter in frames (0: sharp)")
    return dataclasses.replace(schema, scene=(*schema.scene, blur))


def build(rng, config):
    if not 0.0 <= config["motion_blur"] <= 1.0:
        raise kg.ConfigError(f"config 'motion_blur': must be in [0, 1] (got {config['motion_blur']})")
    scene = movi_e.build(rng, config)
    scene.motion_blur = float(config["motion_blur"])
    scene.metadata["motion_blur"] = scene.motion_blur
    return scene.validate()
