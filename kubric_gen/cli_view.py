"""`kubric-gen view PATH`: a static HTML viewer (opens from disk, no server) of what was made.

PATH is one scene directory (ours or Kubric's), a folder of them (a gallery page linking to
one page per scene), or a prepared TFDS dataset (a few examples per split). A scene with
several cameras gets a page showing all its cameras at once and a page per camera. Scene
directories are read with `kubric_gen.io.SceneDir`, datasets with TFDS (lazily); the pages
are written by `kubric_gen.visual.html`. Bad input is one line ``kubric-gen: error: ...``
with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kubric_gen.cli_options import positive_int
from kubric_gen.errors import ConfigError

if TYPE_CHECKING:  # imported where used: `kubric-gen --help` stays quick
    from kubric_gen.visual.html import ViewRig, ViewScene

# class-label features named as metadata.json names the labels (MOVi-A: shape, material; size_label, color_label)
_LABEL_KEYS = {"shape_label": "shape", "material_label": "material", "category_label": "category"}


def _log(message: str) -> None:
    print(f"kubric-gen view: {message}", file=sys.stderr, flush=True)


def _camera(camera: dict, width: int, height: int) -> dict:
    """The camera dict with OpenCV pixel intrinsics (derived from focal length and sensor width
    where the directory has none, as in Kubric's)."""
    from kubric_gen import geometry

    camera = dict(camera)
    if "intrinsics" not in camera and "focal_length" in camera and "sensor_width" in camera:
        try:
            camera["intrinsics"] = geometry.intrinsics(float(camera["focal_length"]), float(camera["sensor_width"]),
                                                       (width, height))
            camera["intrinsics_derived"] = True
        except (TypeError, ValueError):
            pass
    return camera


def scene_from_dir(path: str | os.PathLike, max_frames: int | None = None):
    """A `ViewScene` of one scene directory (ours or Kubric's): the layers it has, tracks,
    camera and instances. SceneDirError when it has no readable frames or metadata."""
    from kubric_gen.io.reader import SceneDir, SceneDirError
    from kubric_gen.visual.html import ViewScene

    sd = SceneDir(path)
    meta = sd.metadata
    rgb = sd.stored("rgba")[..., :3]
    t = len(rgb) if max_frames is None else min(len(rgb), max_frames)

    def optional(layer: str) -> np.ndarray | None:
        if not sd.has(layer):
            return None
        try:
            return sd.layer(layer)[:t]
        except SceneDirError as e:
            _log(f"{sd.name}: {layer} not shown ({e})")
            return None

    tracks = sd.tracks()
    width, height = sd.resolution
    depth_range = None
    if "depth" in sd.data_ranges:
        try:
            depth_range = sd.range("depth")
        except SceneDirError:
            depth_range = None
    m = meta["metadata"]
    info = {"source": sd.path, "world": sd.world or "?", "seed": m.get("seed"), "resolution": f"{width}x{height}",
            "frames": f"{t} of {sd.num_frames}" if t < sd.num_frames else t, "frame rate": m.get("frame_rate"),
            "instances": len(meta["instances"]), "preview": sd.preview or "none",
            "complete": "yes (_COMPLETE)" if sd.marker else "no _COMPLETE marker (e.g. Kubric's)"}
    amodal, scene_flow, intrinsics, part_index = None, None, None, None
    try:
        part_index = sd.part_index()
        amodal = sd.amodal()
        flows = sd.scene_flow()
        scene_flow = None if flows is None else flows["forward_scene_flow"][:t]
        intrinsics = sd.intrinsics()
    except SceneDirError as e:
        _log(f"{sd.name}: amodal masks, scene flow or intrinsic images not shown ({e})")
    return ViewScene(
        name=sd.name, rgb=rgb[:t], segmentation=optional("segmentation"), depth=optional("depth"),
        forward_flow=optional("forward_flow"), amodal=None if amodal is None else amodal[:, :t], scene_flow=scene_flow,
        albedo=None if intrinsics is None else intrinsics["albedo"][:t],
        shading=None if intrinsics is None else intrinsics["shading"][:t],
        part_index=None if part_index is None else part_index[:t],
        target_points=None if tracks is None else tracks.target_points[:, :t],
        occluded=None if tracks is None else tracks.occluded[:, :t],
        camera=_camera(meta["camera"], width, height), instances=list(meta["instances"]), info=info,
        frame_rate=float(m.get("frame_rate") or 12), depth_range=(depth_range if depth_range and depth_range[1] > 0
                                                                 else None))


def rig_from_dir(path: str | os.PathLike, max_frames: int | None = None) -> ViewRig:
    """A `ViewRig` of a scene directory with several cameras: each view's `ViewScene`, the
    multi-view tracks of cross_view.npz (left out, with a line on stderr, where unreadable)
    and the rig's metadata. SceneDirError when a view cannot be shown."""
    import io

    from kubric_gen.io import format as fmt
    from kubric_gen.io.reader import SceneDir, SceneDirError
    from kubric_gen.visual.html import ViewRig

    sd = SceneDir(path)
    meta = sd.metadata
    views = []
    for camera, view in zip(sd.camera_names, sd.views, strict=True):
        try:
            scene = scene_from_dir(view.path, max_frames)
        except SceneDirError as e:
            raise SceneDirError(f"{view.name}/{e}") from None
        scene.name = f"{sd.name} · {camera}"
        views.append(scene)
    t = views[0].num_frames
    target_points = occluded = query_camera = None
    if fmt.CROSS_VIEW in sd.files:
        try:
            with np.load(io.BytesIO(sd.read_bytes(fmt.CROSS_VIEW)), allow_pickle=False) as d:
                if "target_points" in d.files and "occluded" in d.files:
                    target_points, occluded = d["target_points"][:, :, :t], d["occluded"][:, :, :t]
                    query_camera = d["query_camera"] if "query_camera" in d.files else None
        except (OSError, ValueError, SceneDirError) as e:
            _log(f"{sd.name}: multi-view tracks not shown ({fmt.CROSS_VIEW}: {e})")
    m = meta["metadata"]
    width, height = sd.resolution
    rig = meta.get("rig") if isinstance(meta.get("rig"), dict) else {}
    info = {"source": sd.path, "world": sd.world or "?", "seed": m.get("seed"), "cameras": len(views),
            "resolution": f"{width}x{height}", "frames": f"{t} of {sd.num_frames}" if t < sd.num_frames else t,
            "frame rate": m.get("frame_rate"), "instances": len(meta["instances"]),
            "complete": "yes (_COMPLETE)" if sd.marker else "no _COMPLETE marker"}
    return ViewRig(name=sd.name, cameras=list(sd.camera_names), views=views, target_points=target_points,
                   occluded=occluded, query_camera=query_camera, instances=list(meta["instances"]),
                   baselines=None if rig.get("baselines") is None else np.asarray(rig["baselines"], dtype=float),
                   info=info, frame_rate=float(m.get("frame_rate") or 12))


def _from_dir(path: str, max_frames: int | None) -> ViewScene | ViewRig:
    """A `ViewScene`, or a `ViewRig` for a scene with several cameras."""
    from kubric_gen.io.reader import SceneDir

    return rig_from_dir(path, max_frames) if SceneDir(path).is_multiview else scene_from_dir(path, max_frames)


def _plain(value: Any) -> Any:
    """numpy / ragged TFDS values as numpy arrays or lists."""
    if hasattr(value, "to_list"):
        return value.to_list()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return value.numpy()
    return value


def scene_from_example(example: dict, name: str, class_names: dict[str, list[str]], max_frames: int | None = None,
                       source: str = ""):
    """A `ViewScene` of one example of a prepared dataset (MOVi's features), its quantised
    layers decoded with `kubric_gen.datasets.loading`."""
    from kubric_gen.datasets.loading import decode_depth, decode_flow
    from kubric_gen.visual.html import ViewScene

    video = np.asarray(example["video"])
    t = len(video) if max_frames is None else min(len(video), max_frames)
    seg = np.asarray(example["segmentations"])[..., 0] if "segmentations" in example else None
    depth = np.asarray(decode_depth(example))[..., 0] if "depth" in example else None
    flow = np.asarray(decode_flow(example, "forward")) if "forward_flow" in example else None
    height, width = video.shape[1:3]
    instances_in = example.get("instances", {})
    n = int(np.asarray(example["metadata"].get("num_instances", 0)))
    instances: list[dict] = [{} for _ in range(n)]
    for key, values in instances_in.items():
        values = _plain(values)
        for k in range(min(n, len(values))):
            v = values[k]
            if key in class_names and np.ndim(v) == 0:  # shape_label 2 -> shape "sphere", as in metadata.json
                label = class_names[key][int(v)] if 0 <= int(v) < len(class_names[key]) else int(v)
                instances[k][_LABEL_KEYS.get(key, key)] = label
            else:
                instances[k][key] = np.asarray(v).tolist() if not isinstance(v, list) else v
    camera = {key: np.asarray(_plain(v)) for key, v in example.get("camera", {}).items()}
    tracks = example.get("tracks")
    meta = example["metadata"]
    depth_range = tuple(float(v) for v in np.asarray(meta["depth_range"])) if "depth_range" in meta else None
    info = {"source": source, "example": name, "resolution": f"{width}x{height}", "frames": t, "instances": n}
    return ViewScene(
        name=name, rgb=video[:t], segmentation=None if seg is None else seg[:t],
        depth=None if depth is None else depth[:t], forward_flow=None if flow is None else flow[:t],
        target_points=None if tracks is None else np.asarray(tracks["target_points"])[:, :t],
        occluded=None if tracks is None else np.asarray(tracks["occluded"])[:, :t],
        camera=_camera(camera, width, height), instances=instances, info=info,
        depth_range=depth_range if depth_range and depth_range[1] > depth_range[0] else None)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "scene"


def _thumbnail(scene, path: Path) -> None:
    from kubric_gen.visual.sheet import write_contact_sheet

    write_contact_sheet(path, scene.rgb, scene.segmentation, scene.depth, scene.forward_flow,
                        depth_range=scene.depth_range)


def _view_scene_dirs(paths: list[str], out: Path, max_frames: int | None, gallery: bool, title: str) -> Path:
    from kubric_gen.io.reader import SceneDirError
    from kubric_gen.visual.html import (
        GALLERY_NOTE,
        GALLERY_NOTE_RIGS,
        GalleryEntry,
        ViewRig,
        prepare_folder,
        write_gallery,
        write_rig_page,
        write_scene_page,
    )

    if not gallery:
        try:
            item = _from_dir(paths[0], max_frames)
        except SceneDirError as e:
            raise ConfigError(f"PATH: {paths[0]} is not a readable scene directory ({e})") from None
        return write_rig_page(out, item) if isinstance(item, ViewRig) else write_scene_page(out, item)
    prepare_folder(out)
    entries, problems = [], []
    rigs = False
    for i, path in enumerate(paths):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        _log(f"[{i + 1}/{len(paths)}] {name}")
        try:
            item = _from_dir(path, max_frames)
        except SceneDirError as e:
            _log(f"{name}: not shown ({e})")
            problems.append(f"{name}: {e}")
            continue
        folder = _safe(name)
        if isinstance(item, ViewRig):  # its page writes its contact sheet: one RGB row per camera
            rigs = True
            write_rig_page(out / folder, item, back="../index.html")
            shape = f"{len(item.cameras)} cameras · {item.num_frames} frames"
        else:
            write_scene_page(out / folder, item, back="../index.html")
            _thumbnail(item, out / folder / "contact_sheet.png")
            shape = f"{item.num_frames} frames"
        caption = f"{item.info.get('world')} · seed {item.info.get('seed')} · {shape} · " \
                  f"{len(item.instances)} instances"
        entries.append(GalleryEntry(name, f"{folder}/index.html", f"{folder}/contact_sheet.png", caption))
    if not entries:
        raise ConfigError(f"PATH: no readable scene directory in {title} ({'; '.join(problems[:3])})")
    return write_gallery(out, entries, title, problems, GALLERY_NOTE_RIGS if rigs else GALLERY_NOTE)


def _dataset_examples(version_dir: str, per_split: int) -> tuple[Any, dict[str, list[dict]]]:
    """(builder, {split: [numpy examples]}): the first `per_split` examples of every split."""
    from kubric_gen.datasets.config import DatasetError
    from kubric_gen.datasets.loading import first_examples

    try:
        return first_examples(version_dir, per_split)
    except DatasetError as e:
        raise ConfigError(f"PATH: {e}") from None


def _class_names(builder: Any) -> dict[str, list[str]]:
    try:
        features = builder.info.features["instances"].feature
    except (KeyError, AttributeError, TypeError):
        return {}
    out = {}
    for key in getattr(features, "keys", lambda: [])():
        names = getattr(features[key], "names", None)
        if names:
            out[key] = list(names)
    return out


def _view_dataset(versions: list[str], out: Path, max_frames: int | None, per_split: int) -> Path:
    from kubric_gen.datasets import loading
    from kubric_gen.visual.html import GalleryEntry, prepare_folder, write_gallery, write_scene_page

    read = []
    for version in versions:  # everything is read before anything is written: a damaged shard leaves no folder
        label = "/".join(version.rstrip("/").split("/")[-3:])
        read.append((version, *_dataset_examples(version, per_split)))
        _log(f"read {label} (up to {per_split} examples per split)")
    prepare_folder(out)
    entries = []
    for version, builder, splits in read:
        parts = version.rstrip("/").split("/")
        label = "/".join(parts[-3:])
        names = _class_names(builder)
        for split, examples in splits.items():
            for i, ex in enumerate(examples):
                video_name = ex["metadata"].get("video_name", f"{i}")
                video_name = video_name.decode() if isinstance(video_name, bytes) else str(video_name)
                # a multi-camera example: one page per camera, from its one-camera MOVi example
                views = loading.view_examples(ex) if loading.is_multiview(ex) else {"": ex}
                for camera, view in views.items():
                    title = f"{split}[{i}] {video_name}" + (f" · {camera}" if camera else "")
                    folder = _safe(f"{'_'.join(parts[-3:])}_{split}_{i}" + (f"_{camera}" if camera else ""))
                    _log(f"{label} {title}")
                    scene = scene_from_example(view, title, names, max_frames, source=version)
                    write_scene_page(out / folder, scene, back="../index.html")
                    _thumbnail(scene, out / folder / "contact_sheet.png")
                    entries.append(GalleryEntry(title, f"{folder}/index.html", f"{folder}/contact_sheet.png",
                                                f"{scene.num_frames} frames · {len(scene.instances)} instances",
                                                section=f"{label} · {split}"))
    if not entries:
        raise ConfigError(f"PATH: the dataset {versions[0]} holds no examples")
    return write_gallery(out, entries, f"dataset {', '.join(v.rstrip('/').rsplit('/', 3)[-3] for v in versions)}")


def _check_output(output: Path, source: Path) -> Path:
    """The output folder: creatable, not a file, not inside the input, and either new, empty,
    or a folder the viewer wrote before (which is replaced)."""
    from kubric_gen import preflight
    from kubric_gen.visual.html import MARKER

    target = preflight.check_writable_target(output, "--output", overwrite=True)
    resolved, src = target.resolve(), source.resolve()
    if resolved == src or src in resolved.parents:
        raise ConfigError(f"--output: {output} is inside the input {source}; choose a folder outside it")
    if resolved in src.parents:
        raise ConfigError(f"--output: {output} holds the input {source}; choose another folder")
    if target.exists() and any(target.iterdir()) and not (target / MARKER).exists():
        raise ConfigError(f"--output: {output} exists and is not a folder written by kubric-gen view "
                          "(choose a new or empty folder)")
    return target


def default_output(path: Path) -> Path:
    """Where a view of PATH goes without --output: `_view_<name>` beside PATH, so it stays with the
    data it shows (the leading `_` keeps every reader of a folder of scenes or datasets from taking it
    for one); in the working directory when PATH's folder cannot be written."""
    absolute = Path(os.path.abspath(path))  # a symbolic link's own folder, not its target's
    name = f"_view_{_safe(absolute.name)}"
    parent = absolute.parent
    return parent / name if os.access(parent, os.W_OK) else Path.cwd() / name


def _cmd_view(args: argparse.Namespace) -> int:
    from kubric_gen.datasets.validate import find_dataset_versions
    from kubric_gen.io.reader import SceneDir, SceneDirError, list_scene_dirs

    path = Path(os.path.expanduser(args.path))
    if not path.exists():
        raise ConfigError(f"PATH: {args.path} does not exist")
    if not path.is_dir():
        raise ConfigError(f"PATH: {args.path} is not a directory (a scene directory, a folder of them or a dataset)")
    output = Path(args.output) if args.output else default_output(path)
    out = _check_output(output, path)
    versions = find_dataset_versions(str(path))
    if versions:
        index = _view_dataset(versions, out, args.frames, args.examples)
    else:
        try:
            paths = list_scene_dirs(str(path))
        except SceneDirError as e:
            raise ConfigError(f"PATH: {e}") from None
        single = len(paths) == 1 and Path(paths[0]) == path
        if not single:
            paths = [p for p in paths if "metadata.json" in SceneDir(p).files]
        if not paths:
            raise ConfigError(f"PATH: {args.path} holds no scene directory and no prepared dataset")
        index = _view_scene_dirs(paths, out, args.frames, gallery=not single, title=path.resolve().name)
    print(f"wrote {index} (open it in a browser: file://{index.resolve()})")
    return 0


def add_commands(subparsers, common_parent: argparse.ArgumentParser) -> None:
    """Add `view` to the `kubric-gen` subcommands."""
    p = subparsers.add_parser(
        "view", parents=[common_parent],
        help="write a static HTML viewer of a scene directory, a folder of them, or a prepared dataset",
        description="Write a folder of static HTML (open its index.html from disk; no server, no network) showing "
                    "a scene directory (ours or Kubric's), a folder of them (a gallery of contact sheets linking to "
                    "one page per scene), or a prepared TFDS dataset (a few examples per split): frames with a "
                    "scrubber, segmentation overlay, depth and flow colours, flow arrows, 2D boxes, point tracks, "
                    "camera and instances. See docs/viewer.md.")
    p.add_argument("path", metavar="PATH", help="scene directory, folder of scene directories, or dataset directory")
    p.add_argument("--output", metavar="DIR", default=None,
                   help="the folder to write (default: _view_<name> beside PATH; a folder written by view before is "
                        "replaced)")
    p.add_argument("--frames", type=positive_int("--frames"), default=None, metavar="N",
                   help="show only the first N frames")
    p.add_argument("--examples", type=positive_int("--examples"), default=3, metavar="N",
                   help="datasets: examples shown per split (default: 3)")
    p.set_defaults(func=_cmd_view)

