"""The result of simulating a scene: per-frame poses and velocities, and collisions.

Plain data (numpy arrays), produced by `physics.simulate` and read by rendering,
ground truth and the scene-directory writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kubric_gen.scene import Pose, Scene


@dataclass(frozen=True)
class Collision:
    """The onset of contact between two objects (names; `None` is no object)."""

    frame: float  # fractional frame index: step / steps_per_frame
    objects: tuple[str, str]
    force: float  # total normal force over the contact points at onset, N
    position: tuple[float, float, float]  # world contact point (mean over points)
    normal: tuple[float, float, float]  # contact normal, pointing from objects[1] to objects[0]


@dataclass
class Trajectory:
    """Per object (in scene order) and frame: position (N,T,3), quaternion (N,T,4;
    w,x,y,z) of the object's origin, centre-of-mass velocity (N,T,3, m/s) and angular velocity (N,T,3, rad/s, world)."""

    names: list[str]
    positions: np.ndarray
    quaternions: np.ndarray
    velocities: np.ndarray
    angular_velocities: np.ndarray
    collisions: list[Collision] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[1])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def pose(self, name: str, frame: int) -> Pose:
        i = self.index(name)
        return Pose(position=tuple(self.positions[i, frame]), quaternion=tuple(self.quaternions[i, frame]))

    @classmethod
    def static(cls, scene: Scene) -> Trajectory:
        """Every object at its initial (or keyframed) pose with zero velocity: for
        scenes that need no physics, and for tests."""
        n, t = len(scene.objects), scene.num_frames
        pos = np.zeros((n, t, 3))
        quat = np.zeros((n, t, 4))
        for i, obj in enumerate(scene.objects):
            for f in range(t):
                pose = obj.pose_at(f)
                pos[i, f], quat[i, f] = pose.position, pose.quaternion
        return cls([o.name for o in scene.objects], pos, quat, np.zeros((n, t, 3)), np.zeros((n, t, 3)))
