"""Articulated objects in a PyBullet world: loading a URDF, driving its joints, reading its links.

physics.py owns the PyBullet client and hands it in (`p`, `client`); this module never imports
pybullet itself. Poses here are the URDF's frames: PyBullet reports a base by its centre of mass,
which is converted back to the base link's frame.

Scripted joints (`joint_keyframes`) are set exactly: before each physics step to the position of
the step's start (with the velocity of the step, so contacts see the links move), and after it to
the position of its end, which is what the frame records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from kubric_gen import geometry
from kubric_gen.scene import ArticulatedObject

MOVABLE = (0, 1)  # PyBullet's JOINT_REVOLUTE, JOINT_PRISMATIC (URDF's continuous joints are revolute)
SPHERICAL = 2  # PyBullet's JOINT_SPHERICAL: a ball joint, posed by a quaternion


def xyzw(q: Sequence[float] | np.ndarray) -> list[float]:
    """Our (w, x, y, z) quaternion as PyBullet's (x, y, z, w)."""
    return [float(q[1]), float(q[2]), float(q[3]), float(q[0])]


def wxyz(q: Sequence[float]) -> np.ndarray:
    """PyBullet's (x, y, z, w) quaternion as ours (w, x, y, z), normalised."""
    return geometry.quat_normalize([q[3], q[0], q[1], q[2]])


