"""Checks of a scene with several cameras (a folder of views, `SceneDir.is_multiview`).

It is checked view by view with every check of `view.py` (files named
``view_<camera>/...``; "never visible" is judged over all the cameras, as an instance may be
seen by one camera only), then as a rig:

- listing: scene.json, cross_view.npz and every view folder that metadata.json's ``views`` lists.
- integrity: every file the rig's `_COMPLETE` lists, the views' (``view_<camera>/<file>``) included.
- metadata: MOVi's shapes (instances without the per-view fields); ``cameras``, one per view,
  named as its folder, with poses; ``camera`` is ``cameras[0]``; num_cameras; ``rig.baselines``
  are the cameras' distances at frame 0.
- views: scene.json's cameras are the views; each view has metadata.json's frames, resolution,
  its camera from ``cameras``, and the same instances in the same order (a segmentation id is
  one object in every view), moving the same.
- cross_view: cross_view.npz holds the arrays readers know, shaped by (C, N, T, H, W), finite,
  queries in their camera's frames and image, on objects of the scene.
- correspondences: correspondence_occluded is false on each camera's own seen pixels and true
  where a pixel sees nothing or the point is behind or off camera b's image; sampled points
  marked visible in b are seen by b.
- tracks: every multi-view track is at its query pixel, visible and on its object there, and
  query_world is the surface point the depth puts there; every position is query_world moved
  with its object and projected; visible points lie on the image and are seen there.

"Seen" (correspondences, tracks) is judged from camera b's depth and segmentation, an honest
test only at pixel resolution: a point marked visible must have its object's id in the 3x3
pixels around it, and not every pixel whose centre surrounds it may see a surface more than
SEEN_DEPTH_PX pixel footprints (+ 1e-4 of the distance) nearer. At object edges of small
images a correct point can fail it, so a scene fails only when more than SEEN_ALLOWED
(2 % + 3) of the visible points do; measured on multiview and stereo scenes at 32x32 to 64x64,
at most 0.7 % of track points and 0.3 % of correspondence samples do, while marking every
hidden on-screen point visible makes 7-22 % of the visible points of those multiview scenes
fail (a quarter or more of the points so flipped). Positions are exact to TRACK_TOLERANCE_PX (+
TRACK_RELATIVE_TOLERANCE of |xy|, for float32 points far off-screen); measured below 1e-3 px.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import KubricGenError
from kubric_gen.io import format as fmt
from kubric_gen.io.reader import SceneDir
from kubric_gen.io.validate.view import (
    NEVER_VISIBLE,
    Problem,
    _array,
    _check_quaternions,
    _Found,
    _labels,
    _metadata_shapes,
    _non_finite,
    _poses,
    _problem,
    _unique,
    check_view,
)

TRACK_TOLERANCE_PX = 0.01
TRACK_RELATIVE_TOLERANCE = 1e-5  # of |(x, y)|: float32 positions of points projected far off-screen
WORLD_TOLERANCE = (1e-5, 1e-6)  # query_world against the query pixel's depth: (relative to the distance, metres)
POSE_TOLERANCE = 1e-6  # a view's camera and instance poses against metadata.json's (metres, quaternion units)
OFFSCREEN_MARGIN_PX = 1e-3  # points this close to the image border may be either on- or off-screen
SEEN_DEPTH_PX = 2.0  # a visible point is hidden if all four pixels around it see a surface this many footprints nearer
SEEN_ALLOWED = (0.02, 3)  # (fraction, count) of visible points that may look unseen: pixel-edge cases
CORRESPONDENCE_SAMPLES = 1024  # pixels per camera and frame checked against every other camera


class _Camera:
    """One view's camera (poses from its metadata.json), for projecting and casting rays."""

    def __init__(self, cam: dict, t: int, resolution: tuple[int, int]) -> None:
        poses = _poses(cam, t)
        if poses is None:
            raise _Found
        self.positions, self.quaternions = poses
        self.focal_length, self.sensor_width = float(cam["focal_length"]), float(cam["sensor_width"])
        self.resolution = resolution

    def project(self, t: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) (N, 2) and depth along the optical axis z (N,) of world points at frame t."""
        z = geometry.world_to_camera(points, self.positions[t], self.quaternions[t])[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = geometry.project(points, self.positions[t], self.quaternions[t], self.focal_length,
                                  self.sensor_width, self.resolution)
        return xy, z

    def surface(self, t: int, xy: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """World points (N, 3) at `depth` metres along the rays through image points xy (N, 2)."""
        origins, directions = geometry.image_rays(xy, self.positions[t], self.quaternions[t], self.focal_length,
                                                  self.sensor_width, self.resolution)
        return origins + directions * depth[:, None]

    def footprint(self, distance: np.ndarray) -> np.ndarray:
        """The width (m) of one pixel at `distance` metres (near the image centre)."""
        return distance * self.sensor_width / (self.focal_length * self.resolution[0])


class _Rig:
    """What the checks of a scene with several cameras share (each file read once)."""

    def __init__(self, sd: SceneDir) -> None:
        self.sd = sd
        self.views = sd.views
        self.cameras = [v.name[len(fmt.VIEW_PREFIX):] for v in self.views]
        self.present = [v for v in self.views if v.name in sd.files]
        self.arrays: dict[str, np.ndarray] | None = None  # cross_view.npz, once its shapes hold
        self.tracks = False  # cross_view.npz holds multi-view tracks of the right shapes

    @cached_property
    def scene_json(self) -> dict | None:
        if fmt.SCENE not in self.sd.files:
            return None
        try:
            data = json.loads(self.sd.read_bytes(fmt.SCENE))
        except (ValueError, UnicodeDecodeError) as e:
            raise KubricGenError(f"{fmt.SCENE} is not valid JSON ({e})") from None
        return data if isinstance(data, dict) else None

    def layers(self, name: str) -> list[np.ndarray]:
        """One decoded layer of every view (_Found when a view lacks it: already reported)."""
        if len(self.present) < len(self.views):
            raise _Found
        try:
            return [view.layer(name) for view in self.views]
        except KubricGenError:
            raise _Found from None

    @cached_property
    def view_cameras(self) -> list[_Camera]:
        try:
            return [_Camera(v.metadata["camera"], self.sd.num_frames, self.sd.resolution) for v in self.views]
        except (KubricGenError, KeyError, TypeError, ValueError):
            raise _Found from None


def _in_view(view: str, p: Problem) -> Problem:
    return Problem(view if p.file == "." else f"{view}/{p.file}", p.check, p.message, p.severity)


def check_rig(sd: SceneDir, problems: list[Problem]) -> list[Problem]:
    """A scene with several cameras: every view as a scene directory of its own (its
    never-visible warnings left to the rig, as an instance may be seen by one camera only),
    then the rig's own files."""
    try:
        rig = _Rig(sd)
    except KubricGenError as e:
        problems.append(_problem(str(e), "listing"))
        return _unique(problems)
    if not rig.views:
        problems.append(Problem(fmt.METADATA, "listing", "views is empty (a scene with several cameras lists their "
                                                         "folders)"))
        return _unique(problems)
    for view in rig.views:
        if view not in rig.present:
            problems.append(Problem(view.name, "listing", f"missing: {fmt.METADATA} lists {view.name} in views"))
            continue
        reader = SceneDir(view.path)  # dropped after its checks: one view's decoded layers in memory at a time
        problems += [_in_view(view.name, p) for p in check_view(reader)
                     if not (p.check == "segmentation" and p.message.endswith(NEVER_VISIBLE))]
        _listed_files(rig, view.name, reader, problems)  # while its bytes are read
    for name in (fmt.SCENE, fmt.CROSS_VIEW):
        if name not in sd.files:
            problems.append(Problem(name, "listing", f"{name} is missing"))
    for name in sorted(n for n in sd.files if n.startswith(fmt.VIEW_PREFIX) and n not in {v.name for v in rig.views}):
        problems.append(Problem(name, "listing", f"not one of {fmt.METADATA}'s views {[v.name for v in rig.views]}",
                                "warning"))
    checks: list[Callable[[_Rig, list[Problem]], None]] = [
        _rig_integrity, _rig_finite, _rig_metadata, _rig_views, _rig_labels, _rig_visibility, _cross_view,
        _correspondences, _cross_view_tracks]
    for check in checks:
        try:
            check(rig, problems)
        except _Found:
            pass
        except KubricGenError as e:
            problems.append(_problem(str(e), check.__name__.lstrip("_").removeprefix("rig_")))
    return _unique(problems)


