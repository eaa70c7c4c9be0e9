"""The TFDS builder: a `GeneratorBasedBuilder` (Beam-capable) over a folder of scene directories.

A dataset's name, label schema, resolution and scene list are only known from the scenes,
so `make_builder_class` creates one builder class per build (never registered with TFDS:
a dataset is read back from its prepared files, which describe their own features; see
`kubric_gen.datasets.loading`). One builder config per resolution, named ``WxH``; the
first (default) is the scenes' own resolution.

Without Beam the examples are generated in this process; with Beam options,
`_generate_examples` returns a PTransform whose workers call `scene_examples` (a
module-level function, so it pickles by reference).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import types
from collections.abc import Iterator
from typing import Any

import tensorflow_datasets as tfds

from kubric_gen.datasets.config import DatasetError, Resolution
from kubric_gen.datasets.features import movi_features
from kubric_gen.datasets.scenes import SceneDirError, read_example
from kubric_gen.labels import LabelSchema

log = logging.getLogger(__name__)

# MOVi's version: training code names MOVi as "movi_a/128x128:1.0.0", and a dataset built with
# those features must answer to that exact name (docs/decisions/dataset_version.md). How we store
# the features is our own revision, recorded in the dataset's metadata (`storage_revision`), not
# in the TFDS version; a prepared config of another revision is rebuilt, never reused.
VERSION = "1.0.0"
STORAGE_REVISION = 2
STORAGE_REVISIONS = {
    1: "forward_flow / backward_flow as integer lists (MOVi's own storage).",
    2: "forward_flow / backward_flow as raw bytes: the same decoded tensors, 23 % smaller TFRecord files, numpy "
       "decoding (tfds.data_source) 3x faster; ArrayRecord builds (random access).",
}
RELEASE_NOTES = {
    "1.0.0": "Kubric MOVi's features (names, shapes, dtypes, per-world labels) under MOVi's version, so "
             "'movi_a/128x128:1.0.0' names this build; plus point tracks, flow occlusion masks, pixel intrinsics "
             f"and provenance. Storage revision {STORAGE_REVISION}: {STORAGE_REVISIONS[STORAGE_REVISION]}",
}
CITATION = """\
@inproceedings{greff2022kubric,
  title     = {Kubric: A scalable dataset generator},
  author    = {Klaus Greff and Francois Belletti and Lucas Beyer and Carl Doersch and Yilun Du and
               Daniel Duckworth and David J. Fleet and Dan Gnanapragasam and Florian Golemo and
               Charles Herrmann and Thomas Kipf and Abhijit Kundu and Dmitry Lagun and Issam Laradji and
               Hsueh-Ti (Derek) Liu and Henning Meyer and Yishu Miao and Derek Nowrouzezahrai and
               Cengiz Oztireli and Etienne Pot and Noha Radwan and Daniel Rebain and Sara Sabour and
               Mehdi S. M. Sajjadi and Matan Sela and Vincent Sitzmann and Austin Stone and Deqing Sun and
               Suhani Vora and Ziyu Wang and Tianhao Wu and Kwang Moo Yi and Fangcheng Zhong and
               Andrea Tagliasacchi},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2022}
}"""


@dataclasses.dataclass(eq=False)
class ResolutionConfig(tfds.core.BuilderConfig):
    """A builder config: the dataset at width x height (the scenes' resolution divided by `factor`)."""

    width: int = 0
    height: int = 0
    factor: int = 1


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Everything a build knows before generating (plain data)."""

    name: str
    world: str
    label_schema: dict  # LabelSchema.to_dict() of the scenes
    source: Resolution
    num_frames: int
    configs: tuple[Resolution, ...]
    split_paths: dict[str, list[str]]
    card: dict[str, Any]
    fingerprint: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)  # split: {scene: content}
    use_beam: bool = False
    cameras: tuple[str, ...] = ()  # the camera names of scenes with several cameras; () for one camera
    extras: tuple[str, ...] = ()  # optional features (datasets.extras); () keeps exactly the features without them

    @property
    def labels(self) -> LabelSchema:
        return LabelSchema.from_dict(self.label_schema)


def scene_examples(path: str, width: int, height: int, label_schema: dict, num_frames: int,
                   cameras: tuple[str, ...] = (), extras: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    """[(key, example)] of one scene directory, or [] (with a warning) if it is incomplete or invalid."""
    try:
        return [read_example(path, Resolution(width, height), schema=LabelSchema.from_dict(label_schema),
                             num_frames=num_frames, cameras=cameras, extras=extras)]
    except SceneDirError as e:
        log.warning("skipping scene directory %s: %s", path, e)
        from kubric_gen.datasets.beam import count_skipped

        count_skipped()
        return []


def _card(spec: DatasetSpec, config: ResolutionConfig, features) -> str:
    card = spec.card
    counts = ", ".join(f"{s} {len(p)}" for s, p in spec.split_paths.items())
    lines = [
        f"Synthetic videos of the kubric_gen world `{spec.world or '(unnamed)'}`, packaged with the features of "
        f"Kubric's MOVi datasets (label schema `{spec.labels.name}`), so training code written for "
        "MOVi reads them unchanged.",
        "",
        f"* Config `{config.name}`: {config.width}x{config.height} pixels, {spec.num_frames} frames"
        + (f" (the scenes' {spec.source.name} downscaled by {config.factor})" if config.factor > 1 else "") + ".",
        *([f"* Cameras: {len(spec.cameras)} ({', '.join(spec.cameras)}): every per-view feature has a leading "
           "camera axis in this order, and `multiview_tracks` holds the point tracks across cameras. Reading "
           "needs kubric_gen importable (the feature `kubric_gen.datasets.camera_axis.CameraAxis`)."]
          if spec.cameras else []),
        f"* Scenes: {counts} (split by a hash of the scene name).",
        f"* World: `{card.get('world', {}).get('name', spec.world)}`, file `{card.get('world', {}).get('file', '?')}`, "
        f"sha256 `{card.get('world', {}).get('sha256', '?')}`.",
        f"* World config: `{json.dumps(card.get('config', {}), sort_keys=True)}`.",
        f"* Render settings: `{json.dumps(card.get('render_settings', {}), sort_keys=True)}`.",
        f"* Made with: `{json.dumps(card.get('versions', {}), sort_keys=True)}`.",
        "",
        "Conventions: depth is the Euclidean distance from the camera centre, stored as uint16: "
        "`depth / 65535 * (max - min) + min` with `metadata/depth_range`; flows are (d_row, d_col) in pixels, "
        "decoded the same way with `metadata/forward_flow_range` / `backward_flow_range`; segmentation id k is "
        "`instances[k-1]`, 0 the background. Extras beyond MOVi: forward/backward_flow_occlusion, tracks, "
        "camera/intrinsics, provenance. Every feature is documented in kubric_gen's docs/datasets.md.",
        "",
        "Features:",
        "",
        "```",
        str(features),
        "```",
    ]
    return "\n".join(lines)


class KubricGenBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base class of the per-build builder classes made by `make_builder_class`."""

    VERSION = tfds.core.Version(VERSION)
    RELEASE_NOTES = RELEASE_NOTES
    SPEC: DatasetSpec

    def __init__(self, **kwargs: Any) -> None:
        self.skipped: list[tuple[str, str]] = []
        super().__init__(**kwargs)

    def _log_download_bytes(self) -> None:  # TFDS prints "Downloading and preparing ..." to stdout
        log.info("preparing %s in %s", self.name, self.data_dir)

    def _log_download_done(self) -> None:  # ... and "downloaded and prepared": our summary says it
        log.info("prepared %s in %s", self.name, self.data_dir)

    def _features(self):
        cfg = self.builder_config
        return movi_features(self.SPEC.labels, cfg.width, cfg.height, self.SPEC.num_frames, self.SPEC.cameras,
                             self.SPEC.extras)

    def _info(self) -> tfds.core.DatasetInfo:
        spec, cfg = self.SPEC, self.builder_config
        features = self._features()
        return tfds.core.DatasetInfo(
            builder=self,
            description=_card(spec, cfg, features),
            features=features,
            citation=CITATION,
            metadata=tfds.core.MetadataDict({
                "kubric_gen": {
                    "world": spec.world, "label_schema": spec.label_schema, "storage_revision": STORAGE_REVISION,
                    "source_resolution": spec.source.name, "num_frames": spec.num_frames,
                    "card": spec.card, "scenes": spec.fingerprint,
                    **({"cameras": list(spec.cameras)} if spec.cameras else {}),
                    **({"extras": list(spec.extras)} if spec.extras else {}),
                }
            }),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        if self.SPEC.use_beam:
            return {split: self._generate_examples(paths) for split, paths in self.SPEC.split_paths.items()}
        out = {}
        for split, paths in self.SPEC.split_paths.items():
            examples = self._generate_examples(paths)
            first = next(examples, None)  # TFDS cannot write an empty split: leave it out
            if first is None:
                log.warning("split %r has no valid scene directory: it is left out", split)
                continue
            out[split] = itertools.chain([first], examples)
        if not out:
            raise DatasetError("SCENES_DIR: no scene directory could be decoded (see the warnings)")
        return out

    def _generate_examples(self, paths: list[str]):
        cfg = self.builder_config
        args = {"width": cfg.width, "height": cfg.height, "label_schema": self.SPEC.label_schema,
                "num_frames": self.SPEC.num_frames, "cameras": self.SPEC.cameras, "extras": self.SPEC.extras}
        if self.SPEC.use_beam:
            from kubric_gen.datasets.beam import examples_transform

            return examples_transform(paths, scene_examples, **args)
        return self._examples_in_process(sorted(paths), args)

    def _examples_in_process(self, paths: list[str], args: dict) -> Iterator[tuple[str, dict]]:
        for path in paths:
            out = scene_examples(path, **args)
            if not out:
                self.skipped.append((path, "invalid when decoded (see the warning)"))
            yield from out

    def _process_pipeline_result(self, pipeline_result) -> None:
        from kubric_gen.datasets.beam import skipped_count

        n = skipped_count(pipeline_result)
        if n:
            self.skipped.append(("(beam workers)", f"{n} scene directories invalid when decoded (see the warnings)"))


def make_builder_class(spec: DatasetSpec) -> type[KubricGenBuilder]:
    """A builder class named `spec.name`, with one config per resolution in spec.configs."""
    configs = [ResolutionConfig(name=r.name, width=r.width, height=r.height,
                                factor=spec.source.width // r.width,
                                description=f"{r.name} pixels" + ("" if r == spec.source else
                                                                  f", downscaled from {spec.source.name}"))
               for r in spec.configs]
    camel = "".join(part.capitalize() for part in spec.name.split("_"))
    namespace = {"name": spec.name, "SPEC": spec, "BUILDER_CONFIGS": configs, "__module__": __name__,
                 "__doc__": f"The kubric_gen dataset {spec.name!r} (world {spec.world!r})."}
    return types.new_class(camel, (KubricGenBuilder,), {"skip_registration": True}, lambda ns: ns.update(namespace))
