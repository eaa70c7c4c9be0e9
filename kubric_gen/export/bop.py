"""The BOP challenge's layout (its documented format: bop_toolkit's `docs/bop_datasets_format.md`),
one BOP scene per unit, numbered in unit-name order:

    camera.json                      the first unit's camera: fx, fy, cx, cy, width, height, depth_scale
    models/obj_000001.ply ...        each model in millimetres, binary PLY with vertex normals
    models/models_info.json          per obj_id: diameter, min_x/y/z, size_x/y/z, symmetries where known
    train_pbr/000000/                one unit (scene or view):
        rgb/000000.png ...           the frames (RGB)
        depth/000000.png ...         uint16 planar depth (camera z, not the ray length) in mm / depth_scale;
                                     0 where nothing is seen
        mask/000000_000000.png ...   the object's whole silhouette (our amodal mask), 255 inside
        mask_visib/000000_000000.png its visible pixels
        scene_camera.json            per image: cam_K, depth_scale, cam_R_w2c, cam_t_w2c (mm)
        scene_gt.json                per image, per object in the image: cam_R_m2c, cam_t_m2c (mm), obj_id
        scene_gt_info.json           bbox_obj, bbox_visib ([x, y, w, h], clipped; -1s when empty),
                                     px_count_all, px_count_valid, px_count_visib, visib_fract

Camera axes are OpenCV's (x right, y down, z forward). A model is one mesh at one scale (BOP's
models have no scale): instances of a mesh at different scales are different models, numbered
from 1 in order of (mesh, scale). The objects of an image are the instances whose amodal mask
has pixels in it, in instance order. Symmetries are listed for our primitives at uniform
scale: a cube's 23 rotations, a cylinder's continuous one about z (and its flip), a sphere's.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import ConfigError
from kubric_gen.export.units import Unit, mask_box, write_bytes
from kubric_gen.io import SceneDir, SceneDirError
from kubric_gen.io.layers import encode_png

SPLIT = "train_pbr"
DEPTH_SCALES = (0.1, 1.0, 10.0)  # mm per depth-PNG unit: the finest that holds the scene's depth
MM = 1000.0


def _scene_objects(unit: Unit) -> dict:
    """The scene's objects by name (from scene.json, at the scene directory's root)."""
    from kubric_gen.scene import Scene

    scene = Scene.from_json(SceneDir(unit.path).read_bytes("scene.json").decode())
    return {o.name: o for o in scene.objects}


def model_key(obj, scale) -> str:
    """One model per mesh and scale."""
    from kubric_gen import meshes

    return f"{meshes.mesh_key(obj)}|{','.join(f'{s:.6g}' for s in scale)}"


def _box(mask: np.ndarray) -> list[int]:
    """BOP's box: COCO's, [-1, -1, -1, -1] when the mask is empty."""
    return mask_box(mask) or [-1, -1, -1, -1]


def _rotation_w2c(quaternion: np.ndarray) -> np.ndarray:
    """World-to-camera rotation in OpenCV's axes from our (Blender camera-to-world) quaternion."""
    return np.diag([1.0, -1.0, -1.0]) @ geometry.quat_to_matrix(quaternion).T


def write_unit(unit: Unit, staging: Path, options: dict) -> dict:
    sd = unit.scene
    objects = _scene_objects(unit)
    moving = [(name, o.kind) for name, o in objects.items() if o.kind in ("articulated", "deformable")]
    if moving:
        name, kind = moving[0]
        raise ConfigError(f"{unit.name}: BOP's models are rigid, and {name!r} is an {kind} object "
                          f"(export coco, flow, tapvid or nerf)")
    folder = staging / SPLIT / f"{unit.index:06d}"
    cam = sd.metadata["camera"]
    k = geometry.intrinsics(float(cam["focal_length"]), float(cam["sensor_width"]), sd.resolution)
    depth = sd.layer("depth")
    seen = np.isfinite(depth)
    ray_per_z = geometry.ray_length_per_z(float(cam["focal_length"]), float(cam["sensor_width"]), sd.resolution)
    z_mm = np.where(seen, depth, 0.0) / ray_per_z * MM  # 0 where nothing is seen
    depth_scale = next((s for s in DEPTH_SCALES if z_mm.max() / s <= 65535), DEPTH_SCALES[-1])
    seg = sd.layer("segmentation")
    amodal = sd.amodal()
    if amodal is None:
        raise SceneDirError("amodal_masks.npz is missing (BOP's mask/ is the whole silhouette)")
    rgb = sd.stored("rgba")[..., :3]
    positions, quaternions = np.asarray(cam["positions"]), np.asarray(cam["quaternions"])
    instances = sd.metadata["instances"]
    keys = []
    for inst in instances:
        obj = objects[inst["name"]]
        keys.append(model_key(obj, inst.get("scale_xyz", obj.scale)))
    cameras, poses, infos = {}, {}, {}
    for t in range(sd.num_frames):
        image = f"{t:06d}"
        write_bytes(folder / "rgb" / f"{image}.png", encode_png(np.ascontiguousarray(rgb[t])))
        stored = np.minimum(np.rint(z_mm[t] / depth_scale), 65535).astype(np.uint16)
        write_bytes(folder / "depth" / f"{image}.png", encode_png(stored))
        r_w2c = _rotation_w2c(quaternions[t])
        t_w2c = -r_w2c @ positions[t] * MM
        cameras[str(t)] = {"cam_K": k.ravel().tolist(), "depth_scale": depth_scale,
                           "cam_R_w2c": r_w2c.ravel().tolist(), "cam_t_w2c": t_w2c.tolist()}
        poses[str(t)], infos[str(t)] = [], []
        for i, inst in enumerate(instances):
            full = amodal[i, t]
            if not full.any():
                continue
            visible = seg[t] == i + 1
            n = len(poses[str(t)])
            write_bytes(folder / "mask" / f"{image}_{n:06d}.png", encode_png(full.astype(np.uint8) * 255))
            write_bytes(folder / "mask_visib" / f"{image}_{n:06d}.png", encode_png(visible.astype(np.uint8) * 255))
            r_m2c = r_w2c @ geometry.quat_to_matrix(inst["quaternions"][t])
            t_m2c = r_w2c @ np.asarray(inst["positions"][t]) * MM + t_w2c
            poses[str(t)].append({"cam_R_m2c": r_m2c.ravel().tolist(), "cam_t_m2c": t_m2c.tolist(), "model": keys[i]})
            all_px, visib_px = int(full.sum()), int(visible.sum())
            infos[str(t)].append({"bbox_obj": _box(full), "bbox_visib": _box(visible), "px_count_all": all_px,
                                  "px_count_valid": int((full & seen[t]).sum()), "px_count_visib": visib_px,
                                  "visib_fract": visib_px / all_px})
    _json(folder / "scene_camera.json", cameras)
    _json(folder / "scene_gt_info.json", infos)
    models = {keys[i]: {"path": unit.path, "name": inst["name"], "scale": list(inst.get("scale_xyz", [1, 1, 1]))}
              for i, inst in enumerate(instances)}
    width, height = sd.resolution
    return {"folder": f"{SPLIT}/{unit.index:06d}", "poses": poses, "models": models,
            "camera": {"fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2], "width": width,
                       "height": height, "depth_scale": depth_scale}}