def _marker_files(sd: SceneDir) -> dict[str, Any] | None:
    """{name: SHA-256} of the rig's _COMPLETE (None where there is none or it is malformed)."""
    marker = sd.marker
    files = marker.get("files") if isinstance(marker, dict) else None
    return files if isinstance(files, dict) else None


def _listed_files(rig: _Rig, folder: str, owner: SceneDir, problems: list[Problem]) -> None:
    """The rig's _COMPLETE entries in `folder` ("" for the rig's own files) against `owner`'s files."""
    files = _marker_files(rig.sd)
    for name, sha in sorted((files or {}).items()):
        where, _, file = name.rpartition("/")
        if where != folder:
            continue
        try:
            present = file in owner.files
        except KubricGenError:
            present = False
        if not present:
            problems.append(Problem(name, "integrity", f"listed in {fmt.COMPLETE} but missing"))
        elif isinstance(sha, str) and owner.file_sha256(file) != sha:
            problems.append(Problem(name, "integrity", f"changed since the scene was written (SHA-256 differs "
                                                       f"from {fmt.COMPLETE}'s)"))


def _rig_integrity(rig: _Rig, problems: list[Problem]) -> None:
    """The rig's _COMPLETE lists its own files and every view's (view_<camera>/<file>; those of
    the views present are checked with each view)."""
    sd = rig.sd
    if sd.marker is None:
        return
    files = _marker_files(sd)
    if files is None:
        problems.append(Problem(fmt.COMPLETE, "integrity", "malformed: no file list with hashes"))
        return
    _listed_files(rig, "", sd, problems)
    views = {v.name for v in rig.present}
    absent: dict[str, int] = {}
    for folder in sorted({name.rpartition("/")[0] for name in files} - views - {""}):
        if folder in sd.files:  # a folder that is not a view (any more)
            _listed_files(rig, folder, SceneDir(f"{sd.path.rstrip('/')}/{folder}"), problems)
        else:
            absent[folder] = sum(name.rpartition("/")[0] == folder for name in files)
    for folder, count in absent.items():
        problems.append(Problem(folder, "integrity", f"missing: {count} files in it are listed in {fmt.COMPLETE}"))


