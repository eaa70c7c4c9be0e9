"""Ground truth across the cameras of one scene (`Scene.cameras`), from the same triangles.

- **Instances**: one order for every view (the objects seen by some camera, by their
  visibility summed over the cameras), so segmentation id k is the same object in each view.
- **Correspondences**: for each ordered pair of cameras (a, b) and frame t, where the surface
  point seen at each pixel of a lies in b's image (from a's depth: `geometry.correspondences`),
  and whether b sees it (off-screen, behind
  b or hidden by a nearer surface: occluded, with the tolerance of the flow's occlusion).
- **Disparity** (two cameras): x_a - x_b of each pixel's correspondence, i.e. focal_px *
  baseline / z for a parallel rig (`scene.rigs.stereo_rig`).
- **Tracks**: queries are surface points seen by some camera at some frame (spread evenly
  over cameras and frames, a visible object first, then one of its pixels); each is followed
  in every camera at every frame, with its occlusion there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kubric_gen import geometry
from kubric_gen.parallel import parallel_map
from kubric_gen.scene import Scene
from kubric_gen.simulation.parts import scene_parts
from kubric_gen.simulation.trajectory import Trajectory
from kubric_gen.truth.compute import _Frames, _sample_queries, _track_frame, with_instances
from kubric_gen.truth.raycast import SceneBVH
from kubric_gen.truth.result import CrossViewTruth, GroundTruth


def shared_instances(scene: Scene, truths: Sequence[GroundTruth]) -> list[GroundTruth]:
    """Each view's truth relabelled with the scene's one instance order (see module doc)."""
    totals: dict[str, int] = {}
    for truth in truths:
        for name, counts in zip(truth.instances, truth.visibility, strict=True):
            totals[name] = totals.get(name, 0) + int(np.sum(counts))
    position = {o.name: i for i, o in enumerate(scene.objects)}
    names = sorted(totals, key=lambda n: (-totals[n], position[n]))
    return [with_instances(scene, truth, names) for truth in truths]


def compute_cross_view(scene: Scene, trajectory: Trajectory, truths: Sequence[GroundTruth], num_tracks: int = 256,
                       threads: int = 0) -> CrossViewTruth:
    """The correspondences' occlusion masks and `num_tracks` multi-view tracks of a scene with
    several cameras, given each camera's `GroundTruth` (in `scene.views` order). The
    correspondences themselves follow from each view's depth (`geometry.correspondences`,
    `SceneDir.correspondences`): (C, C, T, H, W, 2) floats are not held, per frame they are."""
    views = [scene.view(cam.name) for cam in scene.views]
    if len(truths) != len(views):
        raise ValueError(f"{len(truths)} ground truths for {len(views)} cameras")
    bvh = SceneBVH([part.mesh for part in scene_parts(scene)])  # the parts' triangles, shared by the views
    frames = [_Frames(view, trajectory, bvh) for view in views]
    c_len, t_len = len(views), scene.num_frames
    depths = [truth.depth for truth in truths]
    occluded = np.ones((c_len, c_len, t_len) + depths[0].shape[1:], dtype=bool)

    def occlusion(job: tuple[int, int]) -> None:
        a, t = job
        hit = np.isfinite(depths[a][t])
        occluded[a, a, t] = ~hit
        for b in range(c_len):
            if b != a:
                xy, points = geometry.correspondences(depths[a][t], _lens(views[a], t), _lens(views[b], t),
                                                      scene.resolution)
                front = np.isfinite(xy[hit][:, 0])
                occluded[a, b, t][hit] = ~frames[b].visible_from(t, points[hit], np.nan_to_num(xy[hit]), front)

    parallel_map(occlusion, [(a, t) for a in range(c_len) for t in range(t_len)], threads)
    tracks = _tracks(scene, frames, truths, num_tracks, threads) if num_tracks > 0 else None
    return CrossViewTruth(cameras=[cam.name for cam in scene.views], correspondence_occluded=occluded,
                          **(tracks or {}))


def _lens(view: Scene, frame: int) -> tuple[tuple[float, ...], tuple[float, ...], float, float]:
    """(position, quaternion, focal_length, sensor_width) of a view's camera at `frame`, as
    `geometry.correspondences` takes them (and as the reader gets them from metadata.json)."""
    pose = view.camera.pose_at(frame)
    return pose.position, pose.quaternion, view.camera.focal_length, view.camera.sensor_width


def _tracks(scene: Scene, frames: list[_Frames], truths: Sequence[GroundTruth], num_tracks: int,
            threads: int) -> dict[str, np.ndarray]:
    c_len, t_len = len(frames), scene.num_frames
    width = scene.resolution[0]
    pairs = [(c, t) for c in range(c_len) for t in range(t_len)]

    def queries_of(k: int) -> tuple[np.ndarray, ...]:
        c, t = pairs[k]
        count = num_tracks // len(pairs) + (k < num_tracks % len(pairs))
        pixels = _sample_queries(scene, t, truths[c].object_index[t].reshape(-1), count, stream=(c + 1,))
        position, quaternion = frames[c].camera(t)
        directions = frames[c].pixel_directions[pixels] @ geometry.quat_to_matrix(quaternion).T
        hits = frames[c].bvh_at(t).cast(frames[c].poses(t), np.broadcast_to(position, directions.shape), directions)
        ids = np.stack([np.full(len(pixels), c), np.full(len(pixels), t), pixels], -1)
        world = position + directions * hits.distance[:, None]
        hit = hits.object >= 0
        hits.local[hit] = frames[c].rest_points(hits.object[hit], hits.face[hit], hits.bary[hit], hits.local[hit])
        return ids, world, hits.object, hits.face, hits.bary, hits.local

    found = [queries_of(k) for k in range(len(pairs))]
    ids = np.concatenate([q[0] for q in found]).astype(np.int64).reshape(-1, 3)
    world = np.concatenate([q[1] for q in found]).reshape(-1, 3)
    points = (np.concatenate([q[2] for q in found]), np.concatenate([q[3] for q in found]),
              np.concatenate([q[4] for q in found]).reshape(-1, 2),
              np.concatenate([q[5] for q in found]).reshape(-1, 3))
    objects = points[0]
    jobs = [(c, f) for c in range(c_len) for f in range(t_len)]
    per_job = parallel_map(lambda job: _track_frame(frames[job[0]], job[1], points), jobs, threads)
    target = np.zeros((c_len, len(objects), t_len, 2), dtype=np.float32)
    occluded = np.ones((c_len, len(objects), t_len), dtype=bool)
    for (c, f), (xy, hidden) in zip(jobs, per_job, strict=True):
        target[c, :, f] = xy
        occluded[c, :, f] = hidden
    rows, cols = ids[:, 2] // width + 0.5, ids[:, 2] % width + 0.5
    return {"query_points": np.stack([ids[:, 1], rows, cols], -1).astype(np.float32),
            "query_camera": ids[:, 0].astype(np.int32), "query_world": world.astype(np.float64),
            "query_object": np.asarray([scene.objects[i].name for i in frames[0].objects_of(objects)],
                                       dtype=str).reshape(-1),
            "target_points": target, "occluded": occluded}
