"""A robot arm sweeping through CLEVR shapes: an articulated URDF body among rigid objects.

A Franka Panda (or a KUKA iiwa) stands at the origin of a grey dome floor under CLEVR's
lights. Its arm joints follow a random smooth trajectory around a ready pose (each joint
the sum of two sinusoids of random period and phase, within its limits); the trajectory is
scripted (exact joint positions each physics step), and the shapes placed around the robot
collide with its links and are pushed when the arm sweeps through them. The robot is one
instance (category "robot"); its links are its parts (`parts.npz`, metadata.json's `links`,
`joint_positions`).

Config:
  resolution         [width, height] in pixels (256x256)
  num_frames         frames (24)
  frame_rate         frames per second (12)
  step_rate          physics steps per second (240)
  robot              "panda" (Franka Panda) or "kuka_iiwa"
  min_num_objects    fewest shapes (3)
  max_num_objects    most shapes (6)
  amplitude          largest swing of a joint around the ready pose, radians (0.6)
  camera_jitter      the camera moves by a uniform [0, camera_jitter) m along x, y, z (0.5)
"""

import numpy as np

import kubric_gen as kg
from kubric_gen.assets.pybullet_data import data_path
from kubric_gen.labels import Label, LabelSchema
from kubric_gen.scene.urdf import read_urdf
from kubric_gen.worlds import _clevr as clevr
from kubric_gen.worlds import _common as common

CONFIG = {
    "resolution": [256, 256],
    "num_frames": 24,
    "frame_rate": 12,
    "step_rate": 240,
    "robot": "panda",
    "min_num_objects": 3,
    "max_num_objects": 6,
    "amplitude": 0.6,
    "camera_jitter": 0.5,
}

# URDF (in pybullet_data) and the arm joints' ready pose; the other joints (fingers) keep theirs
ROBOTS = {
    "panda": ("franka_panda/panda.urdf", {"panda_joint1": 0.0, "panda_joint2": -0.3, "panda_joint3": 0.0,
                                          "panda_joint4": -2.2, "panda_joint5": 0.0, "panda_joint6": 2.0,
                                          "panda_joint7": 0.8}),
    "kuka_iiwa": ("kuka_iiwa/model.urdf", {"lbr_iiwa_joint_1": 0.0, "lbr_iiwa_joint_2": 0.6,
                                           "lbr_iiwa_joint_3": 0.0, "lbr_iiwa_joint_4": -1.4,
                                           "lbr_iiwa_joint_5": 0.0, "lbr_iiwa_joint_6": 0.8,
                                           "lbr_iiwa_joint_7": 0.0}),
}
CATEGORIES = ("robot", *clevr.SHAPES)
LABELS = LabelSchema("robot_arm", (Label("category", "class", names=CATEGORIES, doc="robot or CLEVR shape"),))
OBJECT_REGION = ((-0.8, -0.8, 0.1), (0.8, 0.8, 0.1))  # around the robot, resting on the floor
CLEARANCE = 0.35  # m: no shape starts closer to the robot's base axis
SHAPE_SCALE = 0.07  # half-extent of the shapes, m
BASE_LIFT = 0.003  # m: the robot's base mesh reaches 2 mm below its frame; it stands on the floor


def smooth_trajectory(rng, ready, robot, num_frames, frame_rate, amplitude):
    """Per arm joint, one position per frame: ready + a sum of two sinusoids, kept in limits."""
    t = np.arange(num_frames) / frame_rate
    out = {}
    for name, centre in ready.items():
        joint = robot.movable[name]
        periods = rng.uniform(1.5, 4.0, 2)
        phases = rng.uniform(0.0, 2 * np.pi, 2)
        weights = rng.uniform(0.3, 0.7, 2) * amplitude
        values = centre + sum(w * (np.sin(2 * np.pi * t / p + f) - np.sin(f))
                              for w, p, f in zip(weights, periods, phases, strict=True))
        out[name] = tuple(float(v) for v in np.clip(values, joint.lower + 0.05, joint.upper - 0.05))
    return out


def build(rng, config):
    if config["robot"] not in ROBOTS:
        raise kg.ConfigError(f"config 'robot': expected one of {', '.join(ROBOTS)} (got {config['robot']!r})")
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    if not config["amplitude"] >= 0:
        raise kg.ConfigError(f"config 'amplitude': must be >= 0 (got {config['amplitude']})")
    if not config["camera_jitter"] >= 0:
        raise kg.ConfigError(f"config 'camera_jitter': must be >= 0 (got {config['camera_jitter']})")
    scene = common.base_scene(config, common.AMBIENT, {"background": "clevr"})
    scene += common.floor_dome((0.5, 0.5, 0.5), 0.5, 0.3)
    clevr.add_lights(scene, rng)
    urdf, ready = ROBOTS[config["robot"]]
    path = str(data_path() / urdf)
    keyframes = smooth_trajectory(rng, ready, read_urdf(path), scene.num_frames, scene.frame_rate, config["amplitude"])
    scene += kg.ArticulatedObject(name="robot", path=path, position=(0.0, 0.0, BASE_LIFT),
                                  joint_positions={k: v[0] for k, v in keyframes.items()},
                                  joint_keyframes=keyframes, asset_id=config["robot"], labels={"category": "robot"})
    for i in range(int(rng.integers(lo, hi + 1))):
        obj = clevr.random_shape(rng, f"object_{i}", SHAPE_SCALE)
        while True:  # outside the robot's base, which the arm's sweep passes over
            placed = kg.place_without_overlap(scene, obj, region=OBJECT_REGION, rng=rng, random_rotation=False)
            if np.hypot(*placed.position[:2]) >= CLEARANCE:
                break
            scene.objects.remove(placed)
    jitter = rng.uniform(0.0, 1.0, 3) * config["camera_jitter"]
    scene.camera = kg.PerspectiveCamera(focal_length=35.0, sensor_width=32.0,
                                        position=tuple(float(c) for c in np.array([1.9, -1.9, 1.5]) + jitter),
                                        look_at=(0.2, 0.0, 0.35))
    return scene