def _rig_finite(rig: _Rig, problems: list[Problem]) -> None:
    bad = list(_non_finite(rig.sd.metadata, ""))
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        problems.append(Problem(fmt.METADATA, "finite", f"{bad[0]}{more}: NaN and infinity are not data"))


def _rig_metadata(rig: _Rig, problems: list[Problem]) -> None:
    """MOVi's shapes (without the per-view instance fields), `cameras`, `views` and `rig`."""
    sd = rig.sd
    _metadata_shapes(sd, problems, per_view=False)
    meta, t, c_len = sd.metadata, sd.num_frames, len(rig.views)

    def problem(message: str) -> None:
        problems.append(Problem(fmt.METADATA, "metadata", message))

    if meta["metadata"].get("num_cameras") != c_len:
        problem(f"metadata.num_cameras is {meta['metadata'].get('num_cameras')!r} but {c_len} views are listed")
    cameras = meta.get("cameras")
    if not isinstance(cameras, list) or len(cameras) != c_len or not all(isinstance(c, dict) for c in cameras):
        problem(f"cameras must be a list of {c_len} objects, one per view")
        return
    for i, (cam, view) in enumerate(zip(cameras, rig.views, strict=True)):
        if fmt.view_directory(str(cam.get("name"))) != view.name or cam.get("directory") != view.name:
            problem(f"cameras[{i}] is named {cam.get('name')!r} with directory {cam.get('directory')!r}, but "
                    f"views[{i}] is {view.name!r}")
        for key in ("focal_length", "sensor_width"):
            if not isinstance(cam.get(key), (int, float)) or not cam[key] > 0:
                problem(f"cameras[{i}].{key} must be a positive number (got {cam.get(key)!r})")
        _array(cam.get("positions"), (t, 3), f"cameras[{i}].positions", problems)
        _check_quaternions(_array(cam.get("quaternions"), (t, 4), f"cameras[{i}].quaternions", problems),
                           f"cameras[{i}].quaternions", problems)
    first, top = _poses(cameras[0], t), _poses(meta["camera"], t)
    if first is not None and top is not None and (
            not np.allclose(first[0], top[0], atol=POSE_TOLERANCE, rtol=0)
            or not np.allclose(first[1], top[1], atol=POSE_TOLERANCE, rtol=0)):
        problem("camera is not cameras[0] (MOVi's camera of a scene with several cameras is the first one's)")
    baselines = _array(meta.get("rig", {}).get("baselines") if isinstance(meta.get("rig"), dict) else None,
                       (c_len, c_len), "rig.baselines", problems)
    centres = [_poses(cam, t) for cam in cameras]
    if baselines is not None and all(c is not None for c in centres):
        at_0 = np.array([c[0][0] for c in centres])  # type: ignore[index]
        distance = np.linalg.norm(at_0[:, None] - at_0[None], axis=-1)
        off = np.abs(baselines - distance)
        if off.max() > POSE_TOLERANCE * max(1.0, float(distance.max())):
            i, j = (int(v) for v in np.unravel_index(int(np.argmax(off)), off.shape))
            problem(f"rig.baselines[{i}][{j}] is {baselines[i, j]:.6g} m but cameras {i} and {j} are "
                    f"{distance[i, j]:.6g} m apart at frame 0")


