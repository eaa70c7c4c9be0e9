"""Transforms, quaternions and the camera model shared by every stage.

Conventions (see docs/architecture.md): metres, right-handed world with Z up,
quaternions as (w, x, y, z). The camera follows Blender: it looks down its local
-Z axis with +Y up, the sensor width (mm) spans the image width (sensor fit
HORIZONTAL) and pixels are square. The centre of pixel (row r, col c) is at
image coordinates (x, y) = (c + 0.5, r + 0.5). numpy only.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

# Anything np.asarray takes: arrays, sequences (of sequences) of numbers, scalars.
ArrayLike = npt.ArrayLike


# ---------------------------------------------------------------- quaternions
def quat_normalize(q: ArrayLike) -> np.ndarray:
    """Unit quaternion (w, x, y, z) with w >= 0 (a canonical sign)."""
    qa = np.asarray(q, dtype=np.float64)
    qa = qa / np.linalg.norm(qa, axis=-1, keepdims=True)
    return np.where(qa[..., :1] < 0, -qa, qa)


def quat_multiply(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Hamilton product a*b (rotation b first, then a)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def quat_to_matrix(q: ArrayLike) -> np.ndarray:
    """3x3 rotation matrix (or ...x3x3) of unit quaternion(s) (w, x, y, z)."""
    qa = np.asarray(q, dtype=np.float64)
    qa = qa / np.linalg.norm(qa, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(qa, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], axis=-2)


def quat_from_matrix(m: ArrayLike) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a 3x3 rotation matrix (Shepperd's method)."""
    m = np.asarray(m, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    return quat_normalize(q)


def quat_from_axis_angle(axis: ArrayLike, angle: float) -> np.ndarray:
    """Rotation by `angle` radians about `axis`."""
    unit = np.asarray(axis, dtype=np.float64)
    unit = unit / np.linalg.norm(unit)
    half = 0.5 * angle
    return np.concatenate([[math.cos(half)], math.sin(half) * unit])


def quat_from_euler(euler: ArrayLike) -> np.ndarray:
    """Quaternion of Blender's 'XYZ' Euler angles (radians): R = Rz @ Ry @ Rx."""
    rx, ry, rz = (float(a) for a in np.asarray(euler, dtype=np.float64))
    q = quat_multiply(quat_from_axis_angle((0, 0, 1), rz),
                      quat_multiply(quat_from_axis_angle((0, 1, 0), ry),
                                    quat_from_axis_angle((1, 0, 0), rx)))
    return quat_normalize(q)


def look_at_quaternion(position: ArrayLike, target: ArrayLike, up: ArrayLike = (0, 0, 1)) -> np.ndarray:
    """Orientation whose local -Z points from `position` to `target`, +Y towards `up`.

    This is how Blender cameras, spot, area and sun lights point.
    """
    forward = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    norm = np.linalg.norm(forward)
    if norm == 0:
        raise ValueError("look_at target equals position")
    forward /= norm
    up = np.asarray(up, dtype=np.float64)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight along `up`: any right vector will do
        right = np.cross(forward, (0.0, 1.0, 0.0) if abs(forward[1]) < 0.9 else (1.0, 0.0, 0.0))
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    return quat_from_matrix(np.stack([right, true_up, -forward], axis=1))


def quat_conjugate(q: ArrayLike) -> np.ndarray:
    """Inverse of unit quaternion(s)."""
    return np.asarray(q, dtype=np.float64) * np.array([1.0, -1.0, -1.0, -1.0])


def quat_slerp(a: ArrayLike, b: ArrayLike, t: float) -> np.ndarray:
    """The rotation a fraction t of the way from a to b along the shorter arc (unit quaternions)."""
    qa, qb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.dot(qa, qb) < 0:
        qb = -qb
    angle = math.acos(min(1.0, abs(float(np.dot(qa, qb)))))
    if angle < 1e-9:
        return qa
    return quat_normalize((math.sin((1 - t) * angle) * qa + math.sin(t * angle) * qb) / math.sin(angle))


def extrapolate_poses(p0: ArrayLike, q0: ArrayLike, p1: ArrayLike, q1: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The pose one step past (p1, q1) continuing the motion from (p0, q0) to (p1, q1)
    at constant velocity: p = 2 p1 - p0, q = (q1 q0^-1) q1. Works on (..., 3/4) arrays."""
    p = 2.0 * np.asarray(p1, dtype=np.float64) - np.asarray(p0, dtype=np.float64)
    step = quat_multiply(q1, quat_conjugate(q0))
    return p, quat_normalize(quat_multiply(step, q1))


def rotate(q: ArrayLike, v: ArrayLike) -> np.ndarray:
    """Rotate vector(s) v (...,3) by quaternion q."""
    return np.asarray(v, dtype=np.float64) @ quat_to_matrix(q).T


def transform_points(points: ArrayLike, position: ArrayLike, quaternion: ArrayLike,
                     scale: ArrayLike = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Local (unscaled) points to world: p_world = R(q) @ (scale * p) + position."""
    p = np.asarray(points, dtype=np.float64) * np.asarray(scale, dtype=np.float64)
    return p @ quat_to_matrix(quaternion).T + np.asarray(position, dtype=np.float64)


def pose_matrix(position: ArrayLike, quaternion: ArrayLike) -> np.ndarray:
    """4x4 local-to-world matrix of a pose."""
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(quaternion)
    m[:3, 3] = position
    return m


# ---------------------------------------------------------------- camera
def field_of_view(focal_length: float, sensor_width: float) -> float:
    """Horizontal field of view in radians."""
    return 2.0 * math.atan(0.5 * sensor_width / focal_length)


def intrinsics(focal_length: float, sensor_width: float, resolution: tuple[int, int]) -> np.ndarray:
    """3x3 pixel intrinsics in the OpenCV convention (x right, y down, z forward).

    For a point p in that camera frame, (K @ p) / p_z = (col + 0.5, row + 0.5) at
    the centre of pixel (row, col).
    """
    width, height = resolution
    f_px = focal_length / sensor_width * width
    return np.array([[f_px, 0.0, width / 2.0], [0.0, f_px, height / 2.0], [0.0, 0.0, 1.0]])


def ray_length_per_z(focal_length: float, sensor_width: float, resolution: tuple[int, int]) -> np.ndarray:
    """(H, W) length of the ray through each pixel centre per unit of camera-space depth (1 / cos
    of its angle to the optical axis): a ray-length depth divided by it is the camera z."""
    k = intrinsics(focal_length, sensor_width, resolution)
    width, height = resolution
    x = (np.arange(width) + 0.5 - k[0, 2]) / k[0, 0]
    y = (np.arange(height) + 0.5 - k[1, 2]) / k[1, 1]
    return np.sqrt(1.0 + x[None, :] ** 2 + y[:, None] ** 2)


def normalized_intrinsics(focal_length: float, sensor_width: float,
                          resolution: tuple[int, int]) -> np.ndarray:
    """Kubric's normalised K: maps a point in Blender's camera frame (x right, y up,
    looking down -z) to (u, v) in [0, 1] with (0, 0) the top-left image corner."""
    width, height = resolution
    sensor_height = sensor_width * height / width
    return np.array([[focal_length / sensor_width, 0.0, -0.5],
                     [0.0, -focal_length / sensor_height, -0.5],
                     [0.0, 0.0, -1.0]])


def world_to_local(points: ArrayLike, position: ArrayLike, quaternion: ArrayLike) -> np.ndarray:
    """World points into the frame at `position`, `quaternion` (the inverse of `transform_points`, unscaled)."""
    return (np.asarray(points, dtype=np.float64) - np.asarray(position, dtype=np.float64)) @ quat_to_matrix(quaternion)


def world_to_camera(points: ArrayLike, cam_position: ArrayLike, cam_quaternion: ArrayLike) -> np.ndarray:
    """World points to the OpenCV camera frame (x right, y down, z forward)."""
    r = quat_to_matrix(cam_quaternion)  # Blender camera-to-world rotation
    p_blender = (np.asarray(points, dtype=np.float64) - np.asarray(cam_position, dtype=np.float64)) @ r
    return p_blender * np.array([1.0, -1.0, -1.0])


def project(points: ArrayLike, cam_position: ArrayLike, cam_quaternion: ArrayLike,
            focal_length: float, sensor_width: float, resolution: tuple[int, int]) -> np.ndarray:
    """World points (...,3) to image coordinates (...,2) as (x, y) = (col, row) + 0.5
    at pixel centres, plus nothing else: callers check depth > 0 themselves with
    `world_to_camera`."""
    p = world_to_camera(points, cam_position, cam_quaternion)
    k = intrinsics(focal_length, sensor_width, resolution)
    uvw = p @ k.T
    return uvw[..., :2] / uvw[..., 2:3]


def image_rays(image_points: ArrayLike, cam_position: ArrayLike, cam_quaternion: ArrayLike, focal_length: float,
               sensor_width: float, resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit world directions (..., 3) of the rays through image points
    (..., 2) given as (x, y) = (col, row) + 0.5 at pixel centres."""
    xy = np.asarray(image_points, dtype=np.float64)
    k = intrinsics(focal_length, sensor_width, resolution)
    d_cv = np.stack([(xy[..., 0] - k[0, 2]) / k[0, 0], (xy[..., 1] - k[1, 2]) / k[1, 1],
                     np.ones(xy.shape[:-1])], -1)
    d_world = (d_cv * np.array([1.0, -1.0, -1.0])) @ quat_to_matrix(cam_quaternion).T
    d_world /= np.linalg.norm(d_world, axis=-1, keepdims=True)
    origins = np.broadcast_to(np.asarray(cam_position, dtype=np.float64), d_world.shape)
    return origins, d_world


def scene_flow_in_camera(forward: np.ndarray, backward: np.ndarray, depth: np.ndarray, camera_poses: np.ndarray,
                         focal_length: float, sensor_width: float,
                         resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The camera-frame scene flow (T, H, W, 3) float32, forward and backward, of the world-frame
    one: the point at `depth` along each pixel's ray in frame t, moved by it, in frame t+1's (t-1's)
    camera frame (OpenCV axes) minus in frame t's; `camera_poses` (T+2, 7): position, quaternion
    of frames -1..T. 0 where depth is not finite (nothing hit)."""
    t = len(depth)
    out_forward, out_backward = np.zeros(forward.shape, np.float32), np.zeros(backward.shape, np.float32)
    for f in range(t):
        position, quaternion = camera_poses[f + 1, :3], camera_poses[f + 1, 3:]
        seen = np.isfinite(depth[f])
        _, directions = pixel_rays(position, quaternion, focal_length, sensor_width, resolution)
        here = position + directions[seen] * depth[f][seen, None].astype(np.float64)
        here_camera = world_to_camera(here, position, quaternion)
        after, before = here + forward[f][seen], here - backward[f][seen]
        after_pose, before_pose = camera_poses[f + 2], camera_poses[f]
        out_forward[f][seen] = world_to_camera(after, after_pose[:3], after_pose[3:]) - here_camera
        out_backward[f][seen] = here_camera - world_to_camera(before, before_pose[:3], before_pose[3:])
    return out_forward, out_backward


def pixel_centres(resolution: tuple[int, int]) -> np.ndarray:
    """Image coordinates (H, W, 2) of all pixel centres, (x, y) = (col + 0.5, row + 0.5)."""
    width, height = resolution
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return np.stack([cols, rows], -1)


def pixel_rays(cam_position: ArrayLike, cam_quaternion: ArrayLike, focal_length: float,
               sensor_width: float, resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit world directions (H, W, 3) of the rays through pixel centres."""
    return image_rays(pixel_centres(resolution), cam_position, cam_quaternion, focal_length, sensor_width,
                      resolution)


def box_corners(bounds_min: ArrayLike, bounds_max: ArrayLike) -> np.ndarray:
    """The 8 corners (8,3) of an axis-aligned box, in a fixed order."""
    lo, hi = np.asarray(bounds_min, dtype=np.float64), np.asarray(bounds_max, dtype=np.float64)
    idx = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)])
    return np.where(idx == 1, hi, lo)



def correspondences(depth: ArrayLike, source: tuple[ArrayLike, ArrayLike, float, float],
                    target: tuple[ArrayLike, ArrayLike, float, float],
                    resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Where the surface point seen at each pixel of camera `source` lies in camera `target`'s
    image, at one frame.

    depth (H, W): the source camera's Euclidean depth (+inf = nothing seen); source, target:
    (position, quaternion, focal_length, sensor_width) of each camera at that frame. Returns
    (x, y) (H, W, 2) in the target image (NaN where nothing is seen or the point is behind the
    target camera) and the world points (H, W, 3) (inf where nothing is seen). One function
    for the ground truth and for readers, so both get the same numbers from the stored depth.
    """
    depth = np.asarray(depth, dtype=np.float64)
    origins, directions = pixel_rays(source[0], source[1], source[2], source[3], resolution)
    hit = np.isfinite(depth)
    points = np.full(depth.shape + (3,), np.inf)
    points[hit] = origins[hit] + directions[hit] * depth[hit, None]
    p = world_to_camera(points[hit], target[0], target[1])
    front = p[:, 2] > 1e-12
    xy = np.full(depth.shape + (2,), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        xy[hit] = np.where(front[:, None], (p @ intrinsics(target[2], target[3], resolution)[:2].T) / p[:, 2:3],
                           np.nan)
    return xy, points
