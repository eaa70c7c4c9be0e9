"""Ground truth for every frame from the scene's own triangles, poses and camera.

One ray per pixel centre finds the object, triangle and barycentrics of the
visible surface point; its local (object-space) position gives depth, normal,
object coordinates, its scene flow (the point moved with the object's pose to frames
t+1 and t-1, minus where it is) and, projected with those frames' cameras, the forward
and backward flow (MOVi's
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
from collections.abc import Callable
from typing import Any

import numpy as np

from kubric_gen import geometry
from kubric_gen.parallel import parallel_map
from kubric_gen.scene import ArticulatedObject, Scene
from kubric_gen.simulation.parts import (
    RIGID,
    has_links,
    part_links,
    part_objects,
    part_poses,
    part_vertices,
    scene_parts,
)
from kubric_gen.simulation.trajectory import Trajectory, camera_pose
from kubric_gen.truth.boundaries import occlusion_boundaries
from kubric_gen.truth.raycast import Poses, SceneBVH
from kubric_gen.truth.result import Amodal, GroundTruth, PointTracks, amodal_instances

log = logging.getLogger(__name__)

OCCLUSION_TOLERANCE = (1e-4, 1e-5)  # hidden if a surface is > 1e-4 * d + 1e-5 m in front
TRACK_SEED_SALT = 0x7472616B  # separates the track sampler's random stream from the world's
OFFSCREEN = -1.0  # track position written for frames where the point is behind the camera
BEYOND = 1.0  # truncation is measured on the image plane extended by this many image sizes past each border


def _present(objects: np.ndarray) -> np.ndarray:
    """The distinct non-negative values of an int array (faster than np.unique)."""
    return np.flatnonzero(np.bincount(objects[objects >= 0])) if (objects >= 0).any() else np.zeros(0, int)


class _Frames:
    """Camera and object poses of every frame -1..T, and the scene's BVHs (built once)."""

    def __init__(self, scene: Scene, trajectory: Trajectory, bvh: SceneBVH | None = None) -> None:
        self.scene = scene
        self.trajectory = trajectory
        # the ray caster's "objects" are the parts (parts.py); part_object maps them to the scene's
        self.parts = scene_parts(scene)
        self.part_object = np.append(part_objects(self.parts), -1)  # [-1]: no part -> no object
        self.part_link = np.append(part_links(self.parts), RIGID)
        self.bvh = bvh or SceneBVH([part.mesh for part in self.parts])
        self.scales = np.array([part.scale for part in self.parts], dtype=np.float64).reshape(-1, 3)
        self.bounds = np.array([part.mesh.bounds for part in self.parts], dtype=np.float64).reshape(-1, 2, 3)
        self.cam = scene.camera
        self.k = geometry.intrinsics(self.cam.focal_length, self.cam.sensor_width, scene.resolution)
        # unit directions through the pixel centres in the camera's own frame (Blender's axes)
        self.centres = geometry.pixel_centres(scene.resolution).reshape(-1, 2)
        _, self.pixel_directions = geometry.image_rays(self.centres, np.zeros(3), np.array([1.0, 0, 0, 0]),
                                                       self.cam.focal_length, self.cam.sensor_width,
                                                       scene.resolution)
        self._poses = {f: self._part_poses(f) for f in range(-1, scene.num_frames + 1)}
        # deforming parts: their vertices and a BVH of the scene per frame (the rigid parts' shared)
        self.rest = {k: part.mesh for k, part in enumerate(self.parts) if part.deforms}
        self.deforms = np.array([part.deforms for part in self.parts] + [False])
        self._vertices = {f: part_vertices(scene, trajectory, self.parts, f) for f in range(-1, scene.num_frames + 1)}
        self._bvhs = {f: self.bvh.deformed(self.rest, v) if v else self.bvh for f, v in self._vertices.items()}

    def bvh_at(self, frame: int) -> SceneBVH:
        """The scene's triangles at `frame` (the rigid parts' in their own frames)."""
        return self._bvhs[frame]

    def rest_points(self, parts: np.ndarray, faces: np.ndarray, bary: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Surface points (n, 3) in their part's own frame: `local` for posed parts, the same
        barycentrics on the rest mesh for deforming ones (a material point of the rest shape)."""
        return self._on_mesh(parts, faces, bary, local, lambda k: self.rest[k].vertices)

    def to_world(self, frame: int, parts: np.ndarray, faces: np.ndarray, bary: np.ndarray,
                 local: np.ndarray) -> np.ndarray:
        """World positions at `frame` of surface points: `local` (n, 3) moved by their part's pose,
        or, on a deforming part, the point with the same barycentrics on its triangle `faces`."""
        world = self.poses(frame).to_world(parts, local)
        return self._on_mesh(parts, faces, bary, world, lambda k: self._vertices[frame][k])

    def _on_mesh(self, parts: np.ndarray, faces: np.ndarray, bary: np.ndarray, points: np.ndarray,
                 vertices_of: Callable[[int], np.ndarray]) -> np.ndarray:
        deforming = np.flatnonzero(self.deforms[parts])
        if len(deforming) == 0:
            return points
        points = points.copy()
        for k in np.unique(parts[deforming]):
            rows = deforming[parts[deforming] == k]
            corners = np.asarray(vertices_of(k))[self.rest[k].faces[faces[rows] - self.bvh.first_face[k]]]
            u, v = bary[rows, 0:1], bary[rows, 1:2]
            points[rows] = (1 - u - v) * corners[:, 0] + u * corners[:, 1] + v * corners[:, 2]
        return points

    def _part_poses(self, frame: int) -> Poses:
        return Poses.of(*part_poses(self.scene, self.trajectory, self.parts, frame), self.scales)

    def camera(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        return camera_pose(self.scene, frame)

    def poses(self, frame: int) -> Poses:
        return self._poses[frame] if frame in self._poses else self._part_poses(frame)

    def objects_of(self, parts: np.ndarray) -> np.ndarray:
        """The scene object index of each part index (-1 stays -1)."""
        return self.part_object[parts]

    def objects_each(self, each: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Rays hitting each part -> rays hitting each object (its parts' together)."""
        out: dict[int, list[np.ndarray]] = {}
        for part, rays in each.items():
            out.setdefault(int(self.part_object[part]), []).append(rays)
        return {i: rays[0] if len(rays) == 1 else np.unique(np.concatenate(rays)) for i, rays in out.items()}

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
            ok[ok] = self.bvh_at(frame).visible(self.poses(frame), position, points[ok], OCCLUSION_TOLERANCE)
        return ok


def _layers_at(frames: _Frames, t: int, image_points: np.ndarray | None = None) -> dict[str, Any]:
    """Every layer at image points (n, 2) of frame t (default: every pixel centre); under "part"
    the part each ray hits (-1: none), "face" and "bary" the surface point on it, "local" that point
    in its part's frame (the rest shape's, for a deforming part), under "part_index" its link id, and
    under "each" every part's own hits (ray indices: its amodal mask)."""
    scene = frames.scene
    position, quaternion = frames.camera(t)
    if image_points is None:  # every pixel centre: rotate the cached directions
        image_points = frames.centres
        directions = frames.pixel_directions @ geometry.quat_to_matrix(quaternion).T
    else:
        _, directions = geometry.image_rays(image_points, position, quaternion, scene.camera.focal_length,
                                            scene.camera.sensor_width, scene.resolution)
    poses, bvh = frames.poses(t), frames.bvh_at(t)
    hits = bvh.cast(poses, position, directions)
    hit = np.flatnonzero(hits.object >= 0)
    objects = hits.object[hit]
    local, local_normals = hits.local, bvh.shading_normals(hits)
    local[hit] = frames.rest_points(objects, hits.face[hit], hits.bary[hit], local[hit])

    normal = np.zeros_like(local)
    n = _rotate(poses.rotation[objects], local_normals[hit] / frames.scales[objects])
    normal[hit] = n / np.linalg.norm(n, axis=1, keepdims=True)
    coords = np.zeros_like(local)
    lo, hi = frames.bounds[objects, 0], frames.bounds[objects, 1]
    coords[hit] = np.clip((local[hit] - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)

    out = {"object_index": frames.objects_of(hits.object), "depth": hits.distance, "normal": normal,
           "object_coordinates": coords, "local": local, "part": hits.object, "face": hits.face, "bary": hits.bary,
           "part_index": frames.part_link[hits.object], "each": hits.each}
    miss = np.flatnonzero(hits.object < 0)
    here = frames.to_world(t, objects, hits.face[hit], hits.bary[hit], local[hit])  # the points seen, at t
    for name, other in (("forward", t + 1), ("backward", t - 1)):
        xy = np.empty((len(hits.object), 2))
        front = np.empty(len(hits.object), dtype=bool)
        moved = frames.to_world(other, objects, hits.face[hit], hits.bary[hit], local[hit])
        scene_flow = np.zeros_like(local)  # backward: the motion t-1 -> t, as the backward flow's
        scene_flow[hit] = moved - here if name == "forward" else here - moved
        out[f"{name}_scene_flow"] = scene_flow
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


def _sphere_region(frames: _Frames, t: int, i: int) -> tuple[int, int, int, int]:
    """Column and row index ranges [c0, c1), [r0, r1) of the pixels of the extended image plane
    (`BEYOND`) whose rays may hit object i in frame t: those in the projection of a cube around
    its bounding sphere (the whole extended plane when that cube reaches behind the camera)."""
    width, height = frames.scene.resolution
    c_min, c_max, r_min, r_max = -int(BEYOND * width), int((1 + BEYOND) * width), -int(BEYOND * height), \
        int((1 + BEYOND) * height)
    poses = frames.poses(t)
    bvh = frames.bvh_at(t)
    centre = poses.rotation[i] @ (poses.scale[i] * bvh.centre[i]) + poses.position[i]
    radius = bvh.radius[i] * np.abs(poses.scale[i]).max() * (1 + 1e-6) + 1e-9
    position, quaternion = frames.camera(t)
    c = geometry.world_to_camera(centre[None], position, quaternion)[0]
    corners = c + radius * np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
    if corners[:, 2].min() <= 1e-9:
        return c_min, c_max, r_min, r_max
    xy = (corners @ frames.k[:2].T) / corners[:, 2:3]
    c0, r0 = np.ceil(xy.min(axis=0) - 0.5).astype(int)  # the pixel centres (index + 0.5) inside the box
    c1, r1 = np.floor(xy.max(axis=0) - 0.5).astype(int) + 1
    return max(c0, c_min), min(c1, c_max), max(r0, r_min), min(r1, r_max)


def _amodal_extent(frames: _Frames, t: int, each: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per object in frame t: its amodal pixels on the image plane extended by `BEYOND` image
    sizes past every border (the image's own included), and its unclipped amodal box there,
    [ymin, xmin, ymax, xmax] normalised by the image's size as MOVi's boxes are (NaN: none).
    Only the pixels outside the image are cast here (the image's own are `each`, per part);
    an object's pixels are those of its parts together."""
    scene = frames.scene
    width, height = scene.resolution
    n = len(scene.objects)
    total = np.zeros(n, dtype=np.int64)
    box = np.full((n, 4), np.nan)
    position, quaternion = frames.camera(t)
    pixels: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for k, part in enumerate(frames.parts):
        if scene.objects[part.object].is_background or frames.bvh.scenes[k] is None:
            continue
        inside = each.get(k, np.zeros(0, dtype=np.int64))
        rows, cols = inside // width, inside % width
        c0, c1, r0, r1 = _sphere_region(frames, t, k)
        if c0 < 0 or r0 < 0 or c1 > width or r1 > height:
            grid_c, grid_r = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
            outside = (grid_c < 0) | (grid_c >= width) | (grid_r < 0) | (grid_r >= height)
            grid_c, grid_r = grid_c[outside], grid_r[outside]
            if len(grid_c):
                _, directions = geometry.image_rays(np.stack([grid_c + 0.5, grid_r + 0.5], -1), position, quaternion,
                                                    scene.camera.focal_length, scene.camera.sensor_width,
                                                    scene.resolution)
                hit = frames.bvh_at(t).hits_object(k, frames.poses(t), np.asarray(position, dtype=np.float64),
                                                   directions)
                rows, cols = np.concatenate([rows, grid_r[hit]]), np.concatenate([cols, grid_c[hit]])
        pixels.setdefault(part.object, []).append((rows, cols))
    for i, found in pixels.items():
        rows, cols = (found[0] if len(found) == 1 else _distinct(found, width, height))
        total[i] = len(rows)
        if len(rows):
            box[i] = [rows.min() / height, cols.min() / width, (rows.max() + 1) / height, (cols.max() + 1) / width]
    return total, box


def _distinct(found: list[tuple[np.ndarray, np.ndarray]], width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (row, col) pixels of several parts (on the extended image plane)."""
    rows, cols = np.concatenate([r for r, _ in found]), np.concatenate([c for _, c in found])
    span_c = int(2 * (1 + BEYOND) * width + 2)
    key = np.unique((rows + int(BEYOND * height) + 1) * span_c + cols + int(BEYOND * width) + 1)
    return key // span_c - int(BEYOND * height) - 1, key % span_c - int(BEYOND * width) - 1


JUMP_BISECTIONS = 6  # a discontinuity's jump survives halving the interval this often; a surface's shrinks 64x


def _depth_jumps(frames: _Frames, t: int, pixels: np.ndarray, step: tuple[int, int], depth: np.ndarray,
                 object_index: np.ndarray) -> np.ndarray:
    """Whether the depth jumps between each pixel (n, 2: row, col) and its neighbour at +step
    (d_row, d_col) in frame t: bisecting the segment between their centres with rays, the half
    with the larger depth change is kept; a discontinuity keeps at least half its jump over the
    last 1/64 px, a continuous surface (however grazing, or kinked at an edge) does not. A ray
    on the way that hits nothing or another object also makes it a boundary."""
    scene = frames.scene
    position, quaternion = frames.camera(t)
    poses = frames.poses(t)
    start = pixels[:, ::-1] + 0.5  # (x, y) of the pixel centres
    delta = np.array(step[::-1], dtype=np.float64)
    d_a = depth[pixels[:, 0], pixels[:, 1]].astype(np.float64)
    d_b = depth[pixels[:, 0] + step[0], pixels[:, 1] + step[1]].astype(np.float64)
    jump = np.abs(d_b - d_a)
    own = object_index[pixels[:, 0], pixels[:, 1]]  # the object both pixels see
    lo, hi = np.zeros(len(pixels)), np.ones(len(pixels))
    elsewhere = np.zeros(len(pixels), dtype=bool)
    for _ in range(JUMP_BISECTIONS):
        mid = (lo + hi) / 2
        _, directions = geometry.image_rays(start + mid[:, None] * delta, position, quaternion,
                                            scene.camera.focal_length, scene.camera.sensor_width, scene.resolution)
        hits = frames.bvh_at(t).cast(poses, np.asarray(position, dtype=np.float64), directions)
        d_mid = hits.distance
        elsewhere |= frames.objects_of(hits.object) != own
        left = np.abs(d_mid - d_a) >= np.abs(d_b - d_mid)  # the larger change lies in [lo, mid]
        hi, d_b = np.where(left, mid, hi), np.where(left, d_mid, d_b)
        lo, d_a = np.where(left, lo, mid), np.where(left, d_a, d_mid)
    with np.errstate(invalid="ignore"):
        return elsewhere | (np.abs(d_b - d_a) > 0.5 * jump)


def _rotate(rotations: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return np.einsum("nij,nj->ni", rotations, vectors)


def flow_at(scene: Scene, trajectory: Trajectory, frame: int, image_points: np.ndarray) -> dict[str, np.ndarray]:
    """Ground truth at arbitrary image points (n, 2) = (x, y) of one frame (pixel
    centres are at +0.5): the same computation as the layers, off the pixel grid."""
    frames = _Frames(scene, trajectory)
    out = _layers_at(frames, frame, np.asarray(image_points, dtype=np.float64).reshape(-1, 2))
    for internal in ("local", "each", "face", "bary"):
        out.pop(internal)
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
    return _mask_bboxes(segmentation == k)


def _mask_bboxes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised [ymin, xmin, ymax, xmax] of a (T, H, W) mask in each frame where it has pixels."""
    t, height, width = mask.shape
    boxes, frames = [], []
    for f in range(t):
        rows, cols = np.nonzero(mask[f])
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


def _track_frame(frames: _Frames, f: int, points: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 2) and occlusion (N,) in frame f of surface points (parts, faces, bary, local)."""
    world = frames.to_world(f, *points)
    xy, front = frames.project(f, world)
    return xy, ~frames.visible_from(f, world, xy, front)


LAYER_TYPES = {  # name: (channels, dtype) of the per-frame layers
    "object_index": (0, np.int32), "depth": (0, np.float32), "normal": (3, np.float32),
    "object_coordinates": (3, np.float32), "forward_flow": (2, np.float32), "backward_flow": (2, np.float32),
    "forward_flow_occlusion": (0, bool), "backward_flow_occlusion": (0, bool),
    "forward_scene_flow": (3, np.float32), "backward_scene_flow": (3, np.float32),
    "occlusion_boundaries": (0, np.uint8),
}


def compute_ground_truth(scene: Scene, trajectory: Trajectory, num_tracks: int = 256,
                         threads: int = 0, amodal: bool = True) -> GroundTruth:
    """Every layer for frames 0..T-1, instances, boxes, visibility, `num_tracks` point
    tracks (queries spread evenly over the frames) and, with `amodal`, every instance's amodal
    masks, fractions and boxes (`AmodalInstances`).

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
    queries: list = [None] * t  # per frame: (frame, pixel) ids, parts, faces, barycentrics, local points
    n = len(scene.objects) if amodal else 0
    masks = np.zeros((n, t, height * width), dtype=bool)  # each object's own hits, others ignored
    amodal_total = np.zeros((n, t), dtype=np.int64)
    amodal_unclipped = np.full((n, t, 4), np.nan)
    part_index = np.zeros((t, height * width), dtype=np.uint8) if has_links(scene) else None

    def layers_of(f: int) -> None:
        frame = _layers_at(frames, f)
        position, quaternion = frames.camera(f)
        directions = frames.pixel_directions @ geometry.quat_to_matrix(quaternion).T
        depth, seen = frame["depth"].reshape(height, width), frame["object_index"].reshape(height, width)
        frame["occlusion_boundaries"] = occlusion_boundaries(
            seen[None], depth[None], frame["normal"].reshape(1, height, width, 3),
            np.asarray(position, dtype=np.float64)[None], directions.reshape(1, height, width, 3),
            lambda pixels, d_row, d_col: _depth_jumps(frames, f, pixels[:, 1:], (d_row, d_col), depth, seen),
        ).reshape(-1)
        if amodal:
            for i, rays in frames.objects_each(frame["each"]).items():
                if not scene.objects[i].is_background:
                    masks[i, f, rays] = True
            amodal_total[:, f], amodal_unclipped[:, f] = _amodal_extent(frames, f, frame["each"])
        pixels = _sample_queries(scene, f, frame["object_index"], num_tracks // t + (f < num_tracks % t))
        queries[f] = (np.stack([np.full(len(pixels), f), pixels], -1), frame["part"][pixels], frame["face"][pixels],
                      frame["bary"][pixels], frame["local"][pixels])
        if part_index is not None:
            part_index[f] = frame["part_index"]
        for name in LAYER_TYPES:
            out[name][f] = frame[name]

    parallel_map(layers_of, range(t), threads)
    layers_done = time.perf_counter()
    tracks = None
    if num_tracks > 0:
        ids = np.concatenate([q[0] for q in queries]).astype(np.int64)
        points = tuple(np.concatenate([q[k] for q in queries]) for k in range(1, 5))
        per_frame = parallel_map(lambda f: _track_frame(frames, f, points), range(t), threads)
        target = np.stack([xy for xy, _ in per_frame], axis=1)
        occluded = np.stack([o for _, o in per_frame], axis=1)
        query_points = np.stack([ids[:, 0], ids[:, 1] // width + 0.5, ids[:, 1] % width + 0.5], -1)
        tracks = PointTracks(query_points.astype(np.float32), target.astype(np.float32), occluded)
    tracks_done = time.perf_counter()
    layers: dict[str, Any] = {name: value.reshape((t, height, width) + value.shape[2:]) for name, value in out.items()}
    order, visibility = _instances(scene, layers["object_index"])
    amodal_objects = Amodal(masks.reshape(n, t, height, width), amodal_total, amodal_unclipped) if amodal else None
    cameras = np.array([np.r_[frames.camera(f)[0], frames.camera(f)[1]] for f in range(-1, t + 1)], dtype=np.float64)
    return GroundTruth(
        tracks=tracks,
        timings={"layers": layers_done - start, "tracks": tracks_done - layers_done,
                 "annotations": time.perf_counter() - tracks_done},
        amodal_objects=amodal_objects,
        camera_poses=cameras,
        part_index=None if part_index is None else part_index.reshape(t, height, width),
        link_bboxes=None if part_index is None else _link_bboxes(scene, layers["object_index"],
                                                                 part_index.reshape(t, height, width)),
        **_annotations(scene, layers["object_index"], order, visibility, amodal_objects),
        **layers,
    )


def _link_bboxes(scene: Scene, object_index: np.ndarray, part_index: np.ndarray) -> dict[str, list]:
    """Per articulated object (by name), per URDF link: its visible boxes and their frames."""
    out = {}
    for i, obj in enumerate(scene.objects):
        if isinstance(obj, ArticulatedObject):
            mine = object_index == i
            out[obj.name] = [_mask_bboxes(mine & (part_index == link + 1)) for link in range(len(obj.robot.links))]
    return out


def _annotations(scene: Scene, object_index: np.ndarray, order: list[int], visibility: np.ndarray,
                 amodal: Amodal | None = None) -> dict[str, Any]:
    """Segmentation, instances, visibility and boxes for the instances `order` (scene indices),
    and, given each object's amodal masks, the instances' (`AmodalInstances`)."""
    lookup = np.zeros(len(scene.objects) + 1, dtype=np.int32)  # object index + 1 -> segmentation id
    for k, i in enumerate(order):
        lookup[i + 1] = k + 1
    segmentation = lookup[object_index + 1]
    boxes = [_bboxes(segmentation, k + 1) for k in range(len(order))]
    return {"segmentation": segmentation, "instances": [scene.objects[i].name for i in order],
            "visibility": visibility, "bboxes": [b for b, _ in boxes], "bbox_frames": [f for _, f in boxes],
            "amodal": None if amodal is None else amodal_instances(amodal, order, visibility)}


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
    return dataclasses.replace(truth, **_annotations(scene, truth.object_index, order, visibility,
                                                     truth.amodal_objects))