def _rig_views(rig: _Rig, problems: list[Problem]) -> None:
    """The views are the cameras of scene.json and metadata.json, each with the same frames,
    resolution, camera and instances (in one order: a segmentation id is one object in every
    view) as metadata.json."""
    sd = rig.sd
    meta, t = sd.metadata, sd.num_frames
    scene = rig.scene_json
    if scene is not None:
        names = [c.get("name") if isinstance(c, dict) else c for c in scene.get("cameras", []) or []]
        if names != rig.cameras:
            problems.append(Problem(fmt.SCENE, "views", f"cameras {names} are not the views' {rig.cameras} "
                                                        f"({fmt.METADATA}: views)"))
        for key, value in (("num_frames", t), ("resolution", list(sd.resolution))):
            if key in scene and scene[key] != value:
                problems.append(Problem(fmt.SCENE, "views", f"{key} is {scene[key]!r} but {fmt.METADATA} says "
                                                            f"{value!r}"))
    names = [inst.get("name") for inst in meta["instances"] if isinstance(inst, dict)]
    cameras: list = meta["cameras"] if isinstance(meta.get("cameras"), list) else []
    for view in rig.present:
        file = f"{view.name}/{fmt.METADATA}"
        try:
            vmeta = view.metadata
        except KubricGenError:
            continue  # reported by the view's own checks
        if view.num_frames != t or view.resolution != sd.resolution:
            problems.append(Problem(file, "views", f"{view.num_frames} frames of {view.resolution[0]}x"
                                                   f"{view.resolution[1]} but {fmt.METADATA} says {t} of "
                                                   f"{sd.resolution[0]}x{sd.resolution[1]}"))
            continue
        theirs = [inst.get("name") if isinstance(inst, dict) else None for inst in vmeta["instances"]]
        if theirs != names:
            k = next((k for k, (a, b) in enumerate(zip(theirs, names, strict=False)) if a != b),
                     min(len(theirs), len(names)))
            got = repr(theirs[k]) if k < len(theirs) else "missing"
            want = repr(names[k]) if k < len(names) else "not listed"
            problems.append(Problem(file, "views", f"instances[{k}] is {got} but {fmt.METADATA}'s instances[{k}] is "
                                                   f"{want} (a segmentation id must be one object in every view)"))
        else:
            for k, (mine, other) in enumerate(zip(meta["instances"], vmeta["instances"], strict=True)):
                a, b = _poses(mine, t), _poses(other, t)
                if a is not None and b is not None and not (np.allclose(a[0], b[0], atol=POSE_TOLERANCE, rtol=0)
                                                            and np.allclose(a[1], b[1], atol=POSE_TOLERANCE, rtol=0)):
                    problems.append(Problem(file, "views", f"instances[{k}] ({names[k]}) moves differently from "
                                                           f"{fmt.METADATA}'s (one simulation for every camera)"))
                    break
        index = rig.views.index(view)
        if index < len(cameras) and isinstance(cameras[index], dict):
            mine, other = _poses(cameras[index], t), _poses(vmeta["camera"], t)
            same = mine is not None and other is not None and all(
                np.allclose(x, y, atol=POSE_TOLERANCE, rtol=0) for x, y in zip(mine, other, strict=True))
            for key in ("focal_length", "sensor_width"):
                same = same and cameras[index].get(key) == vmeta["camera"].get(key)
            if not same:
                problems.append(Problem(file, "views", f"camera is not {fmt.METADATA}'s cameras[{index}] "
                                                       f"({cameras[index].get('name')!r})"))


def _rig_labels(rig: _Rig, problems: list[Problem]) -> None:
    _labels(rig.sd, problems)


def _rig_visibility(rig: _Rig, problems: list[Problem]) -> None:
    """Every instance is seen by some camera (views' visibility, checked against their
    segmentation by the views' own checks)."""
    if len(rig.present) < len(rig.views):
        return
    total = np.zeros(rig.sd.num_instances)
    for view in rig.views:
        try:
            for k, inst in enumerate(view.metadata["instances"][:len(total)]):
                total[k] += float(np.sum(np.asarray(inst.get("visibility", []), dtype=np.float64)))
        except (KubricGenError, TypeError, ValueError, AttributeError):
            return
    for k in np.flatnonzero(total == 0):
        problems.append(Problem(fmt.METADATA, "segmentation",
                                f"instances[{k}] is never visible in any camera (MOVi lists only visible objects)",
                                "warning"))


# ---------------------------------------------------------------- cross_view.npz
_TRACK_ARRAYS = ("query_points", "query_camera", "query_world", "query_object", "target_points", "occluded")


