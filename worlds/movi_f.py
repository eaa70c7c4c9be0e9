"""MOVi-F: MOVi-E rendered with real Cycles motion blur.

Config: as movi_e, plus
  motion_blur   camera shutter in frames, 0..1 (0.5); 0 turns the blur off
"""

import kubric_gen as kg
from kubric_gen.worlds import movi_e

CONFIG = {**movi_e.CONFIG, "motion_blur": 0.5}


def build(rng, config):
    if not 0.0 <= config["motion_blur"] <= 1.0:
        raise kg.ConfigError(f"config 'motion_blur': must be in [0, 1] (got {config['motion_blur']})")
    scene = movi_e.build(rng, config)
    scene.motion_blur = float(config["motion_blur"])
    return scene.validate()
