"""Ground truth for every frame from the scene's own triangles, poses and camera.

One ray per pixel centre finds the object, triangle and barycentrics of the
visible surface point; its local (object-space) position gives depth, normal,
object coordinates and, moved with the object's pose to frames t+1 and t-1 and
projected with those frames' cameras, the forward and backward flow (MOVi's
convention, as Kubric writes it: forward flow is the motion t -> t+1 of the point seen at
the pixel in frame t, backward flow its motion t-1 -> t, so for a steady motion the two
are equal). Occlusion
(of flow and of point tracks) is a ray from the other frame's camera to the
moved point: the point is hidden when a surface lies more than
OCCLUSION_TOLERANCE = (relative, absolute) in front of it.

Pixels that hit nothing look at infinity: their flow is the motion of that
direction under the camera's rotation alone.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np

from kubric_gen import geometry, meshes
from kubric_gen.parallel import parallel_map
from kubric_gen.scene import Scene
from kubric_gen.simulation.trajectory import Trajectory, camera_pose
from kubric_gen.truth.raycast import Poses, SceneBVH
from kubric_gen.truth.result import GroundTruth, PointTracks

log = logging.getLogger(__name__)

OCCLUSION_TOLERANCE = (1e-4, 1e-5)  # hidden if a surface is > 1e-4 * d + 1e-5 m in front
TRACK_SEED_SALT = 0x7472616B  # separates the track sampler's random stream from the world's
OFFSCREEN = -1.0  # track position written for frames where the point is behind the camera


def _present(objects: np.ndarray) -> np.ndarray:
    """The distinct non-negative values of an int array (faster than np.unique)."""
    return np.flatnonzero(np.bincount(objects[objects >= 0])) if (objects >= 0).any() else np.zeros(0, int)


class _Frames:
    """Camera and object poses of every frame -1..T, and the scene's BVHs (built once)."""

    def __init__(self, scene: Scene, trajectory: Trajectory, bvh: SceneBVH | None = None) -> None:
        self.scene = scene
        self.trajectory = trajectory
        self.bvh = bvh or SceneBVH([meshes.object_mesh(o) for o in scene.objects])
        self.scales = np.array([o.scale for o in scene.objects], dtype=np.float64).reshape(-1, 3)
        self.bounds = np.array([meshes.local_bounds(o) for o in scene.objects]).reshape(-1, 2, 3)
        self.cam = scene.camera
        self.k = geometry.intrinsics(self.cam.focal_length, self.cam.sensor_width, scene.resolution)
        # unit directions through the pixel centres in the camera's own frame (Blender's axes)
        self.centres = geometry.pixel_centres(scene.resolution).reshape(-1, 2)
        _, self.pixel_directions = geometry.image_rays(self.centres, np.zeros(3), np.array([1.0, 0, 0, 0]),
                                                       self.cam.focal_length, self.cam.sensor_width,
                                                       scene.resolution)
        self._poses = {f: Poses.of(*trajectory.poses_at(f), self.scales) for f in range(-1, scene.num_frames + 1)}

    def camera(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        return camera_pose(self.scene, frame)

    def poses(self, frame: int) -> Poses:
        return self._poses[frame] if frame in self._poses else Poses.of(*self.trajectory.poses_at(frame), self.scales)

    def project(self, frame: int, points: np.ndarray, at_infinity: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Image (x, y) of world points (or directions) in `frame`, and whether in front."""
        position, quaternion = self.camera(frame)
        origin = position if not at_infinity else np.zeros(3)
        p = geometry.world_to_camera(points, origin, quaternion)
        front = p[:, 2] > 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = np.where(front[:, None], (p @ self.k[:2].T) / p[:, 2:3], OFFSCREEN)
        return xy, front

    def visible_from(self, frame: int, points: np.ndarray, xy: np.ndarray, front: np.ndarray) -> np.ndarray:
        """On screen, in front of the camera and not hidden by a nearer surface."""
        width, height = self.scene.resolution
        ok = front & (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
        if ok.any():
            position, _ = self.camera(frame)
            ok[ok] = self.bvh.visible(self.poses(frame), position, points[ok], OCCLUSION_TOLERANCE)
        return ok


def _layers_at(frames: _Frames, t: int, image_points: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every layer at image points (n, 2) of frame t (default: every pixel centre)."""
    scene = frames.scene
    position, quaternion = frames.camera(t)
    if image_points is None:  # every pixel centre: rotate the cached directions
        image_points = frames.centres
        directions = frames.pixel_directions @ geometry.quat_to_matrix(quaternion).T
    else:
        _, directions = geometry.image_rays(image_points, position, quaternion, scene.camera.focal_length,
                                            scene.camera.sensor_width, scene.resolution)
    poses = frames.poses(t)
    hits = frames.bvh.cast(poses, position, directions)
    hit = np.flatnonzero(hits.object >= 0)
    objects = hits.object[hit]
    local, local_normals = hits.local, frames.bvh.shading_normals(hits)

    normal = np.zeros_like(local)
    n = _rotate(poses.rotation[objects], local_normals[hit] / frames.scales[objects])
    normal[hit] = n / np.linalg.norm(n, axis=1, keepdims=True)
    coords = np.zeros_like(local)
    lo, hi = frames.bounds[objects, 0], frames.bounds[objects, 1]
    coords[hit] = np.clip((local[hit] - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)

    out = {"object_index": hits.object, "depth": hits.distance, "normal": normal, "object_coordinates": coords,
           "local": local}
    miss = np.flatnonzero(hits.object < 0)
    for name, other in (("forward", t + 1), ("backward", t - 1)):
        xy = np.empty((len(hits.object), 2))
        front = np.empty(len(hits.object), dtype=bool)
        moved = frames.poses(other).to_world(objects, local[hit])
        xy[hit], front[hit] = frames.project(other, moved)
        xy[miss], front[miss] = frames.project(other, directions[miss], at_infinity=True)
        visible = np.zeros(len(hits.object), dtype=bool)
        visible[hit] = frames.visible_from(other, moved, xy[hit], front[hit])
        if len(miss):  # a direction at infinity is seen unless a surface lies along it
            far = frames.camera(other)[0] + directions[miss] * 1e12
            visible[miss] = frames.visible_from(other, far, xy[miss], front[miss])
        flow = np.where(front[:, None], (xy - image_points)[:, ::-1], 0.0)  # (d_row, d_col); 0 behind the camera
        if name == "backward":
            flow = -flow  # MOVi's backward flow: the motion from t-1 to t, not from t to t-1
        out[f"{name}_flow"] = flow
        out[f"{name}_flow_occlusion"] = ~visible
    return out


def _rotate(rotations: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nj->ni", rotations, vectors)


def flow_at(scene: Scene, trajectory: Trajectory, frame: int, image_points: np.ndarray) -> dict[str, np.ndarray]:
    """Ground truth at arbitrary image points (n, 2) = (x, y) of one frame (pixel
    centres are at +0.5): the same computation as the layers, off the pixel grid."""
    frames = _Frames(scene, trajectory)
    out = _layers_at(frames, frame, np.asarray(image_points, dtype=np.float64).reshape(-1, 2))
    out.pop("local")
    return out


def _instances(scene: Scene, object_index: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Visible non-background objects by total visibility, and their counts (K, T)."""
    n, t = len(scene.objects), object_index.shape[0]
    counts = np.zeros((n, t), dtype=np.int64)
    for f in range(t):
        seen = object_index[f][object_index[f] >= 0]
        counts[:, f] = np.bincount(seen, minlength=n)[:n]
    candidates = [i for i, o in enumerate(scene.objects) if not o.is_background and counts[i].sum() > 0]
    order = sorted(candidates, key=lambda i: (-counts[i].sum(), i))
    return order, counts[order]


def _bboxes(segmentation: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised [ymin, xmin, ymax, xmax] of instance k in each frame where visible."""
    t, height, width = segmentation.shape
    boxes, frames = [], []
    for f in range(t):
        rows, cols = np.nonzero(segmentation[f] == k)
        if len(rows):
            boxes.append([rows.min() / height, cols.min() / width, (rows.max() + 1) / height,
                          (cols.max() + 1) / width])
            frames.append(f)
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4), np.asarray(frames, dtype=np.int32)


def _sample_queries(scene: Scene, frame: int, object_index: np.ndarray, count: int,
                    stream: tuple[int, ...] = ()) -> np.ndarray:
    """Flat pixel indices of `count` queries in one frame: a visible object (background
    included) uniformly, then one of its pixels uniformly. Seeded per scene, `stream` and frame."""
    rng = np.random.default_rng([scene.seed or 0, TRACK_SEED_SALT, *stream, frame])
    order = np.argsort(object_index, kind="stable")
    ids, starts, counts = np.unique(object_index[order], return_index=True, return_counts=True)
    keep = ids >= 0
    starts, counts = starts[keep], counts[keep]
    if len(starts) == 0 or count == 0:
        return np.zeros(0, dtype=np.int64)
    which = rng.integers(len(starts), size=count)
    return order[starts[which] + rng.integers(counts[which])]


def _track_frame(frames: _Frames, f: int, objects: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 2) and occlusion (N,) in frame f of local surface points on `objects`."""
    world = frames.poses(f).to_world(objects, local)
    xy, front = frames.project(f, world)
    return xy, ~frames.visible_from(f, world, xy, front)


LAYER_TYPES = {  # name: (channels, dtype) of the per-frame layers
    "object_index": (0, np.int32), "depth": (0, np.float32), "normal": (3, np.float32),
    "object_coordinates": (3, np.float32), "forward_flow": (2, np.float32), "backward_flow": (2, np.float32),
    "forward_flow_occlusion": (0, bool), "backward_flow_occlusion": (0, bool),
}


def compute_ground_truth(scene: Scene, trajectory: Trajectory, num_tracks: int = 256,
                         threads: int = 0) -> GroundTruth:
    """Every layer for frames 0..T-1, instances, boxes, visibility and `num_tracks` point
    tracks (queries spread evenly over the frames).

    Frames are computed by `threads` threads at once (0: one per usable core); Embree and
    numpy release the GIL, and each frame's result is independent of the others, so the
    output is the same for any number of threads.
    """
    start = time.perf_counter()
    frames = _Frames(scene, trajectory)
    width, height = scene.resolution
    t = scene.num_frames
    out = {name: np.zeros((t, height * width) + ((c,) if c else ()), dtype=dtype)
           for name, (c, dtype) in LAYER_TYPES.items()}  # filled frame by frame: no float64 copies kept
    queries: list = [None] * t  # per frame: (frame, pixel) ids, objects, local points

    def layers_of(f: int) -> None:
        frame = _layers_at(frames, f)
        pixels = _sample_queries(scene, f, frame["object_index"], num_tracks // t + (f < num_tracks % t))
        queries[f] = (np.stack([np.full(len(pixels), f), pixels], -1), frame["object_index"][pixels],
                      frame["local"][pixels])
        for name in LAYER_TYPES:
            out[name][f] = frame[name]

    parallel_map(layers_of, range(t), threads)
    layers_done = time.perf_counter()
    tracks = None
    if num_tracks > 0:
        ids = np.concatenate([q[0] for q in queries]).astype(np.int64)
        objects = np.concatenate([q[1] for q in queries])
        local = np.concatenate([q[2] for q in queries])
        per_frame = parallel_map(lambda f: _track_frame(frames, f, objects, local), range(t), threads)
        target = np.stack([xy for xy, _ in per_frame], axis=1)
        occluded = np.stack([o for _, o in per_frame], axis=1)
        query_points = np.stack([ids[:, 0], ids[:, 1] // width + 0.5, ids[:, 1] % width + 0.5], -1)
        tracks = PointTracks(query_points.astype(np.float32), target.astype(np.float32), occluded)
    tracks_done = time.perf_counter()
    layers: dict[str, Any] = {name: value.reshape((t, height, width) + value.shape[2:]) for name, value in out.items()}
    order, visibility = _instances(scene, layers["object_index"])
    return GroundTruth(
        tracks=tracks,
        timings={"layers": layers_done - start, "tracks": tracks_done - layers_done,
                 "annotations": time.perf_counter() - tracks_done},
        **_annotations(scene, layers["object_index"], order, visibility),
        **layers,
    )


def _annotations(scene: Scene, object_index: np.ndarray, order: list[int], visibility: np.ndarray) -> dict[str, Any]:
    """Segmentation, instances, visibility and boxes for the instances `order` (scene indices)."""
    lookup = np.zeros(len(scene.objects) + 1, dtype=np.int32)  # object index + 1 -> segmentation id
    for k, i in enumerate(order):
        lookup[i + 1] = k + 1
    segmentation = lookup[object_index + 1]
    boxes = [_bboxes(segmentation, k + 1) for k in range(len(order))]
    return {"segmentation": segmentation, "instances": [scene.objects[i].name for i in order],
            "visibility": visibility, "bboxes": [b for b, _ in boxes], "bbox_frames": [f for _, f in boxes]}


def with_instances(scene: Scene, truth: GroundTruth, names: list[str]) -> GroundTruth:
    """`truth` with the instances `names` in that order (e.g. those of every view of a
    scene, so that an id means the same object in each); one never seen here has zero
    visibility and no boxes."""
    index = {o.name: i for i, o in enumerate(scene.objects)}
    order = [index[n] for n in names]
    t = truth.object_index.shape[0]
    counts = np.stack([np.bincount(truth.object_index[f][truth.object_index[f] >= 0], minlength=len(index))
                       for f in range(t)], axis=1)
    visibility = counts[order] if order else np.zeros((0, t), dtype=np.int64)
    return dataclasses.replace(truth, **_annotations(scene, truth.object_index, order, visibility))
