"""One scene end to end: world -> scene -> physics -> render -> scene directory.

This is what `kubric-gen render` runs and what each pipeline worker runs per scene.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from kubric_gen import preflight
from kubric_gen.errors import ConfigError
from kubric_gen.io import format as fmt
from kubric_gen.io.scene_dir import scene_writer
from kubric_gen.labels import LabelSchema
from kubric_gen.render.settings import RenderSettings
from kubric_gen.scene import Scene
from kubric_gen.simulation import physics
from kubric_gen.simulation.trajectory import Trajectory
from kubric_gen.truth import GroundTruth, compute_ground_truth
from kubric_gen.world import build_scene, load_world, resolve_config

log = logging.getLogger(__name__)

DEFAULT_NUM_TRACKS = 256
OVERLAPPED = ("ground_truth", "write_layers")  # timings of the thread that runs beside the render
VERSIONED_PACKAGES = ("kubric_gen", "bpy", "pybullet", "numpy", "trimesh", "embreex", "imageio")


def versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Python's and the packages' versions, for provenance records."""
    out = {"python": platform.python_version()}
    for name in (*VERSIONED_PACKAGES, *extra):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class SceneResult:
    """What `generate_scene` made: the scene directory, the render device and the timings."""

    path: Path
    device: str
    timings: dict[str, float]

    @property
    def seconds(self) -> float:
        """The stages in sequence (the ground truth overlaps the render)."""
        return sum(v for k, v in self.timings.items() if k not in OVERLAPPED)


def output_options(num_tracks: int | None, float_layers: bool, preview: bool) -> dict[str, Any]:
    """What a scene directory holds beyond the world's scene (--tracks as asked, None for the
    default; --float-layers; the preview), as provenance.json's `outputs` records it."""
    return {"num_tracks": num_tracks, "float_layers": bool(float_layers), "preview": bool(preview)}


def generate_scene(world_name: str, seed: int, output: str | os.PathLike, settings: RenderSettings | None = None,
                 overrides: dict[str, Any] | None = None, overwrite: bool = False, preview: bool = True,
                 num_tracks: int | None = None, float_layers: bool = False,
                 progress: Callable[[int, int], None] | None = None, save_blend: bool = False) -> SceneResult:
    """Build, simulate and render scene `seed` of a world, compute its ground truth
    (with `num_tracks` point tracks; default: what the scene asks for, else 256) and
    write the scene directory `output`.

    `progress(frames_done, num_frames)` is called after each rendered frame. The ground truth
    is computed and its files written in a thread while Cycles renders. Timings (seconds):
    in sequence build_scene, physics, render_setup, render, truth_wait (how long the finished
    render then waited for the ground truth) and write (frames, metadata, preview); in the
    thread, overlapping the render, ground_truth and write_layers.
    With `save_blend`, the Blender scene of frame 0 is also saved as scene.blend in the scene
    directory (timing save_blend; the file is listed unhashed in _COMPLETE, see io.format).
    """
    from kubric_gen.render import load_blender, render

    settings = settings or RenderSettings()
    output = Path(output)
    if output.exists() and not overwrite:
        raise ConfigError(f"--output: {output} already exists (pass --overwrite to replace it)")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    world = load_world(world_name)
    config = resolve_config(world, overrides)
    scene = build_scene(world, seed, config)
    label_schema = world.label_schema(config)
    _warn_undeclared_labels(world.name, label_schema, scene)
    timings["build_scene"] = time.perf_counter() - t0
    if scene.is_multiview:  # the command's checks assumed one camera: check again for all of them
        preflight.check_memory(scene.resolution, scene.num_frames, cameras=len(scene.views),
                               intrinsics=settings.intrinsics)
        preflight.check_free_space(output.parent, scene.resolution, scene.num_frames, cameras=len(scene.views),
                                   intrinsics=settings.intrinsics)

    t0 = time.perf_counter()
    trajectory = physics.simulate(scene)
    timings["physics"] = time.perf_counter() - t0
    log.info("simulated %d objects over %d frames (%d collisions) in %.2f s", len(scene.objects),
             scene.num_frames, len(trajectory.collisions), timings["physics"])

    asked = output_options(num_tracks, float_layers, preview)  # as asked (None: the default), for resume
    if num_tracks is None:
        num_tracks = DEFAULT_NUM_TRACKS if scene.num_tracks is None else scene.num_tracks
    flags = {"world": world.name, "seed": seed, **config}
    provenance = {
        "versions": versions(),
        "world": {"name": world.name, "file": str(world.path), "sha256": world.sha256},
        "seed": seed,
        "config": config,
        "render_settings": asdict(settings),
        "outputs": asked,
        "platform": platform.platform(),
        "timings": timings,
    }
    if scene.is_multiview:
        return _generate_views(scene, trajectory, output, settings, overwrite, preview, num_tracks, float_layers,
                               progress, flags, provenance, label_schema, save_blend)
    on_frame = (lambda i: progress(i + 1, scene.num_frames)) if progress else None
    with scene_writer(output, overwrite=overwrite, threads=settings.threads) as writer, \
            ThreadPoolExecutor(1, thread_name_prefix="ground-truth") as background:
        def truth_and_layers() -> GroundTruth:
            start = time.perf_counter()
            truth = compute_ground_truth(scene, trajectory, num_tracks=num_tracks, threads=settings.threads)
            timings["ground_truth"] = time.perf_counter() - start
            writer.write_truth(truth, float_layers)
            return truth

        # the CPU stages overlap the render: Cycles releases the GIL while it renders
        load_blender()  # first: loading bpy while Embree starts up in the other thread can deadlock
        truth_job = background.submit(truth_and_layers)
        t0 = time.perf_counter()
        result = render(scene, trajectory, settings, progress=on_frame,
                        save_blend=writer.directory / fmt.BLEND if save_blend else None)
        timings["render_setup"] = result.timings.get("build", 0.0)
        timings["render"] = result.timings.get("render", 0.0)
        if "save_blend" in result.timings:
            timings["save_blend"] = result.timings["save_blend"]
        truth = truth_job.result()
        timings["truth_wait"] = time.perf_counter() - t0 - sum(result.timings.values())

        provenance["device"] = result.device
        writer.finish(scene, trajectory, result.rgba, flags, provenance, truth=truth, preview=preview,
                      label_schema=label_schema, intrinsics=result.intrinsics)
    return SceneResult(path=output, device=result.device, timings=timings)