def _cross_view(rig: _Rig, problems: list[Problem]) -> None:
    """cross_view.npz: the arrays SceneDir.cross_view reads, in the shapes of (C, N, T, H, W)."""
    sd = rig.sd
    if fmt.CROSS_VIEW not in sd.files:
        return

    def problem(message: str) -> None:
        problems.append(Problem(fmt.CROSS_VIEW, "cross_view", message))

    try:
        with np.load(io.BytesIO(sd.read_bytes(fmt.CROSS_VIEW)), allow_pickle=False) as f:
            d = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError) as e:
        problem(f"cannot read ({type(e).__name__}: {e})")
        return
    c_len, t, (width, height) = len(rig.views), sd.num_frames, sd.resolution
    unknown = sorted(set(d) - {"cameras", "correspondence_occluded", *_TRACK_ARRAYS})
    if unknown:
        problem(f"unexpected arrays {unknown} (readers know cameras, correspondence_occluded and "
                f"{', '.join(_TRACK_ARRAYS)})")
    cameras = [str(c) for c in np.asarray(d.get("cameras", [])).reshape(-1)]
    if cameras != rig.cameras:
        problem(f"cameras {cameras} are not the views' {rig.cameras}")
    occluded = d.get("correspondence_occluded")
    ok = True
    if occluded is None or occluded.shape != (c_len, c_len, t, height, width) or occluded.dtype != bool:
        problem(f"correspondence_occluded has shape {None if occluded is None else occluded.shape} "
                f"({None if occluded is None else occluded.dtype}), expected (C, C, T, H, W) = "
                f"({c_len}, {c_len}, {t}, {height}, {width}) bool")
        ok = False
    present = [k for k in _TRACK_ARRAYS if k in d]
    if present and len(present) < len(_TRACK_ARRAYS):
        problem(f"has {present} but not {[k for k in _TRACK_ARRAYS if k not in d]} (multi-view tracks need all)")
        ok = False
    tracks = len(present) == len(_TRACK_ARRAYS)
    if tracks:
        q = d["query_points"]
        n = q.shape[0] if q.ndim == 2 else -1
        expected = {"query_points": (n, 3), "query_camera": (n,), "query_world": (n, 3), "query_object": (n,),
                    "target_points": (c_len, n, t, 2), "occluded": (c_len, n, t)}
        dims = {"query_points": "(N, 3)", "query_camera": "(N,)", "query_world": "(N, 3)", "query_object": "(N,)",
                "target_points": "(C, N, T, 2)", "occluded": "(C, N, T)"}
        for key, shape in expected.items():
            if d[key].shape != shape:
                problem(f"{key} has shape {d[key].shape}, expected {dims[key]} = {shape}")
                tracks = ok = False
        kinds = {"query_points": "fc", "query_camera": "iu", "query_world": "fc", "query_object": "U",
                 "target_points": "fc", "occluded": "b"}
        for key, kind in kinds.items():
            if tracks and d[key].dtype.kind not in kind and not (kind == "fc" and d[key].dtype.kind in "iu"):
                problem(f"{key} has dtype {d[key].dtype}")
                tracks = ok = False
    if tracks:
        tracks = _track_values(rig, d, problem)
    rig.arrays = d if ok else None
    rig.tracks = tracks and ok


def _track_values(rig: _Rig, d: dict[str, np.ndarray], problem: Callable[[str], None]) -> bool:
    """Finite positions, queries inside their camera's image and frames, known objects."""
    sd = rig.sd
    c_len, t, (width, height) = len(rig.views), sd.num_frames, sd.resolution
    for key in ("query_points", "query_world", "target_points"):
        if not np.isfinite(d[key]).all():
            problem(f"{key} are not all finite")
            return False
    q, cams = d["query_points"].astype(np.float64), d["query_camera"].astype(np.int64)
    bad = np.flatnonzero((cams < 0) | (cams >= c_len))
    if bad.size:
        problem(f"query_camera[{bad[0]}] is {cams[bad[0]]}, not a camera index in [0, {c_len})")
        return False
    bad = np.flatnonzero((q[:, 0] < 0) | (q[:, 0] >= t) | (q[:, 0] != np.floor(q[:, 0])) | (q[:, 1] < 0)
                         | (q[:, 1] >= height) | (q[:, 2] < 0) | (q[:, 2] >= width))
    if bad.size:
        problem(f"query_points[{bad[0]}] (t, y, x) {q[bad[0]].round(3).tolist()} is not a frame in [0, {t}) and a "
                f"point of the {width}x{height} image")
        return False
    objects = {inst.get("name") for inst in sd.metadata["instances"] if isinstance(inst, dict)}
    scene = rig.scene_json
    if scene is not None:
        objects |= {o.get("name") for o in scene.get("objects", []) or [] if isinstance(o, dict)}
    unknown = sorted({str(o) for o in d["query_object"]} - objects)
    if unknown:
        problem(f"query_object names {unknown[:5]}, not objects of the scene")
        return False
    return True


