"""Checks of a one-camera scene directory (each view of a scene with several cameras is one):
is every layer there and decodable, and do its parts agree?

`check_view(SceneDir(path))` (through the package's `check_scene`) returns a list of
`Problem`s (empty when all hold); an error
means readers would get wrong or no data, a warning something a user should know (e.g.
pixels that see no surface). `kubric-gen validate` prints them; dataset packaging skips a
scene with errors. The checks, by `Problem.check`:

| check | what must hold |
|---|---|
| listing | metadata.json, events.json, data_ranges.json, and frames 0..T-1 of every MOVi layer |
| integrity | every file listed in `_COMPLETE` (our writer's last file) has the SHA-256 it was written with |
| finite | no NaN or infinity in metadata.json, events.json, data_ranges.json |
| metadata | camera and instance arrays have T rows and MOVi's shapes; quaternions are unit; bboxes are normalised |
| decode | every frame file decodes to the metadata's resolution; depth is positive (+inf: a warning) |
| segmentation | ids <= num_instances; each instance's visibility and bboxes are those of its segmentation pixels |
| labels | every label is in the scene's declared vocabularies (label_schema) |
| ranges | data_ranges.json is the range of the flow (and depth) values, to one quantisation step |
| flow | forward/backward flow equals the reprojection, with depth and the poses, of sampled pixels |
| normals | decoded normals are unit vectors where a surface is seen |
| amodal | amodal_masks.npz comes with the amodal fields; visible pixels lie in the amodal mask |
| parts | part ids only on articulated instances, at most their links; link/joint arrays shaped; joints in limits |
| deformations | deformable instances' meshes are in deformations.npz; visible tracks keep their material point |
| boundaries | both sides of a marked edge agree, the nearer in front; segmentation changes are marked |
| scene_flow | its cameras are metadata.json's; depth plus the scene flow projects to the optical flow |
| intrinsics | albedo, glossy colour in [0, 1], shading, residual >= 0; the mask (see below) is sound |
| tracks | tracks.npz has consistent shapes, and visible track points are inside the image |
| events | collisions name valid instances and frames, with finite values |

Amodal: amodal_pixels and the amodal boxes are the masks' own, visible_fraction is
visibility / amodal_pixels to float32 rounding (1e-6), in_image_fraction lies in [0, 1] and is 0
exactly where the mask is empty, and each unclipped box holds its clipped one.

Intrinsic images: the mirror/transparent mask is constant over each instance (one material) and
false where nothing is hit; rendered with Standard and no denoiser, the sRGB encoding of
albedo x shading + residual is the RGB frame to 1/255.

Flow tolerance: half a quantisation step of the flow range, plus FLOW_TOLERANCE_PX, plus
FLOW_RELATIVE_TOLERANCE times the flow's length (the float32 metadata and depth). Measured
on our scenes the difference is below 2e-3 px; see docs/ground_truth.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import KubricGenError
from kubric_gen.io import format as fmt
from kubric_gen.io.layers import boxes_from_segmentation
from kubric_gen.io.reader import SceneDir
from kubric_gen.io.validate.deform import Meshes
from kubric_gen.truth.result import mask_bboxes
from kubric_gen.visual.colors import srgb_encode

FLOW_SAMPLES_PER_FRAME = 1024
FLOW_TOLERANCE_PX = 0.01
MATERIAL_POINT_TOLERANCE = 1e-3  # of the rest shape's size: a track on a deformable stays on its material point
JOINT_LIMIT_TOLERANCE = 0.01  # rad or m: the physics engine holds limits as soft constraints (scripted joints: exact)
FLOW_RELATIVE_TOLERANCE = 1e-3
NORMAL_TOLERANCE = 2e-3
QUATERNION_TOLERANCE = 1e-3
# intrinsic images: float16's relative step (2^-11) on each stored term, and the RGB frame's 8 bits
INTRINSICS_RELATIVE_TOLERANCE = 2e-3
INTRINSICS_RGB_TOLERANCE = 1.0 / 255
NEVER_VISIBLE = "is never visible (MOVi lists only visible objects)"
# instance fields only a camera's view has
_PER_VIEW = ("image_positions", "visibility", "bboxes", "bbox_frames", *fmt.AMODAL_FIELDS)


@dataclass(frozen=True)
class Problem:
    """One finding: the file it is about, which check found it, how bad, and what."""

    file: str
    check: str
    message: str
    severity: str = "error"  # or "warning"

    def line(self, scene_path: str) -> str:
        return f"{scene_path.rstrip('/')}/{self.file}: {self.severity}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class _Found(Exception):
    """Stops a check early; its problem was already recorded."""


def check_view(sd: SceneDir, problems: list[Problem] | None = None) -> list[Problem]:
    """Every problem of a one-camera scene directory (see the module doc for the checks),
    added to `problems`."""
    problems = [] if problems is None else problems
    if not _listable(sd, problems):
        return problems
    listing = sd.missing()
    for message in listing:
        problems.append(_problem(message, "listing"))
    if fmt.METADATA not in sd.files or any(p.file == fmt.METADATA for p in problems):
        return problems
    checks: list[Callable[[SceneDir, list[Problem]], None]] = [
        _integrity, _finite, _metadata_shapes, _decodable, _segmentation, _amodal, _parts, _deformations, _boundaries,
        _labels, _ranges, _flow, _scene_flow, _intrinsics, _normals, _tracks, _events]
    for check in checks:
        try:
            check(sd, problems)
        except _Found:
            pass
        except KubricGenError as e:  # an unreadable part: recorded once, later checks go on
            problems.append(_problem(str(e), check.__name__.lstrip("_")))
    return _unique(problems)


def _listable(sd: SceneDir, problems: list[Problem]) -> bool:
    try:
        sd.files  # noqa: B018 - lists the directory
        if fmt.METADATA in sd.files:
            sd.metadata  # noqa: B018 - parses and checks metadata.json
        return True
    except KubricGenError as e:
        problems.append(_problem(str(e), "listing"))
        return fmt.METADATA not in str(e) and "cannot list" not in str(e) and "not a directory" not in str(e)


def _problem(message: str, check: str, severity: str = "error") -> Problem:
    """A Problem from a message that may start with the file it is about ("depth_00001.tiff: ...",
    "metadata.json is missing")."""
    head, sep, rest = message.partition(":")
    if sep and "." in head and " " not in head.strip() and "/" not in head:
        return Problem(head.strip(), check, rest.strip(), severity)
    first = message.split(" ")[0]
    if "." in first and "/" not in first and first.rstrip(".") == first:
        return Problem(first, check, message, severity)
    return Problem(".", check, message, severity)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _integrity(sd: SceneDir, problems: list[Problem]) -> None:
    marker = sd.marker
    if marker is None:
        return
    files = marker.get("files") if isinstance(marker, dict) else None
    if not isinstance(files, dict):
        problems.append(Problem(fmt.COMPLETE, "integrity", "malformed: no file list with hashes"))
        return
    for name, sha in sorted(files.items()):
        if name not in sd.files:
            problems.append(Problem(name, "integrity", f"listed in {fmt.COMPLETE} but missing"))
        elif isinstance(sha, str) and sd.file_sha256(name) != sha:
            problems.append(Problem(name, "integrity", f"changed since the scene was written (SHA-256 differs "
                                                       f"from {fmt.COMPLETE}'s)"))


# ---------------------------------------------------------------- metadata
def _non_finite(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, float) and not math.isfinite(value):
        yield f"{path} is {value}"
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _non_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _non_finite(v, f"{path}[{i}]")


def _finite(sd: SceneDir, problems: list[Problem]) -> None:
    for name, data in ((fmt.METADATA, sd.metadata), (fmt.EVENTS, sd.events), (fmt.DATA_RANGES, sd.data_ranges)):
        bad = list(_non_finite(data, ""))
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            problems.append(Problem(name, "finite", f"{bad[0]}{more}: NaN and infinity are not data"))


def _array(value: Any, shape: tuple, what: str, problems: list[Problem], file: str = fmt.METADATA) -> np.ndarray | None:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append(Problem(file, "metadata", f"{what} is not numeric"))
        return None
    if a.shape != shape:
        problems.append(Problem(file, "metadata", f"{what} has shape {a.shape}, expected {shape}"))
        return None
    return a


def _check_quaternions(q: np.ndarray | None, what: str, problems: list[Problem]) -> None:
    if q is None or not np.isfinite(q).all():
        return
    worst = float(np.abs(np.linalg.norm(q, axis=-1) - 1).max(initial=0.0))
    if worst > QUATERNION_TOLERANCE:
        problems.append(Problem(fmt.METADATA, "metadata", f"{what} are not unit quaternions (|q| off by {worst:.3g})"))


def _metadata_shapes(sd: SceneDir, problems: list[Problem], per_view: bool = True) -> None:
    """MOVi's shapes; `per_view` False for the metadata of a scene with several cameras, whose
    instances have no image_positions, visibility or boxes (those are in each view's)."""
    t = sd.num_frames
    meta = sd.metadata
    m = meta["metadata"]
    if "num_instances" in m and m["num_instances"] != len(meta["instances"]):
        problems.append(Problem(fmt.METADATA, "metadata", f"metadata.num_instances is {m['num_instances']} but "
                                                          f"{len(meta['instances'])} instances are listed"))
    cam = meta["camera"]
    for key in ("focal_length", "sensor_width"):
        if not isinstance(cam.get(key), (int, float)) or not cam[key] > 0:
            problems.append(Problem(fmt.METADATA, "metadata", f"camera.{key} must be a positive number "
                                                              f"(got {cam.get(key)!r})"))
    _array(cam.get("positions"), (t, 3), "camera.positions", problems)
    _check_quaternions(_array(cam.get("quaternions"), (t, 4), "camera.quaternions", problems),
                       "camera.quaternions", problems)
    for k, inst in enumerate(meta["instances"]):
        what = f"instances[{k}]"
        if not isinstance(inst, dict):
            problems.append(Problem(fmt.METADATA, "metadata", f"{what} is not an object"))
            continue
        for key, shape in (("positions", (t, 3)), ("velocities", (t, 3)), ("angular_velocities", (t, 3)),
                           ("bboxes_3d", (t, 8, 3)), ("image_positions", (t, 2)), ("visibility", (t,))):
            if per_view or key not in _PER_VIEW:
                _array(inst.get(key), shape, f"{what}.{key}", problems)
        _check_quaternions(_array(inst.get("quaternions"), (t, 4), f"{what}.quaternions", problems),
                           f"{what}.quaternions", problems)
        if not per_view:
            continue
        frames = inst.get("bbox_frames", [])
        boxes = _array(inst.get("bboxes", []) or np.zeros((0, 4)), (len(frames), 4), f"{what}.bboxes", problems)
        if boxes is not None and len(boxes):
            if not ((boxes >= 0).all() and (boxes <= 1).all() and (boxes[:, :2] <= boxes[:, 2:]).all()):
                problems.append(Problem(fmt.METADATA, "metadata",
                                        f"{what}.bboxes are not normalised [ymin, xmin, ymax, xmax] in [0, 1]"))
        if not all(isinstance(f, int) and 0 <= f < t for f in frames) or frames != sorted(set(frames)):
            problems.append(Problem(fmt.METADATA, "metadata",
                                    f"{what}.bbox_frames must be increasing frame numbers in [0, {t})"))


def _labels(sd: SceneDir, problems: list[Problem]) -> None:
    schema = sd.label_schema
    for k, inst in enumerate(sd.metadata["instances"]):
        try:
            schema.instance_values(inst)
        except KubricGenError as e:
            problems.append(Problem(fmt.METADATA, "labels", f"instances[{k}]: {e} (label schema {schema.name!r})"))
    try:
        schema.scene_values(sd.metadata)
    except KubricGenError as e:
        problems.append(Problem(fmt.METADATA, "labels", f"{e} (label schema {schema.name!r})"))


# ---------------------------------------------------------------- layers
def _layer(sd: SceneDir, name: str, problems: list[Problem]) -> np.ndarray:
    """A decoded layer; a problem naming the file (and _Found) when it cannot be read."""
    try:
        return sd.layer(name)
    except KubricGenError as e:
        problems.append(_problem(str(e), "decode"))
        raise _Found from None


def _decodable(sd: SceneDir, problems: list[Problem]) -> None:
    for layer in fmt.LAYERS:
        if not sd.has(layer.name):
            continue
        try:
            a = sd.layer(layer.name)
        except KubricGenError as e:
            problems.append(_problem(str(e), "decode"))
            continue
        if layer.name == "depth":
            for t in range(len(a)):
                file = layer.file(t)
                nan, low = int(np.isnan(a[t]).sum()), int((a[t] <= 0).sum())
                inf = int(np.isposinf(a[t]).sum())
                if nan or low:
                    problems.append(Problem(file, "decode", f"{nan} NaN and {low} non-positive depths"))
                if inf:
                    problems.append(Problem(file, "decode", f"{inf} pixels see no surface (depth +inf); MOVi "
                                                            "readers cannot quantise such a layer", "warning"))


def _segmentation(sd: SceneDir, problems: list[Problem]) -> None:
    seg = _layer(sd, "segmentation", problems)
    t_len, h, w = seg.shape
    n = sd.num_instances
    for t in range(t_len):
        top = int(seg[t].max(initial=0))
        if top > n or int(seg[t].min(initial=0)) < 0:
            problems.append(Problem(fmt.LAYER["segmentation"].file(t), "segmentation",
                                    f"id {top} but only {n} instances"))
            raise _Found
    visibility, all_boxes, all_frames = boxes_from_segmentation(seg, n)
    for k, inst in enumerate(sd.metadata["instances"]):
        counts = visibility[k]
        vis = np.asarray(inst.get("visibility", []), dtype=np.int64)
        if vis.shape == counts.shape and not np.array_equal(vis, counts):
            t = int(np.flatnonzero(vis != counts)[0])
            problems.append(Problem(fmt.METADATA, "segmentation",
                                    f"instances[{k}].visibility[{t}] is {vis[t]} but segmentation id {k + 1} "
                                    f"covers {counts[t]} pixels"))
        if counts.sum() == 0:
            problems.append(Problem(fmt.METADATA, "segmentation", f"instances[{k}] {NEVER_VISIBLE}", "warning"))
        frames = all_frames[k].tolist()
        if list(inst.get("bbox_frames", [])) != frames:
            problems.append(Problem(fmt.METADATA, "segmentation",
                                    f"instances[{k}].bbox_frames {list(inst.get('bbox_frames', []))[:6]} are not "
                                    f"the frames where it is visible {frames[:6]}"))
            continue
        boxes = np.asarray(inst.get("bboxes") or np.zeros((0, 4)), dtype=np.float64)
        if boxes.shape == all_boxes[k].shape:
            off = np.abs(boxes - all_boxes[k]).max(axis=1, initial=0.0) > 0.5 / max(h, w)
            if off.any():
                row = int(np.flatnonzero(off)[0])
                problems.append(Problem(fmt.METADATA, "segmentation",
                                        f"instances[{k}].bboxes[{row}] {np.round(boxes[row], 4).tolist()} is not the "
                                        f"box of its pixels in frame {frames[row]} "
                                        f"{np.round(all_boxes[k][row], 4).tolist()}"))


def _amodal(sd: SceneDir, problems: list[Problem]) -> None:
    instances = sd.metadata["instances"]
    with_fields = [k for k, inst in enumerate(instances) if "amodal_pixels" in inst]
    masks = sd.amodal()
    if masks is None:
        if with_fields:
            problems.append(Problem(fmt.METADATA, "amodal", f"instances[{with_fields[0]}] has amodal fields but "
                                    f"{fmt.AMODAL} is missing"))
        return
    if len(with_fields) != len(instances):
        missing = sorted(set(range(len(instances))) - set(with_fields))
        problems.append(Problem(fmt.METADATA, "amodal", f"instances[{missing[0]}] has no amodal_pixels but "
                                f"{fmt.AMODAL} holds its masks"))
        raise _Found
    seg = _layer(sd, "segmentation", problems)
    h, w = seg.shape[1:]

    def bad(k: int, message: str) -> None:
        problems.append(Problem(fmt.METADATA if "]." in message else fmt.AMODAL, "amodal", message))

    for k, inst in enumerate(instances):
        outside = ((seg == k + 1) & ~masks[k]).reshape(len(seg), -1).sum(axis=1)
        if outside.any():
            t = int(np.flatnonzero(outside)[0])
            bad(k, f"instance {k}: {outside[t]} visible pixels of frame {t} lie outside its amodal mask")
        pixels = masks[k].reshape(len(seg), -1).sum(axis=1)
        stated = np.asarray(inst["amodal_pixels"], dtype=np.int64)
        if stated.shape != pixels.shape or not np.array_equal(stated, pixels):
            bad(k, f"instances[{k}].amodal_pixels are not its amodal masks' pixel counts")
            continue
        visibility = np.asarray(inst.get("visibility", np.zeros_like(pixels)), dtype=np.float64)
        expected = np.where(pixels > 0, visibility / np.maximum(pixels, 1), 0.0)
        if np.abs(np.asarray(inst["visible_fraction"], dtype=np.float64) - expected).max(initial=0) > 1e-6:
            bad(k, f"instances[{k}].visible_fraction is not visibility / amodal_pixels")
        in_image = np.asarray(inst["in_image_fraction"], dtype=np.float64)
        if in_image.shape != pixels.shape or (in_image < 0).any() or (in_image > 1).any() \
                or not np.array_equal(in_image > 0, pixels > 0):
            bad(k, f"instances[{k}].in_image_fraction must lie in [0, 1], 0 exactly where amodal_pixels is 0")
        boxes, frames = mask_bboxes(masks[k])
        stated_boxes = np.asarray(inst["amodal_bboxes"] or np.zeros((0, 4)), dtype=np.float64)
        if list(inst["amodal_bbox_frames"]) != frames.tolist() or stated_boxes.shape != boxes.shape \
                or np.abs(stated_boxes - boxes).max(initial=0) > 0.5 / max(h, w):
            bad(k, f"instances[{k}].amodal_bboxes are not the boxes of its amodal masks")
            continue
        unclipped = dict(zip(inst["amodal_bbox_unclipped_frames"], inst["amodal_bboxes_unclipped"], strict=True))
        for row, t in enumerate(frames.tolist()):
            u = np.asarray(unclipped.get(t, [np.inf, np.inf, -np.inf, -np.inf]), dtype=np.float64)
            if (u[:2] > stated_boxes[row, :2] + 1e-6).any() or (u[2:] < stated_boxes[row, 2:] - 1e-6).any():
                bad(k, f"instances[{k}].amodal_bboxes_unclipped of frame {t} does not hold its clipped box")
                break


def _parts(sd: SceneDir, problems: list[Problem]) -> None:
    """The part layer names links only on articulated instances and only links they have; every
    articulated instance's link and joint arrays have their shapes and its joints stay in limits."""
    part_index = sd.part_index()
    instances = sd.metadata["instances"]
    articulated = [k for k, inst in enumerate(instances) if "links" in inst]
    if part_index is None:
        if articulated:
            problems.append(_problem(f"instance {articulated[0]} has links but there is no {fmt.PARTS}", "parts"))
        return
    t = sd.num_frames
    segmentation = sd.layer("segmentation")
    count = np.zeros(len(instances) + 1, dtype=np.int64)  # links per segmentation id (0: none)
    for k in articulated:
        count[k + 1] = len(instances[k]["links"])
    too_high = part_index > count[np.minimum(segmentation, len(instances))]
    if too_high.any():
        f, r, c = (int(v[0]) for v in np.nonzero(too_high))
        k = segmentation[f, r, c]
        problems.append(_problem(f"{fmt.PARTS}: frame {f} pixel (row {r}, col {c}) names link {part_index[f, r, c]} "
                                 f"of segmentation id {k}, which has {count[min(k, len(instances))]}", "parts"))
    for k in articulated:
        inst = instances[k]
        links, joints = len(inst["links"]), len(inst.get("joint_names", []))
        positions = _array(inst.get("link_positions"), (links, t, 3), f"instance {k} link_positions", problems)
        _array(inst.get("link_quaternions"), (links, t, 4), f"instance {k} link_quaternions", problems)
        values = _array(inst.get("joint_positions"), (joints, t), f"instance {k} joint_positions", problems)
        if positions is None or values is None:
            continue
        limits = {j["name"]: (j.get("lower"), j.get("upper")) for j in inst.get("joints", [])}
        for name, series in zip(inst["joint_names"], values, strict=True):
            lower, upper = limits.get(name, (None, None))
            lower, upper = -np.inf if lower is None else lower, np.inf if upper is None else upper
            outside = (series < lower - JOINT_LIMIT_TOLERANCE) | (series > upper + JOINT_LIMIT_TOLERANCE)
            if outside.any():
                f = int(np.flatnonzero(outside)[0])
                problems.append(_problem(f"instance {k} joint {name!r} is at {series[f]:.6g} in frame {f}, outside "
                                         f"its limits [{lower:g}, {upper:g}]", "parts"))


def _deformations(sd: SceneDir, problems: list[Problem]) -> None:
    """Every deformable instance has its meshes (T frames) in deformations.npz, and each visible
    point of a track that starts on one names the same material point as its query: its ray, cast
    against the stored mesh of the frame, meets the rest shape where the query's does (to
    MATERIAL_POINT_TOLERANCE of the rest shape's size)."""
    instances = sd.metadata["instances"]
    deformable = [k for k, inst in enumerate(instances) if "deformation_index" in inst]
    if not deformable:
        return
    meshes = Meshes(sd)
    for k in deformable:
        if k not in meshes.of:
            problems.append(_problem(f"instance {k} is deformable but {fmt.DEFORMATIONS} has no meshes for its "
                                     f"deformation_index {instances[k]['deformation_index']}", "deformations"))
            raise _Found
    tracks = sd.tracks()
    if tracks is None or not len(tracks.query_points):
        return
    meta = sd.metadata
    cam = _poses(meta["camera"], sd.num_frames)
    if cam is None:
        return
    f, sw = float(meta["camera"]["focal_length"]), float(meta["camera"]["sensor_width"])
    segmentation = sd.layer("segmentation")
    q = tracks.query_points
    frames, rows, cols = q[:, 0].astype(int), q[:, 1].astype(int), q[:, 2].astype(int)
    on = segmentation[frames, rows, cols].astype(int) - 1
    for k in deformable:
        mine = np.flatnonzero(on == k)
        if not len(mine):
            continue
        size = float(np.linalg.norm(np.ptp(meshes.of[k]["rest_vertices"], axis=0)))
        rest = np.full((len(mine), 3), np.nan)
        for t in np.unique(frames[mine]):
            at = mine[frames[mine] == t]
            origins, directions = geometry.image_rays(q[at][:, [2, 1]], cam[0][t], cam[1][t], f, sw, sd.resolution)
            hit, face, bary = meshes.hits(k, t, origins, directions)
            rest[np.isin(mine, at[hit])] = meshes.point(k, None, face[hit], bary[hit])
        for t in range(sd.num_frames):
            seen = np.flatnonzero(~tracks.occluded[mine, t] & np.isfinite(rest[:, 0]))
            if not len(seen):
                continue
            origins, directions = geometry.image_rays(tracks.target_points[mine[seen], t], cam[0][t], cam[1][t], f, sw,
                                                      sd.resolution)
            hit, face, bary = meshes.hits(k, t, origins, directions)
            error = np.full(len(seen), np.inf)
            error[hit] = np.linalg.norm(meshes.point(k, None, face[hit], bary[hit]) - rest[seen[hit]], axis=1)
            worst = int(np.argmax(error))
            if error[worst] > MATERIAL_POINT_TOLERANCE * size:
                problems.append(_problem(
                    f"track {int(mine[seen[worst]])} (on instance {k}) is visible in frame {t} at "
                    f"{tracks.target_points[mine[seen[worst]], t].round(3).tolist()}, which is "
                    + ("not on the instance's mesh" if not np.isfinite(error[worst]) else
                       f"{error[worst]:.3g} m of its rest shape from its query's material point"), "deformations"))
                return


def _ranges(sd: SceneDir, problems: list[Problem]) -> None:
    for name in fmt.FLOW_LAYERS:
        lo, hi = sd.range(name)
        stored = sd.stored(name)
        if hi > lo and (int(stored.min()) > 1 or int(stored.max()) < fmt.MAX_16BIT - 1):
            problems.append(Problem(fmt.DATA_RANGES, "ranges",
                                    f"{name} range [{lo:.6g}, {hi:.6g}] is not the range of the flow values "
                                    f"(stored values span {int(stored.min())}..{int(stored.max())}, "
                                    f"not 0..{fmt.MAX_16BIT})"))
    if "depth" in sd.data_ranges:
        lo, hi = sd.range("depth")
        depth = _layer(sd, "depth", problems)
        finite = depth[np.isfinite(depth)]
        if finite.size and (abs(finite.min() - lo) > 1e-5 * max(1.0, abs(lo))
                            or abs(finite.max() - hi) > 1e-5 * max(1.0, abs(hi))):
            problems.append(Problem(fmt.DATA_RANGES, "ranges",
                                    f"depth range [{lo:.6g}, {hi:.6g}] is not that of the depth files "
                                    f"[{finite.min():.6g}, {finite.max():.6g}]"))


def _poses(items: Any, t: int) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        p = np.asarray(items["positions"], dtype=np.float64)
        q = np.asarray(items["quaternions"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if p.shape != (t, 3) or q.shape != (t, 4) or not (np.isfinite(p).all() and np.isfinite(q).all()):
        return None
    return p, q / np.linalg.norm(q, axis=-1, keepdims=True)


def expected_motion(sd: SceneDir, t: int, other: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """(d_row, d_col) (N, 2) of pixels (rows, cols) of frame t to frame `other`, from depth,
    segmentation and the camera and instance poses of metadata.json (None if the poses are
    unusable); an articulated instance's pixels move with the link the part layer names (its
    ``link_positions``, ``link_quaternions``), a deformable's with the material point their ray
    meets on its stored mesh (deformations.npz). Background pixels (id 0) are taken as static."""
    meta = sd.metadata
    n_frames = sd.num_frames
    cam = _poses(meta["camera"], n_frames)
    poses = [_poses(inst, n_frames) for inst in meta["instances"]]
    objects = [o for o in poses if o is not None]
    if cam is None or len(objects) < len(poses):
        return None
    f, sw = float(meta["camera"]["focal_length"]), float(meta["camera"]["sensor_width"])
    resolution = sd.resolution
    centres = np.stack([cols + 0.5, rows + 0.5], axis=-1)
    origins, directions = geometry.image_rays(centres, cam[0][t], cam[1][t], f, sw, resolution)
    depth = sd.layer("depth")[t, rows, cols].astype(np.float64)
    points = origins + directions * depth[:, None]
    ids = sd.layer("segmentation")[t, rows, cols]
    part_index = sd.part_index()
    links = part_index[t, rows, cols] if part_index is not None else np.zeros(len(rows), dtype=np.uint8)
    moved = points.copy()
    meshes = Meshes(sd) if any("deformation_index" in inst for inst in meta["instances"]) else None
    for k, inst in enumerate(meta["instances"]):
        if meshes is not None and k in meshes.of:  # a deformable: its material points' motion
            sel = np.flatnonzero(ids == k + 1)
            hit, face, bary = meshes.hits(k, t, origins[sel], directions[sel])
            moved[sel[hit]] = meshes.point(k, other, face[hit], bary[hit])
            continue
        for link in np.unique(links[ids == k + 1]):
            pose = objects[k] if link == 0 else _poses({"positions": np.asarray(inst["link_positions"])[link - 1],
                                                        "quaternions": np.asarray(inst["link_quaternions"])[link - 1]},
                                                       n_frames)
            sel = (ids == k + 1) & (links == link)
            if pose is None:
                return None
            local = (points[sel] - pose[0][t]) @ geometry.quat_to_matrix(pose[1][t])
            moved[sel] = local @ geometry.quat_to_matrix(pose[1][other]).T + pose[0][other]
    xy = geometry.project(moved, cam[0][other], cam[1][other], f, sw, resolution)
    return np.stack([xy[:, 1] - (rows + 0.5), xy[:, 0] - (cols + 0.5)], axis=-1)


def _flow(sd: SceneDir, problems: list[Problem]) -> None:
    t_len = sd.num_frames
    depth = _layer(sd, "depth", problems)
    rng = np.random.default_rng(0)  # the same sample every run
    for name, step in (("forward_flow", 1), ("backward_flow", -1)):
        flow = _layer(sd, name, problems)
        lo, hi = sd.range(name)
        quantum = (hi - lo) / fmt.MAX_16BIT / 2
        worst = (0.0, -1, 0, 0, np.zeros(2), np.zeros(2))  # (excess, frame, row, col, got, expected)
        for t in range(t_len):
            other = t + step
            if not 0 <= other < t_len:
                continue
            rows, cols = np.nonzero(np.isfinite(depth[t]))
            if rows.size == 0:
                continue
            pick = rng.choice(rows.size, size=min(FLOW_SAMPLES_PER_FRAME, rows.size), replace=False)
            rows, cols = rows[pick], cols[pick]
            motion = expected_motion(sd, t, other, rows, cols)
            if motion is None:
                return
            expected = motion if step == 1 else -motion  # backward flow: the motion from t-1 to t
            got = flow[t, rows, cols].astype(np.float64)
            error = np.linalg.norm(got - expected, axis=-1)
            allowed = quantum * math.sqrt(2) + FLOW_TOLERANCE_PX + FLOW_RELATIVE_TOLERANCE * np.linalg.norm(
                expected, axis=-1)
            excess = error - allowed
            i = int(np.argmax(excess))
            if excess[i] > worst[0]:
                worst = (float(excess[i]), t, int(rows[i]), int(cols[i]), got[i], expected[i])
        if worst[1] >= 0:
            _, t, r, c, got, expected = worst
            problems.append(Problem(fmt.LAYER[name].file(t), "flow",
                                    f"flow at pixel (row {r}, col {c}) is ({got[0]:.4f}, {got[1]:.4f}) px but depth "
                                    f"and poses move it by ({expected[0]:.4f}, {expected[1]:.4f}) px"))


def _boundaries(sd: SceneDir, problems: list[Problem]) -> None:
    from kubric_gen.truth.boundaries import BEHIND, FRONT, NEIGHBOURS

    bits = sd.occlusion_boundaries()
    if bits is None:
        return
    seg = _layer(sd, "segmentation", problems)
    depth = _layer(sd, "depth", problems).astype(np.float64)
    h, w = seg.shape[1:]
    for k, (d_row, d_col) in enumerate(NEIGHBOURS):
        opposite = NEIGHBOURS.index((-d_row, -d_col))
        a = (slice(None), slice(max(0, -d_row), h - max(0, d_row)), slice(max(0, -d_col), w - max(0, d_col)))
        b = (slice(None), slice(max(0, d_row), h - max(0, -d_row)), slice(max(0, d_col), w - max(0, -d_col)))
        front, behind = (bits >> (FRONT + k)) & 1, (bits >> (BEHIND + k)) & 1
        edge = (front | behind)[a] == 1
        outward = np.ones(bits.shape, dtype=bool)
        outward[a] = False
        there_front, there_behind = (bits[b] >> (FRONT + opposite)) & 1, (bits[b] >> (BEHIND + opposite)) & 1
        found = []
        if ((front | behind)[outward] == 1).any():
            found.append("an edge at the image border is marked")
        if (edge != ((there_front | there_behind) == 1)).any():
            found.append("a boundary is marked on one side of an edge only")
        if (edge & (behind[a] == 1) & (there_behind == 1)).any():
            found.append("both sides of an edge are marked behind")
        if (~edge & (seg[a] != seg[b])).any():
            found.append("the segmentation changes across an edge that is not marked")
        with np.errstate(invalid="ignore"):
            if ((front[a] == 1) & (depth[a] > depth[b])).any() or ((behind[a] == 1) & (depth[a] <= depth[b])).any():
                found.append("a side marked in front is the farther one")
        if found:
            problems.append(Problem(fmt.BOUNDARIES, "boundaries", f"{found[0]} (neighbour {k}: "
                                    f"d_row {d_row}, d_col {d_col})"))
            return


def _intrinsics(sd: SceneDir, problems: list[Problem]) -> None:
    images = sd.intrinsics()
    if images is None:
        return
    step = 1 + INTRINSICS_RELATIVE_TOLERANCE

    def bad(message: str) -> None:
        problems.append(Problem(fmt.INTRINSICS, "intrinsics", message))
        raise _Found

    for name, high in (("albedo", step), ("glossy_color", step), ("shading", np.inf), ("residual", np.inf)):
        a = images[name]
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > high:
            bad(f"{name} must lie in [0, {'1' if high < np.inf else 'inf'}) (got {a.min():.4g}..{a.max():.4g})")
    mask = images[fmt.INTRINSIC_MASK]
    if (mask & ~np.isfinite(_layer(sd, "depth", problems))).any():
        bad(f"{fmt.INTRINSIC_MASK} is set where no surface is seen")
    seg = _layer(sd, "segmentation", problems)
    for k in range(sd.num_instances):
        values = mask[seg == k + 1]
        if values.any() and not values.all():
            bad(f"{fmt.INTRINSIC_MASK} is set on part of instance {k} only (it is one material)")
    settings = sd.provenance.get("render_settings") if fmt.PROVENANCE in sd.files else None
    if isinstance(settings, dict) and settings.get("view_transform") == "Standard" and not settings.get("denoise"):
        srgb = srgb_encode(images["albedo"] * images["shading"] + images["residual"])
        rgb = _layer(sd, "rgba", problems)[..., :3]
        error = np.abs(srgb - rgb / 255.0)
        if error.max() > INTRINSICS_RGB_TOLERANCE:
            t, r, c, _ = np.unravel_index(int(np.argmax(error)), error.shape)
            bad(f"albedo x shading + residual at frame {t}, pixel (row {r}, col {c}) encodes to "
                f"{np.round(srgb[t, r, c] * 255, 1).tolist()}, the RGB frame is {rgb[t, r, c].tolist()}")


def _scene_flow(sd: SceneDir, problems: list[Problem]) -> None:
    arrays = sd.scene_flow()
    if arrays is None:
        return
    cam = _poses(sd.metadata["camera"], sd.num_frames)
    if cam is None:
        return
    poses = arrays["camera_poses"][1:-1]  # frames 0..T-1
    same_rotation = np.abs(np.einsum("ij,ij->i", poses[:, 3:], cam[1]))  # |q . q'| = 1: one rotation
    if np.abs(poses[:, :3] - cam[0]).max() > 1e-6 or np.abs(same_rotation - 1).max() > 1e-6:
        problems.append(Problem(fmt.SCENE_FLOW, "scene_flow", "camera_poses are not metadata.json's camera poses"))
        return
    f, sw = float(sd.metadata["camera"]["focal_length"]), float(sd.metadata["camera"]["sensor_width"])
    k = geometry.intrinsics(f, sw, sd.resolution)
    depth = _layer(sd, "depth", problems)
    rng = np.random.default_rng(0)
    for name, step in (("forward", 1), ("backward", -1)):
        camera = arrays[f"{name}_scene_flow_camera"]
        flow = _layer(sd, f"{name}_flow", problems)
        lo, hi = sd.range(f"{name}_flow")
        quantum = (hi - lo) / fmt.MAX_16BIT / 2
        for t in range(sd.num_frames):
            rows, cols = np.nonzero(np.isfinite(depth[t]))
            pick = rng.choice(rows.size, size=min(FLOW_SAMPLES_PER_FRAME, rows.size), replace=False)
            rows, cols = rows[pick], cols[pick]
            _, directions = geometry.image_rays(np.stack([cols + 0.5, rows + 0.5], -1), cam[0][t], cam[1][t], f, sw,
                                                sd.resolution)
            here = geometry.world_to_camera(cam[0][t] + directions * depth[t, rows, cols, None], cam[0][t], cam[1][t])
            moved = here + step * camera[t, rows, cols].astype(np.float64)  # in the other frame's camera
            front = moved[:, 2] > 1e-9
            xy = (moved[front] @ k[:2].T) / moved[front, 2:3]
            expected = step * np.stack([xy[:, 1] - (rows[front] + 0.5), xy[:, 0] - (cols[front] + 0.5)], -1)
            got = flow[t, rows[front], cols[front]].astype(np.float64)
            error = np.linalg.norm(got - expected, axis=-1)
            allowed = quantum * math.sqrt(2) + FLOW_TOLERANCE_PX + FLOW_RELATIVE_TOLERANCE * np.linalg.norm(
                expected, axis=-1)
            if (error > allowed).any():
                i = int(np.argmax(error - allowed))
                problems.append(Problem(fmt.SCENE_FLOW, "scene_flow",
                                        f"depth plus the {name} scene flow at frame {t} projects to a flow of "
                                        f"{np.round(expected[i], 4).tolist()} px at pixel (row {rows[front][i]}, "
                                        f"col {cols[front][i]}), the {name}_flow layer says "
                                        f"{np.round(got[i], 4).tolist()}"))
                return


def _normals(sd: SceneDir, problems: list[Problem]) -> None:
    normal = _layer(sd, "normal", problems)
    depth = _layer(sd, "depth", problems)
    for t in range(len(normal)):
        seen = np.isfinite(depth[t])
        if not seen.any():
            continue
        off = np.abs(np.linalg.norm(normal[t][seen].astype(np.float64), axis=-1) - 1)
        if off.max() > NORMAL_TOLERANCE:
            problems.append(Problem(fmt.LAYER["normal"].file(t), "normals",
                                    f"{int((off > NORMAL_TOLERANCE).sum())} normals are not unit vectors "
                                    f"(|n| off by up to {off.max():.3g})"))
            return


def _tracks(sd: SceneDir, problems: list[Problem]) -> None:
    try:
        tracks = sd.tracks()
    except KubricGenError as e:
        problems.append(Problem(fmt.TRACKS, "tracks", str(e)))
        return
    if tracks is None:
        return
    width, height = sd.resolution
    xy, occ, q = tracks.target_points, tracks.occluded, tracks.query_points
    for what, a in (("target_points", xy), ("query_points", q)):
        if not np.isfinite(a).all():
            problems.append(Problem(fmt.TRACKS, "tracks", f"{what} are not all finite"))
            return
    visible = ~occ
    outside = visible & ((xy[..., 0] < 0) | (xy[..., 0] > width) | (xy[..., 1] < 0) | (xy[..., 1] > height))
    if outside.any():
        n, t = (int(v[0]) for v in np.nonzero(outside))
        problems.append(Problem(fmt.TRACKS, "tracks", f"{int(outside.sum())} visible track points lie outside the "
                                                      f"{width}x{height} image (track {n}, frame {t}: "
                                                      f"{xy[n, t].round(3).tolist()})"))
    if len(q) and not ((q[:, 0] >= 0).all() and (q[:, 0] < sd.num_frames).all()):
        problems.append(Problem(fmt.TRACKS, "tracks", f"query frames must lie in [0, {sd.num_frames})"))


def _events(sd: SceneDir, problems: list[Problem]) -> None:
    n, t_len = sd.num_instances, sd.num_frames
    for j, c in enumerate(sd.events.get("collisions", []) if isinstance(sd.events, dict) else []):
        try:
            pair = [int(i) for i in c["instances"]]
            frame = float(c["frame"])
            values = [float(c["force"]), *map(float, c["position"]), *map(float, c["contact_normal"])]
        except (KeyError, TypeError, ValueError) as e:
            problems.append(Problem(fmt.EVENTS, "events", f"collisions[{j}] is malformed ({type(e).__name__}: {e})"))
            continue
        if len(pair) != 2 or not all(-1 <= i < n for i in pair):
            problems.append(Problem(fmt.EVENTS, "events", f"collisions[{j}].instances {pair} must be instance "
                                                          f"indices in [-1, {n})"))
        if not (-1 <= frame <= t_len) or not all(math.isfinite(v) for v in values):
            problems.append(Problem(fmt.EVENTS, "events", f"collisions[{j}] has frame {frame} or a non-finite value"))


