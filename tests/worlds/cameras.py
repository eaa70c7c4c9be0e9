"""A tiny test world for several cameras: one_cube's scene (a cube thrown over a floor)
seen by the rig `cameras`: plain (the one `camera`), listed (that camera as the only entry
of `cameras`), stereo (a parallel pair, baseline 0.4 m) or ring3 (3 cameras on a ring).

Config: resolution, num_frames, cameras.
"""

import kubric_gen as kg

CONFIG = {"resolution": [32, 32], "num_frames": 3, "cameras": "plain"}


def build(rng, config):
    scene = kg.Scene(resolution=tuple(config["resolution"]), num_frames=config["num_frames"], frame_rate=12,
                     step_rate=240)
    scene.add(kg.Cube(name="floor", scale=(5, 5, 0.1), position=(0, 0, -0.1), motion="static", is_background=True,
                      material=kg.Principled(color=(0.5, 0.5, 0.5))))
    scene.add(kg.Cube(name="cube", scale=0.4, position=(float(rng.uniform(-0.5, 0.5)), 0, 1.0),
                      velocity=(1.0, 0.5, 0.0), material=kg.Flat(color=(1.0, 0.2, 0.1), strength=2.0)))
    scene.add(kg.SunLight(direction=(0, 0.5, -1), strength=2.0))
    camera = kg.PerspectiveCamera(position=(0, -6, 3), look_at=(0, 0, 0.5))
    rig = config["cameras"]
    if rig == "plain":
        scene.camera = camera
    elif rig == "listed":
        scene.cameras = [camera]
    elif rig == "stereo":
        scene.cameras = kg.stereo_rig((0, -6, 3), (0, 0, 0.5), baseline=0.4)
    elif rig == "ring3":
        scene.cameras = kg.ring(3, around=(0, 0, 0.5), radius=6.0, height=2.5, rng=rng)
    else:
        raise kg.ConfigError(f"config 'cameras': expected plain, listed, stereo or ring3 (got {rig!r})")
    return scene
