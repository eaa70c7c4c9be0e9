"""The result of simulating a scene: per-frame poses and velocities, and collisions.

Plain data (numpy arrays), produced by `physics.simulate` and read by rendering,
ground truth and the scene-directory writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kubric_gen import geometry
from kubric_gen.scene import DeformableObject, Pose, Scene


def camera_pose(scene: Scene, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Camera position and quaternion at frame -1..num_frames: frames outside the scene
    continue the camera's motion between its two nearest frames at constant velocity."""
    t = scene.num_frames
    if 0 <= frame < t:
        pose = scene.camera.pose_at(frame)
        return np.asarray(pose.position, dtype=np.float64), np.asarray(pose.quaternion, dtype=np.float64)
    if frame not in (-1, t):
        raise IndexError(f"frame {frame} outside -1..{t}")
    near, far = (0, min(1, t - 1)) if frame < 0 else (t - 1, max(t - 2, 0))
    a, b = scene.camera.pose_at(far), scene.camera.pose_at(near)
    return geometry.extrapolate_poses(a.position, a.quaternion, b.position, b.quaternion)


@dataclass(frozen=True)
class Collision:
    """The onset of contact between two objects (names; `None` is no object)."""

    frame: float  # fractional frame index: step / steps_per_frame
    objects: tuple[str, str]
    force: float  # total normal force over the contact points at onset, N
    position: tuple[float, float, float]  # world contact point (mean over points)
    normal: tuple[float, float, float]  # contact normal, pointing from objects[1] to objects[0]


def _poses_at(positions: np.ndarray, quaternions: np.ndarray, boundary_positions: np.ndarray | None,
              boundary_quaternions: np.ndarray | None, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Poses (N, 3), (N, 4) at frame -1..T of per-frame poses (N, T, ...): frames -1 and T from
    the boundary poses (N, 2, ...), else extrapolated at constant velocity from the nearest two."""
    t = positions.shape[1]
    if 0 <= frame < t:
        return positions[:, frame], quaternions[:, frame]
    if frame not in (-1, t):
        raise IndexError(f"frame {frame} outside -1..{t}")
    side = 0 if frame < 0 else 1
    if boundary_positions is not None and boundary_quaternions is not None:
        return boundary_positions[:, side], boundary_quaternions[:, side]
    near, far = (0, min(1, t - 1)) if side == 0 else (t - 1, max(t - 2, 0))
    return geometry.extrapolate_poses(positions[:, far], quaternions[:, far], positions[:, near],
                                      quaternions[:, near])


@dataclass
class LinkStates:
    """An articulated object over the frames: its URDF links' frames (L, T, 3) / (L, T, 4) in the
    URDF's link order, with the frames before the first and after the last (L, 2, ...), and its
    movable joints' positions and velocities (J, T; radians or metres, per second), and its ball
    joints' rotations (B, T, 4; w, x, y, z)."""

    links: list[str]
    positions: np.ndarray
    quaternions: np.ndarray
    boundary_positions: np.ndarray
    boundary_quaternions: np.ndarray
    joints: list[str]
    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    balls: list[str] = field(default_factory=list)
    joint_rotations: np.ndarray | None = None

    def poses_at(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Every link's position (L, 3) and quaternion (L, 4) at frame -1..T."""
        return _poses_at(self.positions, self.quaternions, self.boundary_positions, self.boundary_quaternions, frame)


@dataclass
class DeformStates:
    """A deformable object's world vertices per frame (T, V, 3), in its rest mesh's vertex order,
    with those one frame before the first and one after the last (2, V, 3)."""

    vertices: np.ndarray
    boundary_vertices: np.ndarray

    def vertices_at(self, frame: int) -> np.ndarray:
        """Every vertex (V, 3) at frame -1..T."""
        t = self.vertices.shape[0]
        if 0 <= frame < t:
            return self.vertices[frame]
        if frame not in (-1, t):
            raise IndexError(f"frame {frame} outside -1..{t}")
        return self.boundary_vertices[0 if frame < 0 else 1]


def scripted_deformation(obj: DeformableObject, num_frames: int) -> DeformStates:
    """The vertices of a static or kinematic deformable at frames -1..T: its rest shape or
    `vertex_keyframes` (extrapolated linearly past the ends), moved by its pose (keyframes
    extrapolated at constant velocity, as a rigid kinematic object's)."""
    t = num_frames
    vertices = np.stack([obj.posed_vertices(f) for f in range(t)])
    ends = []
    for near, far in ((0, min(1, t - 1)), (t - 1, max(t - 2, 0))):
        if obj.vertex_keyframes is not None:
            local = 2 * np.asarray(obj.vertex_keyframes[near]) - np.asarray(obj.vertex_keyframes[far])
        else:
            local = np.asarray(obj.rest_mesh().vertices)
        a, b = obj.pose_at(far), obj.pose_at(near)
        position, quaternion = geometry.extrapolate_poses(a.position, a.quaternion, b.position, b.quaternion)
        ends.append(geometry.transform_points(local, position, quaternion, obj.scale))
    return DeformStates(vertices, np.stack(ends))


def deformation_poses(obj: DeformableObject, states: DeformStates, frame_rate: float) -> tuple[np.ndarray, ...]:
    """A deformable's per-frame position (its vertices' mean), quaternion (the initial or keyframed
    one) and velocity (of the mean; central differences, the boundary frames included) and zero
    angular velocity, (T, 3) / (T, 4) / (T, 3) / (T, 3)."""
    t = states.vertices.shape[0]
    means = np.concatenate([states.boundary_vertices[:1], states.vertices, states.boundary_vertices[1:]]).mean(axis=1)
    quaternions = np.array([obj.pose_at(f).quaternion for f in range(t)], dtype=np.float64)
    velocities = (means[2:] - means[:-2]) * frame_rate / 2
    return means[1:-1], quaternions, velocities, np.zeros((t, 3))


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
    # Poses one frame before the first and one after the last (N,2,3) / (N,2,4), for the
    # flow of the first and last frames; None means "extrapolate from the frames".
    boundary_positions: np.ndarray | None = None
    boundary_quaternions: np.ndarray | None = None
    # Articulated objects (by name): their links and joints; the object's own pose is its base link's.
    links: dict[str, LinkStates] = field(default_factory=dict)
    # Deformable objects (by name): their vertices per frame; the object's position is their mean.
    deformations: dict[str, DeformStates] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[1])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def poses_at(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """All objects' positions (N,3) and quaternions (N,4) at frame -1..num_frames.

        Frames -1 and num_frames come from the boundary poses, else by extrapolating
        the motion between the two nearest frames at constant velocity.
        """
        return _poses_at(self.positions, self.quaternions, self.boundary_positions, self.boundary_quaternions, frame)

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
        vel = np.zeros((n, t, 3))
        deformations = {}
        for i, obj in enumerate(scene.objects):
            if isinstance(obj, DeformableObject):
                deformations[obj.name] = scripted_deformation(obj, t)
                pos[i], quat[i], vel[i], _ = deformation_poses(obj, deformations[obj.name], scene.frame_rate)
                continue
            for f in range(t):
                pose = obj.pose_at(f)
                pos[i, f], quat[i, f] = pose.position, pose.quaternion
        return cls([o.name for o in scene.objects], pos, quat, vel, np.zeros((n, t, 3)), deformations=deformations)
