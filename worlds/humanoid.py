"""A humanoid playing a motion-capture clip among falling CLEVR shapes, the camera following it.

The body is pybullet_data's DeepMimic humanoid (`humanoid/humanoid.urdf`, at its clips' scale
0.25: 1.6 m tall), and its motion one of the clips in `pybullet_data/data/motions/` (walk, run,
jump, backflip, ...), picked at random unless `clip` names one, from a random start in the clip.
Each frame's root pose becomes the base's kinematic pose and each joint's rotation (ball joints)
or angle (knees, elbows) the joint's scripted value, exactly; the clips are Y-up, the world Z-up.
A looping clip (walk, run) carries the root forward from one cycle to the next. Shapes fall from
above around the body and collide with its links. The camera keeps its offset to the root, looking
at it. The humanoid is one instance (category "humanoid"), its 15 links its parts.

Config:
  resolution         [width, height] in pixels (256x256)
  num_frames         frames (24)
  frame_rate         frames per second (12)
  step_rate          physics steps per second (240)
  clip               a clip's name (e.g. "walk"), or "random" (among CLIPS)
  min_num_objects    fewest falling shapes (3)
  max_num_objects    most falling shapes (6)
"""

import json

import numpy as np

import kubric_gen as kg
from kubric_gen import geometry
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
    "clip": "random",
    "min_num_objects": 3,
    "max_num_objects": 6,
}

URDF = "humanoid/humanoid.urdf"
SCALE = 0.25  # the clips' scale of the URDF
CLIPS = ("walk", "run", "jump", "backflip", "cartwheel", "dance_a", "dance_b", "kick", "punch", "roll", "spin",
         "spinkick", "crawl", "getup_facedown", "getup_faceup")
# After each frame's duration, root position (3) and rotation (4, w x y z): these joints, in this
# order, as rotations (4, w x y z) or angles (1) (DeepMimic's humanoid3d clips).
CHANNELS = (("chest", 4), ("neck", 4), ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4),
            ("right_shoulder", 4), ("right_elbow", 1), ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4),
            ("left_shoulder", 4), ("left_elbow", 1))
Y_UP = geometry.quat_from_axis_angle((1.0, 0.0, 0.0), np.pi / 2)  # the clips' Y-up frame in the Z-up world
CAMERA_OFFSET = np.array([2.2, -3.0, 1.4])
CATEGORIES = ("humanoid", *clevr.SHAPES)
LABELS = LabelSchema("humanoid", (Label("category", "class", names=CATEGORIES, doc="humanoid or CLEVR shape"),))
SHAPE_SCALE = 0.08


def read_clip(name):
    """(times (N,) s, frames (N, 44)) of a clip, and whether it loops."""
    with open(data_path() / "data" / "motions" / f"humanoid3d_{name}.txt") as f:
        data = json.load(f)
    frames = np.asarray(data["Frames"], dtype=np.float64)
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
    return times, frames[:, 1:], data.get("Loop") == "wrap"


def sample_clip(times, frames, loops, t):
    """One clip frame (43 values) at time t: positions and angles linear, rotations slerped; a
    looping clip carries the root's horizontal travel over from cycle to cycle."""
    duration = times[-1]
    cycle, local = (int(t // duration), t % duration) if loops and duration > 0 else (0, min(t, duration))
    k = int(np.clip(np.searchsorted(times, local, side="right") - 1, 0, len(times) - 2))
    u = (local - times[k]) / max(times[k + 1] - times[k], 1e-9)
    a, b = frames[k], frames[k + 1]
    out = (1 - u) * a + u * b
    i = 3
    for size in (4, *(s for _, s in CHANNELS)):
        if size == 4:
            out[i:i + 4] = geometry.quat_slerp(a[i:i + 4], b[i:i + 4], u)
        i += size
    travel = frames[-1, :3] - frames[0, :3]
    out[[0, 2]] += cycle * travel[[0, 2]]  # Y-up: x and z are horizontal
    return out


def build(rng, config):
    lo, hi = common.check_count(config, "min_num_objects", "max_num_objects")
    name = config["clip"]
    if name == "random":
        name = kg.choice(rng, list(CLIPS))
    elif name not in CLIPS:
        raise kg.ConfigError(f"config 'clip': expected 'random' or one of {', '.join(CLIPS)} (got {name!r})")
    times, frames, loops = read_clip(name)
    scene = common.base_scene(config, common.AMBIENT, {"background": "clevr", "clip": name})
    scene += common.floor_dome((0.5, 0.5, 0.5), 0.5, 0.3)
    clevr.add_lights(scene, rng)
    start = float(rng.uniform(0.0, times[-1]))
    poses = [sample_clip(times, frames, loops, start + f / scene.frame_rate) for f in range(scene.num_frames)]
    first = poses[0][:3]
    path, rotations, angles = [], {}, {}
    robot = read_urdf(data_path() / URDF)
    for values in poses:
        root = geometry.rotate(Y_UP, (values[:3] - [first[0], 0.0, first[2]]) * 1.0)  # start above the origin
        path.append(kg.Pose(position=tuple(float(c) for c in root),
                            quaternion=tuple(float(c) for c in geometry.quat_multiply(Y_UP, values[3:7]))))
        i = 7
        for joint, size in CHANNELS:
            if size == 4:
                rotations.setdefault(joint, []).append(tuple(float(c) for c in values[i:i + 4]))
            else:
                limits = robot.movable[joint]
                angles.setdefault(joint, []).append(float(np.clip(values[i], limits.lower, limits.upper)))
            i += size
    scene += kg.ArticulatedObject(name="humanoid", path=str(data_path() / URDF), scale=(SCALE,) * 3,
                                  motion="kinematic", keyframes=path, position=path[0].position,
                                  quaternion=path[0].quaternion, joint_rotations=rotations,
                                  joint_positions={k: v[0] for k, v in angles.items()}, joint_keyframes=angles,
                                  asset_id="humanoid", labels={"category": "humanoid"})
    centre = np.array(path[len(path) // 2].position)
    for i in range(int(rng.integers(lo, hi + 1))):
        obj = clevr.random_shape(rng, f"object_{i}", SHAPE_SCALE)
        region = (tuple(centre + [-0.8, -0.8, 1.8]), tuple(centre + [0.8, 0.8, 2.6]))
        kg.place_without_overlap(scene, obj, region=region, rng=rng, random_rotation=True)
    scene.camera = kg.PerspectiveCamera(
        focal_length=35.0, sensor_width=32.0,
        path=[kg.Pose(position=tuple(float(c) for c in np.array(p.position) * [1, 1, 0] + CAMERA_OFFSET),
                      look_at=tuple(float(c) for c in np.array(p.position) * [1, 1, 0] + [0.0, 0.0, 0.8]))
              for p in path])
    return scene