def _json(path: Path, data) -> None:
    write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def finish(output: Path, parts: list[tuple[str, dict]], options: dict) -> list[str]:
    """The models (one per mesh and scale, ids in key order), models_info.json, camera.json and
    each scene's scene_gt.json (which names the models' ids)."""
    sources = {}
    for _, part in parts:
        sources.update(part["models"])
    ids = {key: i + 1 for i, key in enumerate(sorted(sources))}
    info = {}
    for key, obj_id in ids.items():
        source = sources[key]
        obj = _scene_objects(Unit("", source["path"]))[source["name"]]
        info[str(obj_id)] = _write_model(output / "models" / f"obj_{obj_id:06d}.ply", obj, source["scale"])
    _json(output / "models" / "models_info.json", info)
    _json(output / "camera.json", parts[0][1]["camera"])
    written = ["camera.json", "models/models_info.json", *(f"models/obj_{i:06d}.ply" for i in ids.values())]
    for _, part in parts:
        gt = {image: [{"cam_R_m2c": p["cam_R_m2c"], "cam_t_m2c": p["cam_t_m2c"], "obj_id": ids[p["model"]]}
                      for p in objects] for image, objects in part["poses"].items()}
        _json(output / part["folder"] / "scene_gt.json", gt)
        written.append(f"{part['folder']}/scene_gt.json")
    return written


def _write_model(path: Path, obj, scale) -> dict:
    """The model's PLY in millimetres; its models_info entry."""
    import trimesh

    from kubric_gen import meshes

    local = meshes.object_mesh(obj)
    vertices = np.asarray(local.vertices) * np.asarray(scale, dtype=np.float64) * MM
    mesh = trimesh.Trimesh(vertices=vertices, faces=np.asarray(local.faces), process=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(trimesh.exchange.ply.export_ply(mesh, encoding="binary", vertex_normal=True))
    diameter = _diameter(np.asarray(mesh.convex_hull.vertices) if len(vertices) > 4 else vertices)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    entry = {"diameter": diameter, **{f"min_{a}": float(v) for a, v in zip("xyz", lo, strict=True)},
             **{f"size_{a}": float(v) for a, v in zip("xyz", hi - lo, strict=True)}}
    entry.update(_symmetries(obj.kind, np.asarray(scale, dtype=np.float64)))
    return entry


def _diameter(points: np.ndarray) -> float:
    """The largest distance between two points (of the convex hull: a few thousand at most)."""
    squared = (points ** 2).sum(axis=1)
    return float(np.sqrt(max(0.0, (squared[:, None] + squared[None, :] - 2 * points @ points.T).max())))


def _symmetries(kind: str, scale: np.ndarray) -> dict:
    """BOP's symmetry entries of our primitives at a scale that keeps them (4x4 row-major, mm)."""
    if kind == "sphere" and np.allclose(scale, scale[0]):
        return {"symmetries_continuous": [{"axis": axis, "offset": [0, 0, 0]}
                                          for axis in ([0, 0, 1], [0, 1, 0], [1, 0, 0])]}
    if kind == "cylinder" and np.isclose(scale[0], scale[1]):
        flip = np.diag([1.0, -1.0, -1.0, 1.0])
        return {"symmetries_continuous": [{"axis": [0, 0, 1], "offset": [0, 0, 0]}],
                "symmetries_discrete": [flip.ravel().tolist()]}
    if kind == "cube" and np.allclose(scale, scale[0]):
        rotations = []
        for perm in itertools.permutations(range(3)):
            for signs in itertools.product((1.0, -1.0), repeat=3):
                m = np.zeros((3, 3))
                m[range(3), perm] = signs
                if np.isclose(np.linalg.det(m), 1.0) and not np.allclose(m, np.eye(3)):
                    full = np.eye(4)
                    full[:3, :3] = m
                    rotations.append(full.ravel().tolist())
        return {"symmetries_discrete": rotations}
    return {}
