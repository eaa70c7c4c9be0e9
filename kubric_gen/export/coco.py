"""COCO instance segmentation and detection, per frame, and its video variant (YouTube-VIS's
layout: one track per instance over the frames).

    images/<unit>/rgba_00000.png ...           the frames (our PNGs, as they are)
    annotations/instances.json                  COCO: images, annotations, categories
    annotations/instances_video.json            YouTube-VIS: videos, annotations (per track), categories

An annotation is an instance visible in a frame: `segmentation` its visible mask as COCO's
compressed RLE (pycocotools), `bbox` [x, y, width, height] of that mask in pixels (edges),
`area` its pixel count, `iscrowd` 0, and ours: `amodal_segmentation`, `amodal_bbox` and
`amodal_area` (the whole silhouette, from amodal_masks.npz, clipped at the image border),
`visible_fraction`, `instance` (its index in metadata.json) and `track_id` (the same for the
instance in every frame of the unit). Categories are the names of one class label of the world's
label schema (`category` option; default: its first class label), ids from 1 in the label's
order; a world without class labels has the one category "object". Ids of images, annotations
and videos count from 1 in unit (name) order, frame order and instance order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kubric_gen.errors import ConfigError
from kubric_gen.export.units import Unit, frame_png, mask_box, write_bytes
from kubric_gen.io import SceneDir

IMAGES, ANNOTATIONS = "images", "annotations"
INSTANCES, VIDEO_INSTANCES = "instances.json", "instances_video.json"
DEFAULT_CATEGORY = "object"


def _mask_api():
    try:
        from pycocotools import mask
    except ImportError:
        raise ConfigError("FORMAT: the coco export needs pycocotools (pip install 'kubric_gen[export]')") from None
    return mask


def rle(mask: np.ndarray) -> dict:
    """COCO's compressed RLE of an (H, W) bool mask, JSON-ready (counts as text)."""
    encoded = _mask_api().encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def box(mask: np.ndarray) -> list[float]:
    """COCO's bbox of a non-empty mask: [x, y, width, height] in pixel edges, as floats."""
    return [float(v) for v in mask_box(mask) or ()]


def categories(sd: SceneDir, label: str | None) -> tuple[str | None, list[str]]:
    """(the label's metadata key, its class names) of the scene's label schema, or (None,
    ["object"]) when it has no class label; ConfigError for an unknown `label`."""
    schema = sd.label_schema
    classes = [lab for lab in schema.instance if lab.kind == "class"]
    if label is None:
        return (classes[0].keys[0], list(classes[0].names)) if classes else (None, [DEFAULT_CATEGORY])
    for lab in classes:
        if lab.feature == label:
            return lab.keys[0], list(lab.names)
    raise ConfigError(f"--category: {label!r} is not a class label of world {sd.world!r} "
                      f"(its class labels: {', '.join(lab.feature for lab in classes) or 'none'})")


def check(units: list[Unit], options: dict) -> None:
    """Before any file is written: the categories exist and are the same for every unit."""
    first = None
    for unit in units:
        names = categories(unit.scene, options.get("category"))[1]
        if first is None:
            first = (unit.name, names)
        elif names != first[1]:
            raise ConfigError(f"SRC: {unit.name}'s categories ({', '.join(names[:4])}, ...) are not "
                              f"{first[0]}'s ({', '.join(first[1][:4])}, ...): export one world's scenes together")


def write_unit(unit: Unit, staging: Path, options: dict) -> dict:
    sd = unit.scene
    key, names = categories(sd, options.get("category"))
    seg = sd.layer("segmentation")
    amodal = sd.amodal()
    width, height = sd.resolution
    images, annotations = [], []
    for t in range(sd.num_frames):
        name, png = frame_png(sd, t)
        file_name = f"{unit.name}/{name}"
        write_bytes(staging / IMAGES / file_name, png)
        images.append({"file_name": file_name, "width": width, "height": height, "frame": t, "video": unit.name})
    tracks = []
    for k, inst in enumerate(sd.metadata["instances"]):
        category = names.index(inst[key]) + 1 if key is not None else 1
        track = {"category_id": category, "instance": k, "segmentations": [], "bboxes": [], "areas": []}
        for t in range(sd.num_frames):
            mask = seg[t] == k + 1
            if not mask.any():
                for field in ("segmentations", "bboxes", "areas"):
                    track[field].append(None)
                continue
            ann = {"frame": t, "category_id": category, "segmentation": rle(mask), "bbox": box(mask),
                   "area": float(mask.sum()), "iscrowd": 0, "instance": k}
            if amodal is not None:
                ann.update(amodal_segmentation=rle(amodal[k, t]), amodal_bbox=box(amodal[k, t]),
                           amodal_area=float(amodal[k, t].sum()),
                           visible_fraction=float(inst["visible_fraction"][t]))
            annotations.append(ann)
            track["segmentations"].append(ann["segmentation"])
            track["bboxes"].append(ann["bbox"])
            track["areas"].append(ann["area"])
        tracks.append(track)
    return {"categories": names, "images": images, "annotations": annotations, "tracks": tracks,
            "width": width, "height": height}


def finish(output: Path, parts: list[tuple[str, dict]], options: dict) -> list[str]:
    names = parts[0][1]["categories"]  # the same for every unit (`check`)
    cats = [{"id": i + 1, "name": n, "supercategory": "object"} for i, n in enumerate(names)]
    images, annotations, videos, tracks = [], [], [], []
    for video_id, (unit, part) in enumerate(parts, start=1):
        first = len(images) + 1
        for image in part["images"]:
            images.append({"id": len(images) + 1, **image})
        for ann in part["annotations"]:
            annotations.append({"id": len(annotations) + 1, "image_id": first + ann["frame"],
                                "track_id": len(tracks) + 1 + ann["instance"], **ann})
        videos.append({"id": video_id, "name": unit, "width": part["width"], "height": part["height"],
                       "length": len(part["images"]), "file_names": [i["file_name"] for i in part["images"]]})
        for track in part["tracks"]:
            tracks.append({"id": len(tracks) + 1, "video_id": video_id, "iscrowd": 0, "width": part["width"],
                           "height": part["height"], "length": 1, **track})
    info = {"description": "exported by kubric_gen", "version": "1.0"}
    (output / ANNOTATIONS).mkdir(parents=True, exist_ok=True)
    for name, data in ((INSTANCES, {"info": info, "images": images, "annotations": annotations,
                                    "categories": cats}),
                       (VIDEO_INSTANCES, {"info": info, "videos": videos, "annotations": tracks,
                                          "categories": cats})):
        tmp = output / ANNOTATIONS / f".{name}.tmp"
        tmp.write_text(json.dumps(data))
        tmp.replace(output / ANNOTATIONS / name)
    return [f"{ANNOTATIONS}/{INSTANCES}", f"{ANNOTATIONS}/{VIDEO_INSTANCES}"]
