"""Optional dataset features beyond MOVi's (`build-dataset --extras`): amodal masks and their
annotations, scene flow, occlusion boundaries, intrinsic images. A build without extras has exactly the features
it had before they existed; each extra adds keys no MOVi feature has.

- amodal: per instance, amodal_masks (T, H, W) bool (deflated); amodal_pixels, visible_fraction,
  in_image_fraction (T,); amodal_bboxes, amodal_bbox_frames (clipped at the border);
  amodal_bboxes_unclipped (n, 4), amodal_bbox_unclipped_frames.
- scene_flow: forward_scene_flow, backward_scene_flow, forward_scene_flow_camera,
  backward_scene_flow_camera (T, H, W, 3) float32, deflated.
- occlusion_boundaries: occlusion_boundaries (T, H, W, 1) uint8 bits (`truth.boundaries`); only
  at the scenes' own resolution.
- intrinsics (scenes rendered with --intrinsics): albedo, shading, glossy_color, residual
  (T, H, W, 3) float16 linear RGB, mirror_or_transparent (T, H, W) bool, deflated.
- parts: part_index (T, H, W, 1) uint8, the link seen at each pixel (1 + its index in the
  instance's URDF links; 0: a rigid object or nothing; all 0 in scenes without articulated
  objects); with a leading instance axis K (instances differ in their numbers of links and joints,
  so these are padded with zeros to the example's most): link_positions (K, L, T, 3),
  link_quaternions (K, L, T, 4), joint_positions and joint_velocities (K, J, T), the ball joints'
  joint_rotations (K, B, T, 4) float32, and num_links, num_joints, num_ball_joints (K,) int32 (0
  for a rigid object).
- deformations: the deformable instances' meshes (deformations.npz), per instance K and padded with
  zeros to the example's most vertices and faces: deformed_vertices (K, T, V, 3) float32 world
  positions per frame, rest_vertices (K, V, 3) float32 (what the object coordinates name),
  deformed_faces (K, F, 3) int32, and num_vertices, num_faces (K,) int32 (0 for a rigid object).

Scenes with several cameras: each of these with a leading camera axis C (boxes dense (C, T, 4),
zeros where there is none, as their `bboxes`; no *_frames lists).

Downscaled configs take every f-th pixel as MOVi's layers do (masks and scene flow); pixel counts
and fractions stay those of the full resolution, as MOVi's visibility does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kubric_gen.datasets.config import DatasetError
from kubric_gen.io import SceneDir, SceneDirError
from kubric_gen.io import format as fmt

EXTRAS = ("amodal", "scene_flow", "occlusion_boundaries", "intrinsics", "parts", "deformations")
PART_ARRAYS = {"link_positions": 3, "link_quaternions": 4, "joint_positions": 0, "joint_velocities": 0,
               "joint_rotations": 4}
"""The instances' arrays of the extra "parts": name -> trailing size (0: none); (K, L or J, T, ...)."""
_COUNTS = {"link_positions": ("num_links", "links"), "link_quaternions": ("num_links", "links"),
           "joint_positions": ("num_joints", "joint_names"), "joint_velocities": ("num_joints", "joint_names"),
           "joint_rotations": ("num_ball_joints", "ball_joint_names")}  # array -> its count and its names' key
DEFORMATION_ARRAYS = ("deformed_vertices", "rest_vertices", "deformed_faces", "num_vertices", "num_faces")
"""The top-level features of the extra "deformations" (world data: the same in every camera's view)."""
_PER_SCENE = (*PART_ARRAYS, "num_links", "num_joints", "num_ball_joints",
              *DEFORMATION_ARRAYS)  # the same in every view: no camera axis


def check_extras(extras: Sequence[str] | str | None, factor: int) -> tuple[str, ...]:
    """The extras asked for, in EXTRAS order; DatasetError for an unknown one, or for boundaries
    of a downscaled config (a neighbour's edge is not defined across skipped pixels)."""
    if extras is None:
        return ()
    names = [e.strip() for e in extras.split(",") if e.strip()] if isinstance(extras, str) else list(extras)
    unknown = [e for e in names if e not in EXTRAS]
    if unknown:
        raise DatasetError(f"--extras: {unknown[0]!r} is not one of {', '.join(EXTRAS)}")
    if "occlusion_boundaries" in names and factor > 1:
        raise DatasetError("--extras occlusion_boundaries: only at the scenes' own resolution (this config "
                           f"downscales by {factor})")
    return tuple(e for e in EXTRAS if e in names)


