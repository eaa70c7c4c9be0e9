"""Camera paths: one `Pose` per frame for `PerspectiveCamera(path=...)`.

`orbit` circles a point; `through_waypoints` moves through given positions. Both face a
target in every frame (or, without one, the direction of travel). `handheld` adds a seeded,
smooth shake to any path. Randomness comes only from the `rng` passed in, like every other
helper of a world.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import SceneError
from kubric_gen.scene.fields import Vec3, integer, number, vector
from kubric_gen.scene.poses import Pose


def orbit(num_frames: int, around: Vec3 = (0.0, 0.0, 0.0), radius: float = 10.0, height: float = 5.0,
          degrees: float = 90.0, rng: np.random.Generator | None = None,
          look_at: Vec3 | None = None) -> tuple[Pose, ...]:
    """`num_frames` poses on a horizontal circle of `radius` metres, `height` metres above
    `around`, turning `degrees` (counter-clockwise seen from above; negative: clockwise) over
    the clip at constant speed, each looking at `look_at` (default: `around`). The start
    azimuth is 0 (on the +X side), or uniform in [0, 360) degrees with `rng`."""
    owner = "orbit"
    n = integer(owner, "num_frames", num_frames, 1)
    centre = np.asarray(vector(owner, "around", around, 3))
    radius = number(owner, "radius", radius, 0.0, lo_open=True)
    height = number(owner, "height", height)
    sweep = np.radians(number(owner, "degrees", degrees))
    target = centre if look_at is None else np.asarray(vector(owner, "look_at", look_at, 3))
    start = rng.uniform(0.0, 2 * np.pi) if rng is not None else 0.0
    angles = start + sweep * (np.arange(n) / max(n - 1, 1))
    positions = centre + np.stack([radius * np.cos(angles), radius * np.sin(angles), np.full(n, height)], axis=1)
    return _facing(owner, positions, np.broadcast_to(target, positions.shape))


def through_waypoints(waypoints: Sequence[Vec3], num_frames: int, look_at: Vec3 | None = None,
                      smooth: bool = True) -> tuple[Pose, ...]:
    """`num_frames` poses moving at constant speed along the path through `waypoints` (first
    pose at the first waypoint, last at the last): a natural cubic spline through them with
    `smooth`, else straight segments. Each looks at `look_at`, or without it along the
    direction of travel."""
    owner = "through_waypoints"
    n = integer(owner, "num_frames", num_frames, 1)
    if not isinstance(waypoints, (list, tuple, np.ndarray)) or len(waypoints) < 2:
        raise SceneError(f"{owner}.waypoints", waypoints, "expected at least 2 positions")
    points = np.array([vector(owner, f"waypoints[{i}]", w, 3) for i, w in enumerate(waypoints)])
    chord = np.linalg.norm(np.diff(points, axis=0), axis=1)
    if np.any(chord == 0):
        i = int(np.flatnonzero(chord == 0)[0])
        raise SceneError(f"{owner}.waypoints[{i + 1}]", list(points[i + 1]), "repeats the waypoint before it")
    knots = np.concatenate([[0.0], np.cumsum(chord)])
    if smooth and len(points) > 2:
        from scipy.interpolate import CubicSpline

        curve = CubicSpline(knots, points, bc_type="natural")
    else:
        def curve(u: np.ndarray) -> np.ndarray:
            return np.stack([np.interp(u, knots, points[:, k]) for k in range(3)], axis=-1)
    # constant speed: sample the curve densely, then place frames at equal arc length
    dense_u = np.linspace(0.0, knots[-1], 64 * len(points) + n)
    dense = curve(dense_u)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
    u = np.interp(np.linspace(0.0, arc[-1], n), arc, dense_u)
    positions = curve(u)
    if look_at is not None:
        targets = np.broadcast_to(np.asarray(vector(owner, "look_at", look_at, 3)), positions.shape)
    else:
        ahead = curve(np.minimum(u + 1e-3 * knots[-1], knots[-1]))
        behind = curve(np.maximum(u - 1e-3 * knots[-1], 0.0))
        targets = positions + (ahead - behind)
    return _facing(owner, positions, targets)


SHAKE_COMPONENTS = 3  # sinusoids summed per axis: smooth, and not periodic over a clip


def handheld(path: Sequence[Pose], rng: np.random.Generator, frame_rate: float, shift: float = 0.01,
             angle: float = 0.5, frequency: float = 1.0) -> tuple[Pose, ...]:
    """`path` shaken as a hand-held camera: each pose moved by up to `shift` metres along each of
    the camera's own axes and turned by up to `angle` degrees about each of them. Every one of the
    six offsets is a sum of SHAKE_COMPONENTS sinusoids of random phase and of frequencies uniform in
    [0.5, 1.5] x `frequency` Hz (frames at `frame_rate`), scaled so that its largest magnitude over
    the path is exactly the bound: smooth from frame to frame, the same for the same `rng` state."""
    owner = "handheld"
    if not isinstance(path, (list, tuple)) or not path or not all(isinstance(p, Pose) for p in path):
        raise SceneError(f"{owner}.path", path, "expected a non-empty sequence of Poses (e.g. orbit(...))")
    rate = number(owner, "frame_rate", frame_rate, 0.0, lo_open=True)
    shift = number(owner, "shift", shift, 0.0)
    angle = np.radians(number(owner, "angle", angle, 0.0))
    frequency = number(owner, "frequency", frequency, 0.0, lo_open=True)
    t = np.arange(len(path)) / rate
    freqs = rng.uniform(0.5, 1.5, (6, SHAKE_COMPONENTS)) * frequency
    phases = rng.uniform(0.0, 2 * np.pi, (6, SHAKE_COMPONENTS))
    waves = np.sin(2 * np.pi * freqs[:, :, None] * t + phases[:, :, None]).sum(axis=1)  # (6, T)
    peak = np.abs(waves).max(axis=1, keepdims=True)
    waves = np.divide(waves, peak, out=np.zeros_like(waves), where=peak > 0)
    offsets, turns = waves[:3].T * shift, waves[3:].T * angle
    poses = []
    for pose, offset, turn in zip(path, offsets, turns, strict=True):
        q = np.asarray(pose.quaternion, dtype=np.float64)
        position = np.asarray(pose.position) + geometry.rotate(q, offset)  # along the camera's own axes
        local = geometry.quat_from_euler(turn)  # about the camera's own axes
        quaternion = geometry.quat_normalize(geometry.quat_multiply(q, local))
        if quaternion[0] < 0:
            quaternion = -quaternion
        poses.append(Pose(position=tuple(float(v) for v in position),  # type: ignore[arg-type]
                          quaternion=tuple(float(v) for v in quaternion)))  # type: ignore[arg-type]
    return tuple(poses)


def _facing(owner: str, positions: np.ndarray, targets: np.ndarray) -> tuple[Pose, ...]:
    poses = []
    for i, (p, t) in enumerate(zip(positions, targets, strict=True)):
        if np.allclose(p, t):
            raise SceneError(f"{owner}.look_at", [float(v) for v in t], f"is the camera's position at frame {i}")
        x, y, z = (float(v) for v in p)
        w, a, b, c = (float(v) for v in geometry.look_at_quaternion(p, t))
        poses.append(Pose(position=(x, y, z), quaternion=(w, a, b, c)))
    return tuple(poses)
