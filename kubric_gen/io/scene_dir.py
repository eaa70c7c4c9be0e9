"""The scene directory: MOVi's layout, written atomically.

Layout (see docs/scene_directory.md): rgba_%05d.png, metadata.json, events.json,
provenance.json (ours), preview.mp4 (ours; preview.gif without ffmpeg) and
contact_sheet.png (ours); a scene with several cameras holds one such directory per
camera (`SceneWriter.view`) and the files they share (`SceneWriter.finish_views`). The directory is assembled under a
temporary name beside the target and renamed into place at the end, so a crash
never leaves a directory that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kubric_gen import geometry
from kubric_gen.io import format as fmt
from kubric_gen.io import layers
from kubric_gen.labels import DEFORMABLE_INSTANCE_KEYS, GENERIC, LabelSchema
from kubric_gen.parallel import parallel_map
from kubric_gen.scene import ArticulatedObject, DeformableObject, Scene, SceneObject
from kubric_gen.scene.materials import mirror_or_transparent
from kubric_gen.simulation.trajectory import Trajectory
from kubric_gen.truth.result import CrossViewTruth, GroundTruth
from kubric_gen.visual import sheet, video

TMP_PREFIX = ".tmp-"
log = logging.getLogger(__name__)


def _rounded(value: Any) -> Any:
    """Plain JSON types (numpy arrays and scalars become lists and floats)."""
    if isinstance(value, np.ndarray):
        return _rounded(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_json(path: Path, data: Any) -> None:
    with open(path, "w") as f:
        json.dump(_rounded(data), f, indent=2, sort_keys=True, allow_nan=False)
        f.write("\n")


def instances_of(scene: Scene, truth: GroundTruth | None = None) -> list[SceneObject]:
    """MOVi's instances: the non-background objects visible in some frame, by total
    visibility (from the ground truth); without it, all non-background objects."""
    if truth is not None:
        return [scene.object(name) for name in truth.instances]
    return [o for o in scene.objects if not o.is_background]


def camera_metadata(scene: Scene) -> dict:
    cam = scene.camera
    poses = [cam.pose_at(f) for f in range(scene.num_frames)]
    return {
        "K": geometry.normalized_intrinsics(cam.focal_length, cam.sensor_width, scene.resolution),
        "intrinsics": geometry.intrinsics(cam.focal_length, cam.sensor_width, scene.resolution),
        "R": geometry.pose_matrix(poses[0].position, poses[0].quaternion),
        "focal_length": cam.focal_length,
        "sensor_width": cam.sensor_width,
        "field_of_view": cam.field_of_view,
        "positions": [p.position for p in poses],
        "quaternions": [p.quaternion for p in poses],
    }


def _image_positions(scene: Scene, positions: np.ndarray) -> np.ndarray:
    """Projected object centres (T, 2), normalised (x, y) in [0, 1] for points in view."""
    out = np.zeros((len(positions), 2))
    for f, p in enumerate(positions):
        pose = scene.camera.pose_at(f)
        xy = geometry.project(p, pose.position, pose.quaternion, scene.camera.focal_length,
                              scene.camera.sensor_width, scene.resolution)
        out[f] = xy / np.asarray(scene.resolution, dtype=float)
    return out


def instance_metadata(scene: Scene, trajectory: Trajectory, obj: SceneObject, truth: GroundTruth | None = None,
                      k: int = 0) -> dict:
    """One entry of metadata.json's ``instances``: MOVi's fields (those Kubric's MOVi-A..F builders
    read: asset_id, mass, friction, restitution, the per-frame poses, image_positions, bboxes_3d,
    bboxes, bbox_frames, visibility, and the world's labels such as category, scale, is_dynamic),
    the mesh's size as Kubric's asset metadata gives it (``nr_faces``, ``nr_vertices``: of the mesh
    the object renders with), and ours: name, motion, bounds and ``scale_xyz``, the (3,) scale the
    object is rendered with (a world's label ``scale``, MOVi-B..F's one number, replaces ``scale``),
    so that ``bboxes_3d`` = the corners of ``bounds`` scaled by ``scale_xyz``, rotated and moved
    (a deformable's: the world-axis box of its vertices in each frame; its ``bounds`` are its rest
    shape's, and it names its meshes in deformations.npz by ``deformation_index``)."""
    from kubric_gen import meshes  # trimesh: only writers need it, not every reader of this module

    i = trajectory.index(obj.name)
    if isinstance(obj, ArticulatedObject):
        shape = articulated_metadata(obj, trajectory, truth)
        bounds, faces, vertices, bboxes_3d = (shape.pop(k) for k in ("bounds", "nr_faces", "nr_vertices", "bboxes_3d"))
    elif isinstance(obj, DeformableObject):
        mesh = obj.rest_mesh()
        bounds, faces, vertices = np.array(mesh.bounds), len(mesh.faces), len(mesh.vertices)
        points = trajectory.deformations[obj.name].vertices
        bboxes_3d = np.stack([geometry.box_corners(p.min(axis=0), p.max(axis=0)) for p in points])
        values = (obj.body, deformable_names(scene).index(obj.name), obj.stiffness, obj.bending_stiffness,
                  obj.damping, list(obj.pinned), [list(a) for a in obj.attached])
        shape = dict(zip(DEFORMABLE_INSTANCE_KEYS, values, strict=True))
    else:
        mesh = meshes.object_mesh(obj)
        bounds, faces, vertices, shape = meshes.local_bounds(obj), len(mesh.faces), len(mesh.vertices), {}
        corners = geometry.box_corners(*bounds)
        bboxes_3d = np.stack([geometry.transform_points(corners, trajectory.positions[i, f],
                                                        trajectory.quaternions[i, f], obj.scale)
                              for f in range(trajectory.num_frames)])
    return {
        "name": obj.name,
        "asset_id": obj.asset_id,
        "mass": meshes.object_mass(obj),
        "friction": obj.friction,
        "restitution": obj.restitution,
        "motion": obj.motion,
        "scale": obj.scale,  # a world's label "scale" (MOVi-B..F: one number) takes its place
        "scale_xyz": obj.scale,  # the rendered scale, whatever the labels say
        "bounds": bounds,
        "nr_faces": faces,
        "nr_vertices": vertices,
        **obj.labels,
        "positions": trajectory.positions[i],
        "quaternions": trajectory.quaternions[i],
        "velocities": trajectory.velocities[i],
        "angular_velocities": trajectory.angular_velocities[i],
        "image_positions": _image_positions(scene, trajectory.positions[i]),
        "bboxes_3d": bboxes_3d,
        **({"bboxes": truth.bboxes[k], "bbox_frames": truth.bbox_frames[k], "visibility": truth.visibility[k]}
           if truth is not None else {}),
        **(amodal_metadata(truth, k) if truth is not None and truth.amodal is not None else {}),
        **shape,
    }


def articulated_metadata(obj: ArticulatedObject, trajectory: Trajectory, truth: GroundTruth | None = None) -> dict:
    """An articulated instance's shape and links: ``bounds`` of all its links in its base frame at
    frame 0, ``bboxes_3d`` the corners of each frame's such bounds (so the box follows the pose),
    the mesh sizes summed over the links; ``links`` (URDF order: part id k is links[k - 1]) with
    ``link_positions`` (L, T, 3) and ``link_quaternions`` (L, T, 4) of their URDF frames, the kinematic
    tree ``joints`` (every joint: name, type, parent, child, origin, axis, limits) and the movable
    joints' ``joint_names``, ``joint_positions`` and ``joint_velocities`` (J, T; rad or m, per second);
    each link's ``link_bounds`` (L, 2, 3: its mesh's in its frame, 0 without geometry: the corners
    moved by the link's pose are its 3D box) and ``link_bboxes``/``link_bbox_frames`` (per link, MOVi's
    2D boxes of its visible pixels, from the part layer);
    with ball joints, ``ball_joint_names`` and ``joint_rotations`` (B, T, 4; w, x, y, z)."""
    from kubric_gen import meshes

    states = trajectory.links[obj.name]
    i = trajectory.index(obj.name)
    link_meshes = meshes.link_meshes(obj)
    order = [states.links.index(name) for name in link_meshes]
    per_frame = []
    for f in range(trajectory.num_frames):
        world = np.concatenate([geometry.transform_points(m.vertices, states.positions[k, f], states.quaternions[k, f])
                                for k, m in zip(order, link_meshes.values(), strict=True)])
        base = geometry.world_to_local(world, trajectory.positions[i, f], trajectory.quaternions[i, f])
        per_frame.append(np.stack([base.min(axis=0), base.max(axis=0)]))
    bboxes_3d = np.stack([geometry.transform_points(geometry.box_corners(*b), trajectory.positions[i, f],
                                                    trajectory.quaternions[i, f]) for f, b in enumerate(per_frame)])
    robot = obj.robot
    return {
        "bounds": per_frame[0], "bboxes_3d": bboxes_3d,
        "nr_faces": sum(len(m.faces) for m in link_meshes.values()),
        "nr_vertices": sum(len(m.vertices) for m in link_meshes.values()),
        "urdf": os.path.basename(obj.path),
        "links": states.links, "link_positions": states.positions, "link_quaternions": states.quaternions,
        "joints": [{"name": j.name, "type": j.type, "parent": j.parent, "child": j.child, "xyz": j.xyz, "rpy": j.rpy,
                    "axis": j.axis, "lower": j.lower if np.isfinite(j.lower) else None,
                    "upper": j.upper if np.isfinite(j.upper) else None} for j in robot.joints],
        "joint_names": states.joints, "joint_positions": states.joint_positions,
        "joint_velocities": states.joint_velocities,
        "link_bounds": np.array([link_meshes[name].bounds if name in link_meshes else np.zeros((2, 3))
                                 for name in states.links]),
        **({"link_bboxes": [b for b, _ in truth.link_bboxes[obj.name]],
            "link_bbox_frames": [f for _, f in truth.link_bboxes[obj.name]]}
           if truth is not None and truth.link_bboxes and obj.name in truth.link_bboxes else {}),
        **({"ball_joint_names": states.balls, "joint_rotations": states.joint_rotations} if states.balls else {}),
    }


def deformable_names(scene: Scene) -> list[str]:
    """The deformable objects' names in scene order: index k is their k in deformations.npz."""
    return [o.name for o in scene.objects if isinstance(o, DeformableObject)]


def write_deformations(path: Path, scene: Scene, trajectory: Trajectory) -> None:
    """deformations.npz (`format.DEFORMATIONS`): every deformable object's vertices per frame,
    faces and rest shape."""
    deformables = [o for o in scene.objects if isinstance(o, DeformableObject)]
    arrays: dict[str, np.ndarray] = {"names": np.asarray([o.name for o in deformables], dtype=str)}
    for k, obj in enumerate(deformables):
        mesh = obj.rest_mesh()
        arrays[f"vertices_{k}"] = np.asarray(trajectory.deformations[obj.name].vertices, dtype=np.float32)
        arrays[f"faces_{k}"] = np.asarray(mesh.faces, dtype=np.int32)
        arrays[f"rest_vertices_{k}"] = np.asarray(mesh.vertices, dtype=np.float32)
    layers.save_npz(path, arrays)


def amodal_metadata(truth: GroundTruth, k: int) -> dict:
    """Instance k's amodal fields of metadata.json (`truth.result.AmodalInstances`): per frame its
    silhouette's pixels, visible fraction (visibility / amodal_pixels) and in-image fraction, and
    its amodal boxes as MOVi's (normalised [ymin, xmin, ymax, xmax] with their frames), clipped at
    the image border and not (on the image plane extended by one image size past each border)."""
    a = truth.amodal
    assert a is not None
    values = (a.pixels[k], a.visible_fraction[k], a.in_image_fraction[k], a.bboxes[k], a.bbox_frames[k],
              a.unclipped_bboxes[k], a.unclipped_frames[k])
    return dict(zip(fmt.AMODAL_FIELDS, values, strict=True))


def scene_metadata(scene: Scene, trajectory: Trajectory, flags: dict, truth: GroundTruth | None = None,
                   label_schema: LabelSchema | None = None) -> dict:
    instances = instances_of(scene, truth)
    return {
        "flags": flags,
        "label_schema": (label_schema or GENERIC).to_dict(),
        "metadata": {
            "resolution": list(scene.resolution),
            "num_frames": scene.num_frames,
            "num_instances": len(instances),
            "seed": scene.seed,
            "gravity": scene.gravity,
            "frame_rate": scene.frame_rate,
            "step_rate": scene.step_rate,
            "background": scene.metadata.get("background", scene.background.kind),
            "scene_metadata": scene.metadata,
            # more than 255 instances: segmentation PNGs are 16-bit greyscale, not 8-bit palette
            "segmentation_16bit": len(instances) > 255,
        },
        "camera": camera_metadata(scene),
        "instances": [instance_metadata(scene, trajectory, o, truth, k) for k, o in enumerate(instances)],
    }


def events(scene: Scene, trajectory: Trajectory, truth: GroundTruth | None = None) -> dict:
    """Collisions with MOVi's instance indices (-1 for the floor or any non-instance)."""
    index = {o.name: k for k, o in enumerate(instances_of(scene, truth))}
    cam = scene.camera
    out = []
    for c in trajectory.collisions:
        pose = cam.pose_at(int(round(c.frame)))
        xy = geometry.project(c.position, pose.position, pose.quaternion, cam.focal_length, cam.sensor_width,
                              scene.resolution) / np.asarray(scene.resolution, dtype=float)
        out.append({"instances": [index.get(n, -1) for n in c.objects], "objects": list(c.objects),
                    "frame": c.frame, "force": c.force, "position": c.position,
                    "contact_normal": c.normal, "image_position": xy})
    return {"collisions": out}


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory that becomes `target` on success.

    On an exception the temporary directory is removed and `target` is untouched.
    With `overwrite`, an existing `target` is replaced only once the new one is complete.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f"{TMP_PREFIX}{target.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            if not overwrite:
                raise FileExistsError(f"{target} exists")
            trash = target.parent / f"{TMP_PREFIX}{target.name}-old-{uuid.uuid4().hex[:8]}"
            target.rename(trash)
            tmp.rename(target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_frames(directory: Path, rgba: np.ndarray, threads: int = 0) -> None:
    """rgba_%05d.png for every frame, `threads` frames at a time (0: one per core)."""
    def write(f: int) -> None:
        data = layers.encode_png(rgba[f])
        with open(directory / f"rgba_{f:05d}.png", "wb") as out:
            out.write(data)

    parallel_map(write, range(len(rgba)), threads)


def write_preview(directory: Path, rgba: np.ndarray, frame_rate: int) -> Path:
    """The RGB frames as a looping preview at the scene's frame rate: preview.mp4 (H.264,
    deterministic bytes), or preview.gif where ffmpeg is missing or fails (logged)."""
    try:
        return video.write_mp4(directory / fmt.PREVIEW, rgba, frame_rate)
    except video.VideoError as e:
        log.warning("%s: %s; writing %s instead", fmt.PREVIEW, e, fmt.PREVIEW_GIF)
    return video.write_gif(directory / fmt.PREVIEW_GIF, rgba, frame_rate)


def write_contact_sheet(directory: Path, rgba: np.ndarray, truth: GroundTruth | None = None) -> Path:
    """contact_sheet.png: RGB / segmentation / depth / forward flow of 4 frames (only RGB
    without ground truth), from the arrays in memory."""
    if truth is None:
        return sheet.write_contact_sheet(directory / fmt.CONTACT_SHEET, rgba)
    return sheet.write_contact_sheet(directory / fmt.CONTACT_SHEET, rgba, truth.segmentation, truth.depth,
                                     truth.forward_flow)


def intrinsics_mask(scene: Scene, object_index: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: pixels whose first surface is metallic or transmissive
    (`scene.materials.mirror_or_transparent`), from the ray-cast object index (background
    objects included)."""
    shows_others = np.array([mirror_or_transparent(o.material) for o in scene.objects] + [False])
    return shows_others[np.asarray(object_index)]  # index -1 (nothing hit) takes the last, False


def _check_rgba(scene: Scene, rgba: np.ndarray) -> None:
    if rgba.shape[:3] != (scene.num_frames, scene.resolution[1], scene.resolution[0]):
        raise ValueError(f"rgba has shape {rgba.shape}, scene needs "
                         f"({scene.num_frames}, {scene.resolution[1]}, {scene.resolution[0]}, 4)")


class SceneWriter:
    """A scene directory assembled piece by piece in a temporary folder (see `scene_writer`):
    the ground-truth files may be written from another thread while the frames render."""

    def __init__(self, directory: Path, threads: int = 0) -> None:
        self.directory = directory
        self.threads = threads
        self.timings: dict[str, float] = {}

    def write_truth(self, truth: GroundTruth, float_layers: bool = False) -> None:
        start = time.perf_counter()
        layers.write_layers(self.directory, truth, float_layers=float_layers, threads=self.threads)
        self.timings["write_layers"] = time.perf_counter() - start

    def finish(self, scene: Scene, trajectory: Trajectory, rgba: np.ndarray, flags: dict, provenance: dict,
               truth: GroundTruth | None = None, preview: bool = True,
               label_schema: LabelSchema | None = None, intrinsics: dict[str, np.ndarray] | None = None) -> None:
        """The frames, metadata, intrinsic images (when rendered: `RenderResult.intrinsics`),
        preview and completion marker: the directory is complete."""
        _check_rgba(scene, rgba)
        start = time.perf_counter()
        tmp = self.directory
        write_frames(tmp, rgba, self.threads)
        if intrinsics is not None:
            if truth is None:
                raise ValueError("intrinsic images need the ground truth (its object index) for their mask")
            layers.write_intrinsics(tmp / fmt.INTRINSICS, intrinsics, intrinsics_mask(scene, truth.object_index))
        write_json(tmp / "metadata.json", scene_metadata(scene, trajectory, flags, truth, label_schema))
        write_json(tmp / "events.json", events(scene, trajectory, truth))
        write_json(tmp / "scene.json", scene.to_dict())
        if deformable_names(scene):
            write_deformations(tmp / fmt.DEFORMATIONS, scene, trajectory)
        if preview:
            preview_start = time.perf_counter()
            write_preview(tmp, rgba, scene.frame_rate)
            write_contact_sheet(tmp, rgba, truth)
            self.timings["preview"] = time.perf_counter() - preview_start  # part of "write"
        self.timings["write"] = time.perf_counter() - start  # the layers' files: "write_layers"
        if isinstance(provenance.get("timings"), dict):
            provenance["timings"].update(self.timings)
        write_json(tmp / "provenance.json", provenance)
        write_json(tmp / fmt.COMPLETE, completion_marker(tmp))

    def view(self, camera: str) -> SceneWriter:
        """The writer of camera `camera`'s view (a scene directory inside this one)."""
        directory = self.directory / fmt.view_directory(camera)
        directory.mkdir()
        return SceneWriter(directory, self.threads)

    def finish_views(self, scene: Scene, trajectory: Trajectory, rgbas: list[np.ndarray], flags: dict,
                     provenance: dict, truths: list[GroundTruth], cross_view: CrossViewTruth, preview: bool = True,
                     label_schema: LabelSchema | None = None) -> None:
        """The scene's own files once every view is finished (`view(...).finish(...)`): the
        metadata of the rig, scene.json, cross_view.npz, the views' contact sheet, the marker."""
        start = time.perf_counter()
        tmp = self.directory
        write_json(tmp / fmt.METADATA, views_metadata(scene, trajectory, flags, truths, label_schema))
        write_json(tmp / fmt.SCENE, scene.to_dict())
        write_cross_view(tmp / fmt.CROSS_VIEW, cross_view)
        if preview:
            sheet.write_views_sheet(tmp / fmt.CONTACT_SHEET, rgbas, [cam.name for cam in scene.views])
        self.timings["write_views"] = time.perf_counter() - start
        if isinstance(provenance.get("timings"), dict):
            provenance["timings"].update(self.timings)
        write_json(tmp / fmt.PROVENANCE, provenance)
        write_json(tmp / fmt.COMPLETE, completion_marker(tmp))


def views_metadata(scene: Scene, trajectory: Trajectory, flags: dict, truths: list[GroundTruth],
                   label_schema: LabelSchema | None = None) -> dict:
    """metadata.json of a scene with several cameras: MOVi's keys (with `camera` the first
    camera's, and each instance's camera-free fields), plus `views` (folders, in camera
    order), `cameras` (each camera's metadata with its `name` and `directory`) and `rig`
    (`baselines`: distances between the camera centres at frame 0, metres)."""
    views = [scene.view(cam.name) for cam in scene.views]
    first = scene_metadata(views[0], trajectory, flags, truths[0], label_schema)
    per_view = ("image_positions", "bboxes", "bbox_frames", "visibility", *fmt.AMODAL_FIELDS)
    centres = np.array([cam.pose_at(0).position for cam in scene.views])
    first["metadata"]["num_cameras"] = len(views)
    return {
        **first,
        "instances": [{k: v for k, v in inst.items() if k not in per_view} for inst in first["instances"]],
        "views": [fmt.view_directory(cam.name) for cam in scene.views],
        "cameras": [{"name": v.camera.name, "directory": fmt.view_directory(v.camera.name), **camera_metadata(v)}
                    for v in views],
        "rig": {"baselines": np.linalg.norm(centres[:, None] - centres[None], axis=-1)},
    }


def write_cross_view(path: Path, truth: CrossViewTruth) -> None:
    """cross_view.npz: the arrays of `truth` (those it has), compressed, byte-reproducible;
    not the correspondences, which readers compute from the views' exact depth as the
    ground truth did (`geometry.correspondences`): 16 bytes per pixel and camera pair saved."""
    arrays = {k: np.asarray(v) for k, v in vars(truth).items() if v is not None and k != "correspondences"}
    layers.save_npz(path, {**arrays, "cameras": np.asarray(truth.cameras, dtype=str)})


@contextlib.contextmanager
def scene_writer(target: str | os.PathLike, overwrite: bool = False, threads: int = 0) -> Iterator[SceneWriter]:
    """A `SceneWriter` whose directory becomes `target` when the block ends without an
    exception (after `finish`); on an exception nothing is left behind (`atomic_directory`)."""
    with atomic_directory(target, overwrite=overwrite) as tmp:
        writer = SceneWriter(tmp, threads)
        yield writer
        if not (tmp / fmt.COMPLETE).exists():
            raise RuntimeError("scene_writer: finish() was not called; the scene directory is incomplete")


def write_scene(target: str | os.PathLike, scene: Scene, trajectory: Trajectory, rgba: np.ndarray,
                flags: dict, provenance: dict, truth: GroundTruth | None = None, float_layers: bool = False,
                overwrite: bool = False, preview: bool = True, label_schema: LabelSchema | None = None,
                threads: int = 0) -> Path:
    """Write one complete scene directory atomically and return its path.

    `label_schema` (default: the generic one) is recorded in metadata.json for the readers."""
    _check_rgba(scene, rgba)  # before anything is written
    with scene_writer(target, overwrite=overwrite, threads=threads) as writer:
        if truth is not None:
            writer.write_truth(truth, float_layers)
        writer.finish(scene, trajectory, rgba, flags, provenance, truth, preview, label_schema)
    return Path(target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def completion_marker(directory: Path) -> dict:
    """The `_COMPLETE` record of a finished scene directory: every file's SHA-256 (None for
    provenance.json, whose timings vary by run) and the content hash over them (nothing
    about the directory's name or place, so the same scene has the same record anywhere)."""
    files = {p.name: (None if p.name in fmt.UNHASHED else _sha256(p))
             for p in sorted(directory.iterdir()) if p.is_file() and p.name != fmt.COMPLETE}
    for view in sorted(p for p in directory.iterdir() if p.is_dir() and p.name.startswith(fmt.VIEW_PREFIX)):
        files.update({f"{view.name}/{p.name}": (None if p.name in fmt.UNHASHED else _sha256(p))
                      for p in sorted(view.iterdir()) if p.is_file()})  # the view's own _COMPLETE too
    return {"files": files, "content_sha256": fmt.content_hash(files)}


def read_metadata(directory: str | os.PathLike) -> dict:
    """metadata.json of a scene directory (checked to hold MOVi's metadata, camera and instances)."""
    from kubric_gen.io.reader import SceneDir

    return SceneDir(directory).metadata


def read_rgba(directory: str | os.PathLike) -> np.ndarray:
    """The RGBA frames (T, H, W, 4) uint8 of a scene directory."""
    from kubric_gen.io.reader import SceneDir

    return SceneDir(directory).stored("rgba")