def features(extras: Sequence[str], t: int, h: int, w: int) -> tuple[dict, dict]:
    """(top-level, per-instance) TFDS features of `extras`."""
    import tensorflow_datasets as tfds

    f = tfds.features
    top: dict = {}
    instance: dict = {}
    if "amodal" in extras:
        series = {"doc": "per frame, full-resolution pixels"}
        instance.update({
            "amodal_masks": f.Tensor(shape=(t, h, w), dtype=np.bool_, encoding=f.Encoding.ZLIB,
                                     doc="where the instance alone would be seen"),
            "amodal_pixels": f.Tensor(shape=(t,), dtype=np.int32, **series),
            "visible_fraction": f.Tensor(shape=(t,), dtype=np.float32, doc="visibility / amodal_pixels"),
            "in_image_fraction": f.Tensor(shape=(t,), dtype=np.float32, doc="amodal pixels inside the image"),
            "amodal_bboxes": f.Sequence(f.BBoxFeature(doc="normalised ymin, xmin, ymax, xmax, clipped")),
            "amodal_bbox_frames": f.Sequence(f.Scalar(dtype=np.int32)),
            "amodal_bboxes_unclipped": f.Sequence(f.Tensor(shape=(4,), dtype=np.float32, doc="may leave [0, 1]")),
            "amodal_bbox_unclipped_frames": f.Sequence(f.Scalar(dtype=np.int32)),
        })
    if "scene_flow" in extras:
        for name in fmt.SCENE_FLOW_ARRAYS:
            top[name] = f.Tensor(shape=(t, h, w, 3), dtype=np.float32, encoding=f.Encoding.ZLIB,
                                 doc="metres; see kubric_gen docs/ground_truth.md")
    if "occlusion_boundaries" in extras:
        top["occlusion_boundaries"] = f.Video(shape=(t, h, w, 1), doc="bits: kubric_gen.truth.boundaries")
    if "intrinsics" in extras:
        for name in fmt.INTRINSIC_IMAGES:
            top[name] = f.Tensor(shape=(t, h, w, 3), dtype=np.float16, encoding=f.Encoding.ZLIB,
                                 doc="linear RGB; see kubric_gen docs/ground_truth.md")
        top[fmt.INTRINSIC_MASK] = f.Tensor(shape=(t, h, w), dtype=np.bool_, encoding=f.Encoding.ZLIB,
                                           doc="the first surface seen is metallic or transmissive")
    if "parts" in extras:
        top["part_index"] = f.Video(shape=(t, h, w, 1), doc="link id: 1 + the link's index in its URDF; 0 none")
        top.update(_part_features(f, t))
    if "deformations" in extras:
        top.update(_deformation_features(f, t))
    return top, instance


def _part_features(f, t: int) -> dict:
    arrays = {name: f.Tensor(shape=(None, None, t) + ((size,) if size else ()), dtype=np.float32,
                             encoding=f.Encoding.ZLIB, doc="instance, link (URDF order) or movable joint: zero-padded")
              for name, size in PART_ARRAYS.items()}
    counts = {name: f.Tensor(shape=(None,), dtype=np.int32, doc="per instance; 0 for a rigid object")
              for name in ("num_links", "num_joints", "num_ball_joints")}
    return {**arrays, **counts}


def _deformation_features(f, t: int) -> dict:
    doc = "per instance, zero-padded; see num_vertices, num_faces"
    return {"deformed_vertices": f.Tensor(shape=(None, t, None, 3), dtype=np.float32, encoding=f.Encoding.ZLIB,
                                          doc=f"world positions per frame; {doc}"),
            "rest_vertices": f.Tensor(shape=(None, None, 3), dtype=np.float32, encoding=f.Encoding.ZLIB,
                                      doc=f"the rest shape (object frame, unscaled); {doc}"),
            "deformed_faces": f.Tensor(shape=(None, None, 3), dtype=np.int32, encoding=f.Encoding.ZLIB, doc=doc),
            "num_vertices": f.Tensor(shape=(None,), dtype=np.int32, doc="per instance; 0 for a rigid object"),
            "num_faces": f.Tensor(shape=(None,), dtype=np.int32, doc="per instance; 0 for a rigid object")}


