"""A legged robot trotting across a floor of CLEVR shapes: Unitree's A1 from pybullet_data.

The A1's twelve leg joints follow a scripted trot (diagonal legs in phase: the thigh swings, the
calf lifts the foot in the swing half of each cycle) while its base glides forward along a
kinematic path at the gait's speed with a small bob; the shapes in its way are dynamic and get
kicked by the legs. The camera sits beside the path looking at its middle. The robot is one
instance (category "robot"), its links its parts (`parts.npz`, metadata.json's `links`).

Config:
  resolution         [width, height] in pixels (256x256)
  num_frames         frames (24)
  frame_rate         frames per second (12)
  step_rate          physics steps per second (240)
  speed              forward speed of the base, m/s (0.4)
  gait_period        seconds per trot cycle (0.5)
  min_num_objects    fewest shapes (3)
  max_num_objects    most shapes (6)
"""

import numpy as np

import kubric_gen as kg
from kubric_gen.assets.pybullet_data import data_path
from kubric_gen.labels import Label, LabelSchema
from kubric_gen.worlds import _clevr as clevr
from kubric_gen.worlds import _common as common

CONFIG = {
    "resolution": [256, 256],
    "num_frames": 24,
    "frame_rate": 12,
    "step_rate": 240,
    "speed": 0.4,
    "gait_period": 0.5,
    "min_num_objects": 3,
    "max_num_objects": 6,
}

URDF = "a1/a1.urdf"
LEGS = {"FR": 0.0, "RL": 0.0, "FL": 0.5, "RR": 0.5}  # trot: diagonal pairs, half a cycle apart
THIGH, CALF = 0.9, -1.8  # standing pose (rad): the feet 0.27 m below the base
BASE_HEIGHT = 0.27
SWING, LIFT, BOB = 0.3, 0.5, 0.01  # thigh swing and calf lift (rad), base bob (m)
CATEGORIES = ("robot", *clevr.SHAPES)
LABELS = LabelSchema("legged_robot", (Label("category", "class", names=CATEGORIES, doc="robot or CLEVR shape"),))
SHAPE_SCALE = 0.05


def gait(t, period):
    """Joint positions per frame time `t` (seconds) of a trot: {joint name: tuple}."""
    out = {}
    for leg, offset in LEGS.items():
        phase = 2 * np.pi * (t / period + offset)
        out[f"{leg}_hip_joint"] = tuple(np.zeros_like(t))
        out[f"{leg}_upper_joint"] = tuple(THIGH + SWING * np.sin(phase))
        out[f"{leg}_lower_joint"] = tuple(CALF - LIFT * np.maximum(0.0, np.cos(phase)))
    return {k: tuple(float(v) for v in values) for k, values in out.items()}


def build(rng, config):
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    for key in ("speed", "gait_period"):
        if not config[key] > 0:
            raise kg.ConfigError(f"config {key!r}: must be > 0 (got {config[key]})")
    scene = common.base_scene(config, common.AMBIENT, {"background": "clevr"})
    scene += common.floor_dome((0.5, 0.5, 0.5), 0.5, 0.3)
    clevr.add_lights(scene, rng)
    t = np.arange(scene.num_frames) / scene.frame_rate
    length = config["speed"] * t[-1] if scene.num_frames > 1 else 0.0
    start = -length / 2
    heading = float(rng.uniform(-0.3, 0.3))  # about z
    direction = np.array([np.cos(heading), np.sin(heading), 0.0])
    turn = (float(np.cos(heading / 2)), 0.0, 0.0, float(np.sin(heading / 2)))
    bob = BASE_HEIGHT + BOB * np.cos(4 * np.pi * t / config["gait_period"])  # twice per cycle
    path = [kg.Pose(position=tuple(float(c) for c in direction * (start + config["speed"] * s) + [0.0, 0.0, z]),
                    quaternion=turn) for s, z in zip(t, bob, strict=True)]
    joints = gait(t, config["gait_period"])
    scene += kg.ArticulatedObject(name="robot", path=str(data_path() / URDF), motion="kinematic", keyframes=path,
                                  position=path[0].position, quaternion=path[0].quaternion,
                                  joint_positions={k: v[0] for k, v in joints.items()}, joint_keyframes=joints,
                                  asset_id="a1", labels={"category": "robot"})
    half = max(length / 2 + 0.4, 0.6)
    region = ((-half, -0.4, SHAPE_SCALE + 0.005), (half, 0.4, SHAPE_SCALE + 0.005))  # dropped 5 mm
    for i in range(int(rng.integers(lo, hi + 1))):
        obj = clevr.random_shape(rng, f"object_{i}", SHAPE_SCALE)
        kg.place_without_overlap(scene, obj, region=region, rng=rng, random_rotation=False)
    scene.camera = kg.PerspectiveCamera(focal_length=35.0, sensor_width=32.0,
                                        position=(float(rng.uniform(-0.3, 0.3)), -2.2, 1.0), look_at=(0.0, 0.0, 0.2))
    return scene
