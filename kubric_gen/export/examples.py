"""A prepared dataset as an export's source: each example (one camera's view of it, for a
dataset of scenes with several cameras) read through the part of `SceneDir`'s reading API the
formats use, its quantised layers decoded by `kubric_gen.datasets.loading`.

What a dataset does not hold, the formats that need it cannot export: BOP (the meshes and
scene.json) and stereo (its correspondences come from scene directories); an example without
point tracks has no `tapvid` export. Depth in a dataset is quantised to 16 bits over its range
and has no "nothing seen" value, so the flow export marks every pixel valid in `flow_occ`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from kubric_gen.errors import ConfigError
from kubric_gen.io import SceneDirError
from kubric_gen.labels import LabelSchema
from kubric_gen.truth.result import PointTracks

UNSUPPORTED = {"bop": "the meshes and scene.json", "stereo": "the cameras' correspondences"}
_LAYER_FEATURES = {"segmentation": "segmentations", "depth": "depth", "forward_flow": "forward_flow",
                   "forward_flow_occlusion": "forward_flow_occlusion", "rgba": "video"}


class ExampleScene:
    """One example of a prepared dataset (a one-camera view), read like a scene directory."""

    def __init__(self, example: dict, schema: LabelSchema, world: str, views: list[ExampleScene] | None = None,
                 camera_names: list[str] | None = None) -> None:
        self.example = example
        self.schema = schema
        self.world = world
        video = np.asarray(example["video"])
        self.num_frames = int(video.shape[0])
        self.resolution = (int(video.shape[2]), int(video.shape[1]))
        self._views = views
        self._camera_names = camera_names

    # ------------------------------------------------------------ what the formats read
    @property
    def label_schema(self) -> LabelSchema:
        return self.schema

    @property
    def is_multiview(self) -> bool:
        return self._views is not None

    @property
    def views(self) -> list[ExampleScene]:
        return self._views if self._views is not None else [self]

    @property
    def camera_names(self) -> list[str]:
        return self._camera_names if self._camera_names is not None else ["camera"]

    def view(self, camera: str) -> ExampleScene:
        return self.views[self.camera_names.index(camera)]

    def has(self, layer: str) -> bool:
        return _LAYER_FEATURES.get(layer, layer) in self.example

    def stored(self, layer: str) -> np.ndarray:
        if layer != "rgba":
            raise SceneDirError(f"{layer}: not stored as frames in a dataset")
        video = np.asarray(self.example["video"])
        return np.concatenate([video, np.full(video.shape[:3] + (1,), 255, np.uint8)], axis=-1)

    def layer(self, name: str) -> np.ndarray:
        from kubric_gen.datasets.loading import decode_depth, decode_flow

        if not self.has(name):
            raise SceneDirError(f"the dataset has no {_LAYER_FEATURES.get(name, name)!r} feature")
        if name == "segmentation":
            return np.asarray(self.example["segmentations"])[..., 0].astype(np.int32)
        if name == "depth":
            return np.asarray(decode_depth(self.example))[..., 0]
        if name == "forward_flow":
            return np.asarray(decode_flow(self.example, "forward"))
        if name == "forward_flow_occlusion":
            return np.asarray(self.example["forward_flow_occlusion"])[..., 0] > 0
        raise SceneDirError(f"{name}: not a layer the exports read from a dataset")

    def frame_png(self, t: int) -> bytes:
        from kubric_gen.io.layers import encode_png

        return encode_png(np.ascontiguousarray(self.stored("rgba")[t]))

    @cached_property
    def metadata(self) -> dict:
        """metadata.json's camera and instances as the formats read them: class labels by
        their names under the label's metadata key, amodal fields where the dataset has them."""
        camera = {k: np.asarray(v) for k, v in self.example["camera"].items()}
        instances_in = self.example.get("instances", {})
        n = int(np.asarray(self.example["metadata"].get("num_instances", 0)))
        instances: list[dict] = [{} for _ in range(n)]
        for label in self.schema.instance:
            if label.kind == "class" and label.feature in instances_in:
                for k, value in enumerate(np.asarray(instances_in[label.feature])[:n]):
                    instances[k][label.keys[0]] = label.names[int(value)]
        if "visible_fraction" in instances_in:
            for k, value in enumerate(np.asarray(instances_in["visible_fraction"])[:n]):
                instances[k]["visible_fraction"] = np.asarray(value).tolist()
        return {"camera": camera, "instances": instances}

    def tracks(self) -> PointTracks | None:
        tracks = self.example.get("tracks")
        if tracks is None or np.asarray(tracks["target_points"]).shape[0] == 0:
            return None
        return PointTracks(query_points=np.asarray(tracks["query_points"], np.float32),
                           target_points=np.asarray(tracks["target_points"], np.float32),
                           occluded=np.asarray(tracks["occluded"], bool))

    def amodal(self) -> np.ndarray | None:
        masks = self.example.get("instances", {}).get("amodal_masks")
        return None if masks is None else np.asarray(masks, dtype=bool)


@dataclass(frozen=True)
class ExampleUnit:
    """A unit of a dataset export: an example (or one camera's view of it), read in this process."""

    name: str
    scene: ExampleScene
    index: int = 0


def check_format(format_name: str) -> None:
    """ConfigError for a format a prepared dataset cannot give."""
    if format_name in UNSUPPORTED:
        raise ConfigError(f"SRC: the {format_name} export needs {UNSUPPORTED[format_name]}, which a prepared dataset "
                          f"does not hold: export the scene directories it was built from")


def dataset_units(source: str, per_view: bool) -> Iterator[ExampleUnit]:
    """Every example of every split of the dataset versions at `source`, read as they are used,
    as units named `<split>_<video_name>` (`_<camera>` for a view). ConfigError for a dataset
    TFDS cannot read."""
    from kubric_gen.datasets.config import DatasetError
    from kubric_gen.datasets.loading import camera_names, is_multiview, version_examples, view_examples
    from kubric_gen.datasets.validate import find_dataset_versions

    for version in find_dataset_versions(source):
        try:
            info, examples = version_examples(version)
        except DatasetError as e:
            raise ConfigError(f"SRC: {e}") from None
        schema = LabelSchema.from_dict(info["label_schema"]) if "label_schema" in info else LabelSchema("dataset")
        world = str(info.get("world", "dataset"))
        for i, (split, example) in enumerate(examples):
            video_name = example["metadata"].get("video_name", f"{i}")
            base = f"{split}_{video_name.decode() if isinstance(video_name, bytes) else video_name}"
            if not is_multiview(example):
                yield ExampleUnit(base, ExampleScene(example, schema, world))
                continue
            names = camera_names(example)
            views = [ExampleScene(v, schema, world) for v in view_examples(example).values()]
            if per_view:
                yield from (ExampleUnit(f"{base}_{c}", v) for c, v in zip(names, views, strict=True))
            else:  # the scene: its first camera's example, with every view
                yield ExampleUnit(base, ExampleScene(views[0].example, schema, world, views, names))