def _deformation_values(sd: SceneDir) -> dict:
    """The instances' deformed meshes, zero-padded to the most vertices and faces."""
    t, instances = sd.num_frames, sd.metadata["instances"]
    stored = sd.deformations() or {}
    meshes = [stored.get(inst["name"]) if "deformation_index" in inst else None for inst in instances]
    if any("deformation_index" in inst for inst in instances) and not stored:
        raise SceneDirError(f"{fmt.DEFORMATIONS} is missing (--extras deformations)")
    v = max((len(m["rest_vertices"]) for m in meshes if m is not None), default=0)
    f = max((len(m["faces"]) for m in meshes if m is not None), default=0)
    k = len(instances)
    out = {"deformed_vertices": np.zeros((k, t, v, 3), np.float32), "rest_vertices": np.zeros((k, v, 3), np.float32),
           "deformed_faces": np.zeros((k, f, 3), np.int32), "num_vertices": np.zeros(k, np.int32),
           "num_faces": np.zeros(k, np.int32)}
    for i, mesh in enumerate(meshes):
        if mesh is None:
            continue
        nv, nf = len(mesh["rest_vertices"]), len(mesh["faces"])
        out["deformed_vertices"][i, :, :nv] = mesh["vertices"]
        out["rest_vertices"][i, :nv] = mesh["rest_vertices"]
        out["deformed_faces"][i, :nf] = mesh["faces"]
        out["num_vertices"][i], out["num_faces"][i] = nv, nf
    return out


def _part_values(sd: SceneDir) -> dict:
    """The instances' link and joint arrays, zero-padded to the most links and joints."""
    t, instances = sd.num_frames, sd.metadata["instances"]
    out: dict = {}
    for name, size in PART_ARRAYS.items():
        count_key, names_key = _COUNTS[name]
        count = [len(inst.get(names_key, [])) for inst in instances]
        out[count_key] = np.asarray(count, np.int32)
        padded = np.zeros((len(instances), max(count, default=0), t) + ((size,) if size else ()), np.float32)
        for k, inst in enumerate(instances):
            if count[k]:
                padded[k, :count[k]] = np.asarray(inst[name], dtype=np.float32)
        out[name] = padded
    return out


def multiview_features(extras: Sequence[str], c: int, t: int, h: int, w: int, frames: Callable) -> tuple[dict, dict]:
    """(top-level, per-instance) features of `extras` for scenes with c cameras: each with a
    leading camera axis; the instances' boxes dense (C, T, 4), zeros where there is none (as
    their `bboxes`). `frames(feature, doc)` puts a per-camera feature on the camera axis."""
    import tensorflow_datasets as tfds

    f = tfds.features
    top: dict = {}
    instance: dict = {}
    if "amodal" in extras:
        instance.update({
            "amodal_masks": f.Tensor(shape=(c, t, h, w), dtype=np.bool_, encoding=f.Encoding.ZLIB),
            "amodal_pixels": f.Tensor(shape=(c, t), dtype=np.int32),
            "visible_fraction": f.Tensor(shape=(c, t), dtype=np.float32),
            "in_image_fraction": f.Tensor(shape=(c, t), dtype=np.float32),
            "amodal_bboxes": f.Tensor(shape=(c, t, 4), dtype=np.float32, doc="clipped; 0 where none"),
            "amodal_bboxes_unclipped": f.Tensor(shape=(c, t, 4), dtype=np.float32, doc="0 where none"),
        })
    if "scene_flow" in extras:
        for name in fmt.SCENE_FLOW_ARRAYS:
            top[name] = f.Tensor(shape=(c, t, h, w, 3), dtype=np.float32, encoding=f.Encoding.ZLIB)
    if "occlusion_boundaries" in extras:
        top["occlusion_boundaries"] = frames(f.Video(shape=(t, h, w, 1)), "(C, T, H, W, 1) bits")
    if "intrinsics" in extras:
        for name in fmt.INTRINSIC_IMAGES:
            top[name] = f.Tensor(shape=(c, t, h, w, 3), dtype=np.float16, encoding=f.Encoding.ZLIB)
        top[fmt.INTRINSIC_MASK] = f.Tensor(shape=(c, t, h, w), dtype=np.bool_, encoding=f.Encoding.ZLIB)
    if "parts" in extras:
        top["part_index"] = frames(f.Video(shape=(t, h, w, 1)), "(C, T, H, W, 1) link ids")
        top.update(_part_features(f, t))  # world poses: the same in every view, no camera axis
    if "deformations" in extras:
        top.update(_deformation_features(f, t))  # world meshes: no camera axis
    return top, instance


