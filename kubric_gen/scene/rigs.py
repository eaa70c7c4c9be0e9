"""Camera rigs for `Scene.cameras`: a stereo pair, N cameras on a ring or on a hemisphere.

Each returns a list of named `PerspectiveCamera`s (static; give one a `path` with
`dataclasses.replace` to move it). Randomness comes only from the `rng` passed in, so a
world's rig is as reproducible as the rest of its scene.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import SceneError
from kubric_gen.scene.camera import PerspectiveCamera
from kubric_gen.scene.fields import Vec3, integer, number, vector


def _names(names: Sequence[str] | None, n: int, what: str) -> list[str]:
    if names is None:
        return [f"cam{i}" for i in range(n)]
    if len(names) != n:
        raise SceneError(f"{what}.names", list(names), f"expected {n} names")
    return list(names)


def stereo_rig(position: Vec3, look_at: Vec3, baseline: float = 0.12, convergence: float | None = None,
               focal_length: float = 35.0, sensor_width: float = 32.0,
               names: Sequence[str] = ("left", "right")) -> list[PerspectiveCamera]:
    """Two cameras `baseline` metres apart along the image's x axis, centred on `position`
    and facing `look_at`. Without `convergence` they are parallel (a rectified pair: a
    point's disparity is focal_px * baseline / z); with it, each turns in to look at the point
    `convergence` metres ahead of the centre."""
    owner = "stereo_rig"
    centre = np.asarray(vector(owner, "position", position, 3))
    target = np.asarray(vector(owner, "look_at", look_at, 3))
    baseline = number(owner, "baseline", baseline, 0.0, lo_open=True)
    if np.allclose(centre, target):
        raise SceneError(f"{owner}.look_at", look_at, "must differ from position")
    rotation = geometry.quat_to_matrix(geometry.look_at_quaternion(centre, target))
    right, forward = rotation[:, 0], -rotation[:, 2]  # Blender cameras look down -Z, x to the right
    cams = []
    for name, side in zip(_names(names, 2, owner), (-0.5, 0.5), strict=True):
        pos = centre + side * baseline * right
        if convergence is None:
            quat = geometry.look_at_quaternion(pos, pos + forward)
        else:
            distance = number(owner, "convergence", convergence, 0.0, lo_open=True)
            quat = geometry.look_at_quaternion(pos, centre + distance * forward)
        x, y, z = (float(v) for v in pos)
        w, i, j, k = (float(v) for v in quat)
        cams.append(PerspectiveCamera(name=name, position=(x, y, z), quaternion=(w, i, j, k),
                                      focal_length=focal_length, sensor_width=sensor_width))
    return cams


def ring(n: int, around: Vec3 = (0.0, 0.0, 0.0), radius: float = 10.0, height: float = 5.0,
         rng: np.random.Generator | None = None, focal_length: float = 35.0, sensor_width: float = 32.0,
         names: Sequence[str] | None = None) -> list[PerspectiveCamera]:
    """`n` cameras evenly spaced on a horizontal circle of `radius` at `height` above
    `around`, all looking at it; with `rng`, the ring is turned by a random angle."""
    owner = "ring"
    n = integer(owner, "n", n, 1)
    radius = number(owner, "radius", radius, 0.0, lo_open=True)
    phase = rng.uniform(0.0, 2 * np.pi) if rng is not None else 0.0
    azimuths = phase + 2 * np.pi * np.arange(n) / n
    elevations = np.full(n, np.arctan2(number(owner, "height", height), radius))
    distances = np.full(n, np.hypot(radius, height))
    return _around(owner, around, azimuths, elevations, distances, focal_length, sensor_width, _names(names, n, owner))


def hemisphere(rng: np.random.Generator, n: int, around: Vec3 = (0.0, 0.0, 0.0), radius: float = 12.0,
               elevation: tuple[float, float] = (15.0, 60.0), focal_length: float = 35.0,
               sensor_width: float = 32.0, names: Sequence[str] | None = None) -> list[PerspectiveCamera]:
    """`n` cameras at distance `radius` from `around` on the upper hemisphere, looking at it:
    azimuths spread evenly from a random start (each jittered by up to a quarter of the
    spacing), elevations uniform in `elevation` (degrees above the horizon)."""
    owner = "hemisphere"
    n = integer(owner, "n", n, 1)
    radius = number(owner, "radius", radius, 0.0, lo_open=True)
    lo, hi = (number(owner, "elevation", e, 0.0, 89.0) for e in elevation)
    if lo > hi:
        raise SceneError(f"{owner}.elevation", elevation, "expected (low, high) with low <= high")
    spacing = 2 * np.pi / n
    azimuths = rng.uniform(0.0, 2 * np.pi) + spacing * np.arange(n) + rng.uniform(-0.25, 0.25, n) * spacing
    elevations = np.radians(rng.uniform(lo, hi, n))
    return _around(owner, around, azimuths, elevations, np.full(n, radius), focal_length, sensor_width,
                   _names(names, n, owner))


def _around(owner: str, around: Vec3, azimuths: np.ndarray, elevations: np.ndarray, distances: np.ndarray,
            focal_length: float, sensor_width: float, names: list[str]) -> list[PerspectiveCamera]:
    centre = np.asarray(vector(owner, "around", around, 3))
    cams = []
    for name, azimuth, elevation, distance in zip(names, azimuths, elevations, distances, strict=True):
        offset = distance * np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                                      np.sin(elevation)])
        x, y, z = (float(v) for v in centre + offset)
        cx, cy, cz = (float(v) for v in centre)
        cams.append(PerspectiveCamera(name=name, position=(x, y, z), look_at=(cx, cy, cz),
                                      focal_length=focal_length, sensor_width=sensor_width))
    return cams