def rotation_value(series: tuple, frame: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotation (w, x, y, z) and angular velocity (rad per frame, in the joint's frame) of a
    per-frame series of rotations at a fractional frame: slerp between frames, continued past
    either end along its first or last segment."""
    values = np.asarray(series, dtype=np.float64)
    if len(values) == 1:
        return values[0], np.zeros(3)
    lo = int(np.clip(math.floor(frame), 0, len(values) - 2))
    a, b = values[lo], values[lo + 1]
    delta = geometry.quat_multiply(geometry.quat_conjugate(a), b)  # a -> b in a's frame
    if delta[0] < 0:
        delta = -delta
    angle = 2.0 * math.atan2(float(np.linalg.norm(delta[1:])), float(delta[0]))
    axis = delta[1:] / np.linalg.norm(delta[1:]) if angle > 1e-12 else np.array([1.0, 0.0, 0.0])
    step = geometry.quat_from_axis_angle(axis, angle * (frame - lo))
    return geometry.quat_normalize(geometry.quat_multiply(a, step)), axis * angle


def series_value(series: tuple[float, ...], frame: float) -> tuple[float, float]:
    """Position and velocity (per frame) of a per-frame series at a fractional frame: linear
    between frames, continued past either end along its first or last segment."""
    values = np.asarray(series, dtype=np.float64)
    if len(values) == 1:
        return float(values[0]), 0.0
    lo = int(np.clip(math.floor(frame), 0, len(values) - 2))
    slope = float(values[lo + 1] - values[lo])
    return float(values[lo] + (frame - lo) * slope), slope


@dataclass
class Body:
    """One articulated object loaded in a PyBullet world."""

    obj: ArticulatedObject
    id: int
    links: list[str]  # PyBullet's link order: the base (index -1) first, then link j = joint j's child
    joints: list[str]  # the movable joints, by PyBullet index in `joint_index`
    joint_index: list[int]
    balls: list[str]  # the ball joints, by PyBullet index in `ball_index`
    ball_index: list[int]
    inertial: tuple[np.ndarray, np.ndarray]  # the base's centre-of-mass frame in its link frame

    def link_order(self) -> list[int]:
        """PyBullet link index (-1 = base) of each of the URDF's links, in the URDF's order."""
        index = {name: i - 1 for i, name in enumerate(self.links)}
        return [index[name] for name in self.obj.robot.links]


def load(p: ModuleType, client: int, obj: ArticulatedObject) -> Body:
    """Load `obj`'s URDF at its pose, set its initial joint positions and the motors' modes."""
    flags = p.URDF_USE_SELF_COLLISION if obj.self_collision else 0
    body = p.loadURDF(obj.path, basePosition=list(obj.position), baseOrientation=xyzw(obj.quaternion),
                      useFixedBase=obj.motion != "dynamic", globalScaling=float(obj.scale[0]), flags=flags,
                      physicsClientId=client)
    count = p.getNumJoints(body, physicsClientId=client)
    info = [p.getJointInfo(body, j, physicsClientId=client) for j in range(count)]
    base = p.getBodyInfo(body, physicsClientId=client)[0].decode()
    links = [base] + [row[12].decode() for row in info]
    movable = [j for j, row in enumerate(info) if row[2] in MOVABLE]
    balls = [j for j, row in enumerate(info) if row[2] == SPHERICAL]
    dynamics = p.getDynamicsInfo(body, -1, physicsClientId=client)
    out = Body(obj, body, links, [info[j][1].decode() for j in movable], movable, [info[j][1].decode() for j in balls],
               balls, (np.asarray(dynamics[3], dtype=np.float64), wxyz(dynamics[4])))
    for link in range(-1, len(info)):
        p.changeDynamics(body, link, lateralFriction=obj.friction, restitution=obj.restitution,
                         linearDamping=0.0, angularDamping=0.0, physicsClientId=client)
    for name, j in zip(out.joints, movable, strict=True):
        p.resetJointState(body, j, initial_position(obj, name, 0.0), physicsClientId=client)
        if name in obj.joint_keyframes:  # set exactly each step: no motor
            p.setJointMotorControl2(body, j, p.VELOCITY_CONTROL, force=0.0, physicsClientId=client)
        elif name not in obj.joint_targets:  # held at rest, as PyBullet does by default, with our force
            p.setJointMotorControl2(body, j, p.VELOCITY_CONTROL, targetVelocity=0.0, force=obj.max_force,
                                    physicsClientId=client)
    for name, j in zip(out.balls, balls, strict=True):
        rotation = rotation_value(obj.joint_rotations[name], 0.0)[0] if name in obj.joint_rotations else (1, 0, 0, 0)
        p.resetJointStateMultiDof(body, j, xyzw(rotation), physicsClientId=client)
        if name in obj.joint_rotations:  # set exactly each step: no motor
            p.setJointMotorControlMultiDof(body, j, p.POSITION_CONTROL, targetPosition=[0, 0, 0, 1],
                                           force=[0.0, 0.0, 0.0], physicsClientId=client)
    return out


def initial_position(obj: ArticulatedObject, name: str, frame: float) -> float:
    """A joint's position at `frame` (0, or -1 for the frame before the first) when scripted,
    else its initial position (given, or 0 within its limits)."""
    if name in obj.joint_keyframes:
        return series_value(obj.joint_keyframes[name], frame)[0]
    if name in obj.joint_positions:
        return obj.joint_positions[name]
    joint = obj.robot.movable[name]
    return min(max(0.0, joint.lower), joint.upper)


def drive(p: ModuleType, client: int, body: Body, frame: float, step: float, frame_rate: float) -> None:
    """Before the physics step from `frame` to `frame + step` (in frames): scripted joints at their
    position with the step's velocity, motors aimed at the targets of the step's end."""
    obj = body.obj
    for name, j in zip(body.joints, body.joint_index, strict=True):
        if name in obj.joint_keyframes:
            value, slope = series_value(obj.joint_keyframes[name], frame)
            p.resetJointState(body.id, j, value, targetVelocity=slope * frame_rate, physicsClientId=client)
        elif name in obj.joint_targets:
            target, _ = series_value(obj.joint_targets[name], frame + step)
            p.setJointMotorControl2(body.id, j, p.POSITION_CONTROL, targetPosition=target, force=obj.max_force,
                                    physicsClientId=client)
    _place_balls(p, client, body, frame, frame_rate)


def _place_balls(p: ModuleType, client: int, body: Body, frame: float, frame_rate: float) -> None:
    for name, j in zip(body.balls, body.ball_index, strict=True):
        if name in body.obj.joint_rotations:
            rotation, omega = rotation_value(body.obj.joint_rotations[name], frame)
            p.resetJointStateMultiDof(body.id, j, xyzw(rotation), targetVelocity=list(omega * frame_rate),
                                      physicsClientId=client)


def place_scripted(p: ModuleType, client: int, body: Body, frame: float, frame_rate: float) -> None:
    """After a physics step: scripted joints exactly at their position of `frame`."""
    for name, j in zip(body.joints, body.joint_index, strict=True):
        if name in body.obj.joint_keyframes:
            value, slope = series_value(body.obj.joint_keyframes[name], frame)
            p.resetJointState(body.id, j, value, targetVelocity=slope * frame_rate, physicsClientId=client)
    _place_balls(p, client, body, frame, frame_rate)


def base_pose(p: ModuleType, client: int, body: Body) -> tuple[np.ndarray, np.ndarray]:
    """The base link's frame (PyBullet reports its centre of mass)."""
    com, orn = p.getBasePositionAndOrientation(body.id, physicsClientId=client)
    q = geometry.quat_multiply(wxyz(orn), geometry.quat_conjugate(body.inertial[1]))
    position = np.asarray(com, dtype=np.float64) - geometry.rotate(q, body.inertial[0] * body.obj.scale[0])
    return position, geometry.quat_normalize(q)


def set_base(p: ModuleType, client: int, body: Body, position: np.ndarray, quaternion: np.ndarray) -> None:
    """Put the base link's frame at a pose (a kinematic base)."""
    com_q = geometry.quat_multiply(quaternion, body.inertial[1])
    com = np.asarray(position) + geometry.rotate(quaternion, body.inertial[0] * body.obj.scale[0])
    p.resetBasePositionAndOrientation(body.id, list(com), xyzw(com_q), physicsClientId=client)


def link_poses(p: ModuleType, client: int, body: Body) -> tuple[np.ndarray, np.ndarray]:
    """Every URDF link's frame, in the URDF's link order: positions (L, 3), quaternions (L, 4)."""
    order = body.link_order()
    positions, quaternions = np.zeros((len(order), 3)), np.zeros((len(order), 4))
    others = [i for i in order if i >= 0]
    states = p.getLinkStates(body.id, others, computeForwardKinematics=True, physicsClientId=client) if others else []
    by_index = {i: (np.asarray(s[4], dtype=np.float64), wxyz(s[5])) for i, s in zip(others, states, strict=True)}
    by_index[-1] = base_pose(p, client, body)
    for k, i in enumerate(order):
        positions[k], quaternions[k] = by_index[i]
    return positions, quaternions


def joint_states(p: ModuleType, client: int, body: Body) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities (per second) of the movable joints, in `body.joints` order."""
    states = p.getJointStates(body.id, body.joint_index, physicsClientId=client) if body.joint_index else []
    return (np.array([s[0] for s in states], dtype=np.float64), np.array([s[1] for s in states], dtype=np.float64))


def ball_states(p: ModuleType, client: int, body: Body) -> np.ndarray:
    """Rotations (B, 4) (w, x, y, z) of the ball joints, in `body.balls` order."""
    states = p.getJointStatesMultiDof(body.id, body.ball_index, physicsClientId=client) if body.ball_index else []
    return np.array([wxyz(s[0]) for s in states], dtype=np.float64).reshape(-1, 4)


def set_joints(p: ModuleType, client: int, body: Body, positions: Sequence[float] | np.ndarray,
               rotations: Sequence[np.ndarray] | np.ndarray | None = None) -> None:
    for j, value in zip(body.joint_index, positions, strict=True):
        p.resetJointState(body.id, j, float(value), physicsClientId=client)
    for j, rotation in zip(body.ball_index, rotations if rotations is not None else [], strict=False):
        p.resetJointStateMultiDof(body.id, j, xyzw(rotation), physicsClientId=client)