def multiview_values(extras: Sequence[str], views: Sequence[SceneDir], t: int,
                     nearest: Callable[[np.ndarray], np.ndarray]) -> tuple[dict, list[dict]]:
    """The values of `multiview_features` from the views' scene directories."""
    per_view = [values(extras, v, nearest) for v in views]
    top = {key: np.stack([p[0][key] for p in per_view]) for key in per_view[0][0] if key not in _PER_SCENE}
    instances: list[dict] = []
    for k in range(len(per_view[0][1])):
        out: dict = {}
        if "amodal" in extras:
            views_k = [p[1][k] for p in per_view]
            for key in ("amodal_masks", "amodal_pixels", "visible_fraction", "in_image_fraction"):
                out[key] = np.stack([v[key] for v in views_k])
            for key, frames_key in (("amodal_bboxes", "amodal_bbox_frames"),
                                    ("amodal_bboxes_unclipped", "amodal_bbox_unclipped_frames")):
                dense = np.zeros((len(views_k), t, 4), np.float32)
                for c, v in enumerate(views_k):
                    dense[c, v[frames_key]] = v[key]
                out[key] = dense
        instances.append(out)
    if "parts" in extras:
        top.update(_part_values(views[0]))  # world poses: the same in every view
    if "deformations" in extras:
        top.update(_deformation_values(views[0]))
    return top, instances


def values(extras: Sequence[str], sd: SceneDir, nearest: Callable[[np.ndarray], np.ndarray]) -> tuple[dict, list[dict]]:
    """(top-level, per-instance) values of `extras` for one camera's scene directory `sd`, its
    per-pixel arrays (T, H, W, ...) taken to the config's resolution by `nearest` (a SceneDirError
    if its files lack them)."""
    top: dict = {}
    instances: list[dict] = [{} for _ in sd.metadata["instances"]]
    if "amodal" in extras:
        masks = sd.amodal()
        if masks is None:
            raise SceneDirError(f"{fmt.AMODAL} is missing (--extras amodal)")
        for k, (inst, out) in enumerate(zip(sd.metadata["instances"], instances, strict=True)):
            out["amodal_masks"] = nearest(masks[k])
            out["amodal_pixels"] = np.asarray(inst["amodal_pixels"], dtype=np.int32)
            for key in ("visible_fraction", "in_image_fraction"):
                out[key] = np.asarray(inst[key], dtype=np.float32)
            out["amodal_bboxes"] = np.asarray(inst["amodal_bboxes"], dtype=np.float32).reshape(-1, 4)
            unclipped = np.asarray(inst["amodal_bboxes_unclipped"], dtype=np.float32)
            out["amodal_bboxes_unclipped"] = unclipped.reshape(-1, 4)
            for key in ("amodal_bbox_frames", "amodal_bbox_unclipped_frames"):
                out[key] = np.asarray(inst[key], dtype=np.int32)
    if "scene_flow" in extras:
        flow = sd.scene_flow()
        if flow is None:
            raise SceneDirError(f"{fmt.SCENE_FLOW} is missing (--extras scene_flow)")
        for name in fmt.SCENE_FLOW_ARRAYS:
            top[name] = nearest(flow[name])
    if "occlusion_boundaries" in extras:
        bits = sd.occlusion_boundaries()
        if bits is None:
            raise SceneDirError(f"{fmt.BOUNDARIES} is missing (--extras occlusion_boundaries)")
        top["occlusion_boundaries"] = bits[..., None]
    if "intrinsics" in extras:
        images = sd.intrinsics()
        if images is None:
            raise SceneDirError(f"{fmt.INTRINSICS} is missing (render the scenes with --intrinsics)")
        for name in fmt.INTRINSIC_IMAGES:
            top[name] = nearest(images[name]).astype(np.float16)
        top[fmt.INTRINSIC_MASK] = nearest(images[fmt.INTRINSIC_MASK])
    if "parts" in extras:
        part_index = sd.part_index()
        shape = (sd.num_frames, sd.resolution[1], sd.resolution[0])
        top["part_index"] = nearest(part_index if part_index is not None else np.zeros(shape, np.uint8))[..., None]
        top.update(_part_values(sd))
    if "deformations" in extras:
        top.update(_deformation_values(sd))
    return top, instances