_warned_labels: set[tuple[str, tuple[str, ...]]] = set()


def _warn_undeclared_labels(world: str, schema: LabelSchema, scene: Scene) -> None:
    """One warning per process and world naming the labels its datasets would leave out
    (objects' `labels` of a world without a label schema)."""
    from kubric_gen.labels import undeclared_labels, undeclared_labels_message

    keys = tuple(undeclared_labels(schema, (o.labels for o in scene.objects if not o.is_background)))
    if keys and (world, keys) not in _warned_labels:
        _warned_labels.add((world, keys))
        log.warning("world %r: %s", world, undeclared_labels_message(keys))


def _generate_views(scene: Scene, trajectory: Trajectory, output: Path, settings: RenderSettings, overwrite: bool,
                    preview: bool, num_tracks: int, float_layers: bool,
                    progress: Callable[[int, int], None] | None, flags: dict, provenance: dict,
                    label_schema: LabelSchema, save_blend: bool = False) -> SceneResult:
    """The cameras of a multi-camera scene one after another (physics ran once): each view's
    ground truth is computed while Cycles renders it; then the shared instance order, the
    cross-view truth, and the views and the scene's own files (`SceneWriter.finish_views`).
    Timings add up over the views; cross_view and write_views are the multi-camera stages.
    With `save_blend`, each view folder gets the scene.blend of its camera."""
    from kubric_gen.render import load_blender, render
    from kubric_gen.truth import compute_cross_view, shared_instances

    timings = provenance["timings"]
    views = [scene.view(cam.name) for cam in scene.views]
    total = len(views) * scene.num_frames
    truths, rgbas, passes, device = [], [], [], "cpu"
    with scene_writer(output, overwrite=overwrite, threads=settings.threads) as writer, \
            ThreadPoolExecutor(1, thread_name_prefix="ground-truth") as background:
        load_blender()  # first: loading bpy while Embree starts up in the other thread can deadlock
        view_writers = [writer.view(view.camera.name) for view in views]
        for k, view in enumerate(views):
            def truth_of(view: Scene = view) -> GroundTruth:
                start = time.perf_counter()
                truth = compute_ground_truth(view, trajectory, num_tracks=num_tracks, threads=settings.threads)
                _add(timings, "ground_truth", time.perf_counter() - start)
                return truth

            truth_job = background.submit(truth_of)
            t0 = time.perf_counter()
            done = k * scene.num_frames
            on_frame = (lambda i, done=done: progress(done + i + 1, total)) if progress else None
            blend = view_writers[k].directory / fmt.BLEND if save_blend else None
            result = render(view, trajectory, settings, progress=on_frame, save_blend=blend)
            _add(timings, "render_setup", result.timings.get("build", 0.0))
            if "save_blend" in result.timings:
                _add(timings, "save_blend", result.timings["save_blend"])
            _add(timings, "render", result.timings.get("render", 0.0))
            truths.append(truth_job.result())
            _add(timings, "truth_wait", time.perf_counter() - t0 - sum(result.timings.values()))
            rgbas.append(result.rgba)
            passes.append(result.intrinsics)
            device = result.device
        t0 = time.perf_counter()
        truths = shared_instances(scene, truths)
        cross_view = compute_cross_view(scene, trajectory, truths, num_tracks=num_tracks, threads=settings.threads)
        timings["cross_view"] = time.perf_counter() - t0
        provenance["device"] = device
        for view, truth, rgba, images, view_writer in zip(views, truths, rgbas, passes, view_writers, strict=True):
            view_writer.write_truth(truth, float_layers)
            view_writer.finish(view, trajectory, rgba, flags, {**provenance, "timings": {}}, truth=truth,
                               preview=preview, label_schema=label_schema, intrinsics=images)
            for key, value in view_writer.timings.items():
                _add(timings, key, value)
        writer.finish_views(scene, trajectory, rgbas, flags, provenance, truths, cross_view, preview=preview,
                            label_schema=label_schema)
    return SceneResult(path=output, device=device, timings=timings)


def _add(timings: dict[str, float], key: str, seconds: float) -> None:
    timings[key] = timings.get(key, 0.0) + seconds