def _surrounding(xy: np.ndarray, resolution: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, inside) (N, 4) of the pixels whose centres surround image points xy (N, 2)."""
    width, height = resolution
    c0, r0 = np.floor(xy[:, 0] - 0.5).astype(np.int64), np.floor(xy[:, 1] - 0.5).astype(np.int64)
    rows, cols = np.stack([r0, r0, r0 + 1, r0 + 1], 1), np.stack([c0, c0 + 1, c0, c0 + 1], 1)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    return rows.clip(0, height - 1), cols.clip(0, width - 1), inside


def _unseen(depth: np.ndarray, seg: np.ndarray, cam: _Camera, t: int, xy: np.ndarray, points: np.ndarray,
            ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which on-screen points (N, 3) at image points xy (N, 2) of frame t the camera's depth and
    segmentation (T, H, W) contradict: no pixel of the 3x3 block around the point's pixel has its
    segmentation id `ids` (N,), or every pixel whose centre surrounds it sees a surface more than
    SEEN_DEPTH_PX footprints (+ 1e-4 of the distance) nearer. Returns (unseen, the point's
    distance, the nearest depth around it)."""
    width, height = cam.resolution
    distance = np.linalg.norm(points - cam.positions[t], axis=-1)
    rows, cols, inside = _surrounding(xy, cam.resolution)
    around = np.where(inside, depth[t][rows, cols], -np.inf)
    allowed = SEEN_DEPTH_PX * cam.footprint(distance) + 1e-4 * distance
    hidden = (around < (distance - allowed)[:, None]).all(axis=1)
    row, col = np.floor(xy[:, 1]).astype(np.int64), np.floor(xy[:, 0]).astype(np.int64)
    on_object = np.zeros(len(xy), dtype=bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = row + dr, col + dc
            ok = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            on_object |= ok & (seg[t][r.clip(0, height - 1), c.clip(0, width - 1)] == ids)
    return hidden | ~on_object, distance, np.where(inside, around, np.inf).min(axis=1)


def _seen_rate(what: str, fails: int, total: int, example: str, check: str, problems: list[Problem]) -> None:
    allowed = SEEN_ALLOWED[0] * total + SEEN_ALLOWED[1]
    if fails > allowed:
        problems.append(Problem(fmt.CROSS_VIEW, check, f"{fails} of {total} {what} ({100 * fails / total:.1f} %) are "
                                                       f"not seen there by the camera's depth and segmentation (at "
                                                       f"most {SEEN_ALLOWED[0]:.0%} + {SEEN_ALLOWED[1]} may not, for "
                                                       f"pixel-edge cases); e.g. {example}"))


def _correspondences(rig: _Rig, problems: list[Problem]) -> None:
    """correspondence_occluded against the views' depth: exactly, a camera sees every surface
    point of its own pixels and no camera sees a pixel that sees nothing, or a point behind it
    or off its image; and for CORRESPONDENCE_SAMPLES pixels of each camera and frame, a point
    marked visible in camera b is seen there by b's depth and segmentation (`_unseen`)."""
    if rig.arrays is None:
        return
    occluded = rig.arrays["correspondence_occluded"]
    depths, segs, cams = rig.layers("depth"), rig.layers("segmentation"), rig.view_cameras
    t_len, (width, height) = rig.sd.num_frames, rig.sd.resolution
    names = rig.cameras

    def problem(message: str) -> None:
        problems.append(Problem(fmt.CROSS_VIEW, "correspondences", message))

    for a, depth in enumerate(depths):
        nothing = ~np.isfinite(depth)
        for b in range(len(depths)):
            wrong = (occluded[a, b] != nothing) if a == b else (nothing & ~occluded[a, b])
            if wrong.any():
                t, r, c = (int(v[0]) for v in np.nonzero(wrong))
                what = "its own pixels (occluded must be: the pixel sees nothing)" if a == b else \
                    f"camera {names[b]} at pixels of {names[a]} that see nothing"
                problem(f"correspondence_occluded[{a}, {b}] is wrong at {int(wrong.sum())} pixels of {what}; first: "
                        f"frame {t}, row {r}, col {c}")
    rng = np.random.default_rng(0)  # the same sample every run
    fails = total = 0
    example = ""
    for a in range(len(depths)):
        for t in range(t_len):
            rows, cols = np.nonzero(np.isfinite(depths[a][t]))
            if rows.size == 0:
                continue
            pick = np.sort(rng.choice(rows.size, size=min(CORRESPONDENCE_SAMPLES, rows.size), replace=False))
            rows, cols = rows[pick], cols[pick]
            points = cams[a].surface(t, np.stack([cols + 0.5, rows + 0.5], -1), depths[a][t][rows, cols])
            ids = segs[a][t][rows, cols]
            for b in range(len(depths)):
                if b == a:
                    continue
                xy, z = cams[b].project(t, points)
                visible = ~occluded[a, b, t][rows, cols]
                off = (z <= 1e-12) | ~((xy[:, 0] > -OFFSCREEN_MARGIN_PX) & (xy[:, 0] < width + OFFSCREEN_MARGIN_PX)
                                       & (xy[:, 1] > -OFFSCREEN_MARGIN_PX) & (xy[:, 1] < height + OFFSCREEN_MARGIN_PX))
                if (visible & off).any():
                    i = int(np.flatnonzero(visible & off)[0])
                    problem(f"correspondence_occluded[{a}, {b}, {t}] marks pixel (row {rows[i]}, col {cols[i]}) of "
                            f"{names[a]} visible in {names[b]}, but its surface point is behind or off {names[b]}'s "
                            f"image there ({xy[i].round(3).tolist()})")
                    return
                on = visible & (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
                idx = np.flatnonzero(on)
                unseen, distance, near = _unseen(depths[b], segs[b], cams[b], t, xy[idx], points[idx], ids[idx])
                total += idx.size
                fails += int(unseen.sum())
                if unseen.any() and not example:
                    j = int(np.flatnonzero(unseen)[0])
                    i = int(idx[j])
                    example = (f"pixel (row {rows[i]}, col {cols[i]}) of {names[a]}, frame {t} (id {ids[i]}, "
                               f"{distance[j]:.4g} m from {names[b]}) at {xy[i].round(2).tolist()} in {names[b]}, "
                               f"whose nearest surface there is {near[j]:.4g} m away")
    if total:
        _seen_rate("sampled pixels marked visible in another camera", fails, total, example, "correspondences",
                   problems)


def _cross_view_tracks(rig: _Rig, problems: list[Problem]) -> None:
    """Every multi-view track against depth, segmentation and poses: in its query camera at its
    query frame it is at the query pixel, visible, on the query object, and query_world is the
    surface point there; in every camera and frame its position is query_world moved with its
    object (metadata.json's poses; objects that are not instances are static) and projected
    (TRACK_TOLERANCE_PX + TRACK_RELATIVE_TOLERANCE * |xy|); where it is visible it lies on the
    image, and is seen there by the camera's depth and segmentation (`_unseen`)."""
    if not rig.tracks or rig.arrays is None:
        return
    d = rig.arrays
    sd = rig.sd
    q, world = d["query_points"].astype(np.float64), d["query_world"].astype(np.float64)
    cams_of, objects = d["query_camera"].astype(np.int64), [str(o) for o in d["query_object"]]
    target, occluded = d["target_points"].astype(np.float64), d["occluded"].astype(bool)
    n_len, t_len, (width, height) = len(q), sd.num_frames, sd.resolution
    if n_len == 0:
        return
    depths, segs, cams = rig.layers("depth"), rig.layers("segmentation"), rig.view_cameras
    names = rig.cameras
    instances = sd.metadata["instances"]
    index = {inst.get("name"): k for k, inst in enumerate(instances) if isinstance(inst, dict)}
    ids = np.array([index[o] + 1 if o in index else 0 for o in objects])

    def problem(message: str) -> None:
        problems.append(Problem(fmt.CROSS_VIEW, "tracks", message))

    tracks, frames = np.arange(n_len), q[:, 0].astype(np.int64)
    at_query = target[cams_of, tracks, frames]
    off = np.abs(at_query - q[:, [2, 1]]).max(axis=1)
    if off.max() > TRACK_TOLERANCE_PX:
        n = int(np.argmax(off))
        problem(f"track {n}: target_points[{cams_of[n]}, {n}, {frames[n]}] is {at_query[n].round(4).tolist()} but its "
                f"query (camera {names[cams_of[n]]}, frame {frames[n]}) is at (x, y) {q[n, [2, 1]].round(4).tolist()}")
    hidden = np.flatnonzero(occluded[cams_of, tracks, frames])
    if hidden.size:
        n = int(hidden[0])
        problem(f"track {n} is occluded in its query camera {names[cams_of[n]]} at its query frame {frames[n]}")
    rows, cols = q[:, 1].astype(np.int64), q[:, 2].astype(np.int64)
    for c in range(len(names)):
        for t in range(t_len):
            sel = np.flatnonzero((cams_of == c) & (frames == t))
            if not sel.size:
                continue
            depth = depths[c][t][rows[sel], cols[sel]].astype(np.float64)
            seen = cams[c].surface(t, q[sel][:, [2, 1]], np.where(np.isfinite(depth), depth, 0.0))
            gap = np.linalg.norm(seen - world[sel], axis=-1)
            allowed = WORLD_TOLERANCE[0] * np.where(np.isfinite(depth), depth, 0.0) + WORLD_TOLERANCE[1]
            bad = ~np.isfinite(depth) | (gap > allowed)
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                n = int(sel[j])
                problem(f"track {n}: query_world {world[n].round(4).tolist()} is not the surface point seen at its "
                        f"query pixel (row {rows[n]}, col {cols[n]}) of camera {names[c]}, frame {t} (depth "
                        f"{depth[j]:.6g} m puts it at {seen[j].round(4).tolist()})")
                return
            wrong = segs[c][t][rows[sel], cols[sel]] != ids[sel]
            if wrong.any():
                n = int(sel[np.flatnonzero(wrong)[0]])
                problem(f"track {n}: its query pixel (row {rows[n]}, col {cols[n]}) of camera {names[c]}, frame {t} "
                        f"has segmentation id {segs[c][t][rows[n], cols[n]]}, not {ids[n]} (query_object "
                        f"{objects[n]!r})")
    moved = _moved(world, frames, ids, instances, t_len)
    if moved is None:
        return
    worst = (0.0, "")
    mismatches = fails = total = 0
    example = ""
    for b, cam in enumerate(cams):
        for f in range(t_len):
            xy, z = cam.project(f, moved[:, f])
            front = z > 1e-12
            stored, visible = target[b, :, f], ~occluded[b, :, f]
            error = np.where(front, np.abs(stored - xy).max(axis=1), 0.0)
            excess = error - TRACK_TOLERANCE_PX - TRACK_RELATIVE_TOLERANCE * np.linalg.norm(np.where(
                front[:, None], xy, 0.0), axis=1)
            mismatches += int((excess > 0).sum())
            i = int(np.argmax(excess))
            if excess[i] > worst[0]:
                worst = (float(excess[i]), f"track {i} ({objects[i]}) in camera {names[b]}, frame {f}: target_points "
                                           f"{stored[i].round(4).tolist()}, projection {xy[i].round(4).tolist()}")
            on = front & (xy[:, 0] > -OFFSCREEN_MARGIN_PX) & (xy[:, 0] < width + OFFSCREEN_MARGIN_PX) & (
                xy[:, 1] > -OFFSCREEN_MARGIN_PX) & (xy[:, 1] < height + OFFSCREEN_MARGIN_PX)
            if (visible & ~on).any():
                i = int(np.flatnonzero(visible & ~on)[0])
                problem(f"track {i} is visible in camera {names[b]} at frame {f} but lies behind or off its image "
                        f"there ({xy[i].round(3).tolist() if front[i] else 'behind the camera'})")
                return
            inside = visible & (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
            idx = np.flatnonzero(inside)
            unseen, distance, near = _unseen(depths[b], segs[b], cam, f, xy[idx], moved[idx, f], ids[idx])
            total += idx.size
            fails += int(unseen.sum())
            if unseen.any() and not example:
                j = int(np.flatnonzero(unseen)[0])
                i = int(idx[j])
                example = (f"track {i} ({objects[i]}, id {ids[i]}) in camera {names[b]}, frame {f}, at "
                           f"{xy[i].round(2).tolist()}, {distance[j]:.4g} m away, where the nearest surface is "
                           f"{near[j]:.4g} m away")
    if mismatches:
        problem(f"{mismatches} track positions are not query_world moved with its object and projected (by more "
                f"than {TRACK_TOLERANCE_PX} px); worst: {worst[1]}")
    if total:
        _seen_rate("visible track points", fails, total, example, "tracks", problems)


def _moved(world: np.ndarray, frames: np.ndarray, ids: np.ndarray, instances: list, t_len: int) -> np.ndarray | None:
    """(N, T, 3): each query point (N, 3) at frame frames[n] carried rigidly by its instance
    (ids[n] - 1; 0 = not an instance, static) to every frame; None when poses are unusable."""
    moved = np.repeat(world[:, None], t_len, axis=1)
    for k in np.unique(ids[ids > 0]):
        pose = _poses(instances[k - 1], t_len)
        if pose is None:
            return None
        rotations = geometry.quat_to_matrix(pose[1])  # (T, 3, 3)
        sel = np.flatnonzero(ids == k)
        local = np.einsum("nij,ni->nj", rotations[frames[sel]], world[sel] - pose[0][frames[sel]])
        moved[sel] = np.einsum("tij,nj->nti", rotations, local) + pose[0][None]
    return moved
