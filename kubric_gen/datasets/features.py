"""The TFDS feature dictionary: MOVi's features (names, shapes, dtypes, encodings) plus our extras.

MOVi's (see docs/datasets.md and /work/shared/reference/MOVI_FORMAT.md):
metadata/*, video, segmentations, forward_flow, backward_flow, depth, normal,
object_coordinates, camera/*, instances/*, events/collisions/*, and the per-variant labels
declared by the scenes' world (`kubric_gen.labels`).

Ours, extra keys that leave MOVi's untouched: forward_flow_occlusion, backward_flow_occlusion,
tracks/{query_points, target_points, occluded}, camera/intrinsics, provenance/{world, seed,
config, record}.

Scenes with several cameras (`cameras`, C names): every per-view feature gains a leading
camera axis C (video (C, T, H, W, 3), ..., camera/positions (C, T, 3), metadata/depth_range
(C, 2), instances/visibility (K, C, T), tracks (C, N, ...)), with the same per-frame
encodings (`kubric_gen.datasets.camera_axis`); the instances' camera-independent fields are
MOVi's; plus metadata/num_cameras, metadata/camera_names, camera/name and the cross-view
point tracks multiview_tracks. instances/bboxes become dense (K, C, T, 4) (zeros where the
instance is not visible: visibility 0) and bbox_frames is left out. See docs/datasets.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kubric_gen.datasets.extras import features as extra_features
from kubric_gen.datasets.extras import multiview_features as extra_multiview_features
from kubric_gen.labels import Label, LabelSchema


def _label_feature(label: Label):
    import tensorflow_datasets as tfds

    if label.kind == "class":
        return tfds.features.ClassLabel(names=list(label.names), doc=label.doc)
    if label.kind == "float3":
        return tfds.features.Tensor(shape=(3,), dtype=np.float32, doc=label.doc)
    if label.kind == "float":
        return tfds.features.Scalar(dtype=np.float32, doc=label.doc)
    if label.kind == "bool":
        return tfds.features.Scalar(dtype=np.bool_, doc=label.doc)
    return tfds.features.Text(doc=label.doc)


def _finish(features: dict, schema: LabelSchema):
    """`features` with the provenance and the scene's labels, as a FeaturesDict (both kinds of dataset)."""
    import tensorflow_datasets as tfds

    f = tfds.features
    features["provenance"] = {
        "world": f.Text(), "seed": f.Scalar(dtype=np.int64),
        "config": f.Text(doc="JSON of metadata.json flags"), "record": f.Text(doc="JSON of provenance.json"),
    }
    for label in schema.scene:
        group, _, leaf = label.feature.rpartition("/")
        (features[group] if group else features)[leaf] = _label_feature(label)
    return f.FeaturesDict(features)


def movi_features(schema: LabelSchema, width: int, height: int, num_frames: int, cameras: Sequence[str] = (),
                  extras: Sequence[str] = ()):
    """The FeaturesDict of a dataset with this label schema at (width, height) and num_frames;
    `cameras` (names) for scenes with several cameras (empty: MOVi's one-camera features);
    `extras`: optional features (`datasets.extras`; one camera only)."""
    import tensorflow_datasets as tfds

    f = tfds.features
    t, h, w = num_frames, height, width
    if cameras:
        return _multiview_features(schema, w, h, t, list(cameras), extras)

    def tensor(shape, dtype=np.float32, doc=None):
        return f.Tensor(shape=shape, dtype=dtype, doc=doc)

    def scalar(dtype, doc=None):
        return f.Scalar(dtype=dtype, doc=doc)

    # MOVi's flow tensors, stored as raw bytes rather than a list of integers: the same decoded
    # tensors, a smaller file, and numpy decoding (tfds.data_source) 3x faster
    flow = f.Tensor(shape=(h, w, 2), dtype=np.uint16, encoding=f.Encoding.BYTES)
    metadata = {
        "video_name": f.Text(doc="scene directory name"),
        "width": scalar(np.int32), "height": scalar(np.int32), "num_frames": scalar(np.int32),
        "num_instances": scalar(np.uint16),
        "depth_range": tensor((2,), doc="[min, max] of depth: v / 65535 * (max - min) + min"),
        "forward_flow_range": tensor((2,), doc="[min, max] of forward_flow (pixels)"),
        "backward_flow_range": tensor((2,), doc="[min, max] of backward_flow (pixels)"),
    }
    instance = {
        "mass": scalar(np.float32), "friction": scalar(np.float32), "restitution": scalar(np.float32),
        "positions": tensor((t, 3)), "quaternions": tensor((t, 4), doc="w, x, y, z"),
        "velocities": tensor((t, 3)), "angular_velocities": tensor((t, 3)),
        "bboxes_3d": tensor((t, 8, 3)), "image_positions": tensor((t, 2), doc="normalised x, y"),
        "bboxes": f.Sequence(f.BBoxFeature(doc="normalised ymin, xmin, ymax, xmax")),
        "bbox_frames": f.Sequence(scalar(np.int32)),
        "visibility": tensor((t,), np.uint16, doc="visible pixels per frame"),
    }
    for label in schema.instance:
        instance[label.feature] = _label_feature(label)
    extra_top, extra_instance = extra_features(extras, t, h, w)
    instance.update(extra_instance)

    features = {
        "metadata": metadata,
        "video": f.Video(shape=(t, h, w, 3)),
        "segmentations": f.Sequence(f.Image(shape=(h, w, 1)), length=t),
        "forward_flow": f.Sequence(flow, length=t),
        "backward_flow": f.Sequence(flow, length=t),
        "depth": f.Sequence(f.Image(shape=(h, w, 1), dtype=np.uint16), length=t),
        "normal": f.Video(shape=(t, h, w, 3), dtype=np.uint16),
        "object_coordinates": f.Video(shape=(t, h, w, 3), dtype=np.uint16),
        "camera": {
            "focal_length": scalar(np.float32, "mm"), "sensor_width": scalar(np.float32, "mm"),
            "field_of_view": scalar(np.float32, "horizontal, radians"),
            "positions": tensor((t, 3)), "quaternions": tensor((t, 4), doc="w, x, y, z; Blender camera"),
            # ours
            "intrinsics": tensor((3, 3), doc="pixels, OpenCV convention, at this config's resolution"),
        },
        "instances": f.Sequence(instance),
        "events": {"collisions": f.Sequence({
            "instances": tensor((2,), np.uint16, doc="65535: floor or a non-instance"),
            "frame": scalar(np.int32), "force": scalar(np.float32),
            "position": tensor((3,)), "image_position": tensor((2,)), "contact_normal": tensor((3,)),
        })},
        # ours
        "forward_flow_occlusion": f.Sequence(f.Image(shape=(h, w, 1)), length=t),
        "backward_flow_occlusion": f.Sequence(f.Image(shape=(h, w, 1)), length=t),
        "tracks": {
            "query_points": tensor((None, 3), doc="t, y, x (pixels)"),
            "target_points": tensor((None, t, 2), doc="x, y (pixels)"),
            "occluded": tensor((None, t), np.bool_),
        },
        **extra_top,
    }
    return _finish(features, schema)


def _multiview_features(schema: LabelSchema, w: int, h: int, t: int, cameras: list[str], extras: Sequence[str] = ()):
    """The FeaturesDict of scenes with the cameras `cameras`: MOVi's per-view features with a
    leading camera axis C (the same per-frame encodings), shared instances, cross-view tracks."""
    import tensorflow_datasets as tfds

    from kubric_gen.datasets.camera_axis import CameraAxis

    f = tfds.features
    c = len(cameras)

    def tensor(shape, dtype=np.float32, doc=None):
        return f.Tensor(shape=shape, dtype=dtype, doc=doc)

    def scalar(dtype, doc=None):
        return f.Scalar(dtype=dtype, doc=doc)

    def frames(feature, doc):
        return CameraAxis(feature, c, doc=doc)

    def images(dtype=np.uint8):
        return f.Sequence(f.Image(shape=(h, w, 1), dtype=dtype), length=t)

    def flow():  # raw bytes per frame already: one raw (C, T, H, W, 2) tensor holds the same bytes
        return f.Tensor(shape=(c, t, h, w, 2), dtype=np.uint16, encoding=f.Encoding.BYTES,
                        doc="(C, T, H, W, 2); decode with the camera's range")
    metadata = {
        "video_name": f.Text(doc="scene directory name"),
        "width": scalar(np.int32), "height": scalar(np.int32), "num_frames": scalar(np.int32),
        "num_instances": scalar(np.uint16),
        "num_cameras": scalar(np.int32, "C"),
        "camera_names": f.Sequence(f.Text(), length=c, doc=f"the cameras, in order: {', '.join(cameras)}"),
        "depth_range": tensor((c, 2), doc="per camera [min, max] of depth: v / 65535 * (max - min) + min"),
        "forward_flow_range": tensor((c, 2), doc="per camera [min, max] of forward_flow (pixels)"),
        "backward_flow_range": tensor((c, 2), doc="per camera [min, max] of backward_flow (pixels)"),
    }
    instance = {
        "mass": scalar(np.float32), "friction": scalar(np.float32), "restitution": scalar(np.float32),
        "positions": tensor((t, 3)), "quaternions": tensor((t, 4), doc="w, x, y, z"),
        "velocities": tensor((t, 3)), "angular_velocities": tensor((t, 3)),
        "bboxes_3d": tensor((t, 8, 3)),
        "image_positions": tensor((c, t, 2), doc="per camera: normalised x, y"),
        "bboxes": tensor((c, t, 4), doc="per camera: normalised ymin, xmin, ymax, xmax; 0 where not visible"),
        "visibility": tensor((c, t), np.uint16, doc="per camera: visible pixels per frame"),
    }
    for label in schema.instance:
        instance[label.feature] = _label_feature(label)
    extra_top, extra_instance = extra_multiview_features(extras, c, t, h, w, frames)
    instance.update(extra_instance)

    features = {
        "metadata": metadata,
        "video": frames(f.Video(shape=(t, h, w, 3)), "(C, T, H, W, 3)"),
        "segmentations": frames(images(), "(C, T, H, W, 1); ids shared by the cameras"),
        "forward_flow": flow(),
        "backward_flow": flow(),
        "depth": frames(images(np.uint16), "(C, T, H, W, 1); decode with the camera's depth_range"),
        "normal": frames(f.Video(shape=(t, h, w, 3), dtype=np.uint16), "(C, T, H, W, 3)"),
        "object_coordinates": frames(f.Video(shape=(t, h, w, 3), dtype=np.uint16), "(C, T, H, W, 3)"),
        "camera": {
            "name": f.Sequence(f.Text(), length=c, doc="the camera names (metadata/camera_names)"),
            "focal_length": tensor((c,), doc="mm"), "sensor_width": tensor((c,), doc="mm"),
            "field_of_view": tensor((c,), doc="horizontal, radians"),
            "positions": tensor((c, t, 3)), "quaternions": tensor((c, t, 4), doc="w, x, y, z; Blender camera"),
            "intrinsics": tensor((c, 3, 3), doc="pixels, OpenCV convention, at this config's resolution"),
        },
        "instances": f.Sequence(instance),
        "events": {"collisions": f.Sequence({
            "instances": tensor((2,), np.uint16, doc="65535: floor or a non-instance"),
            "frame": scalar(np.int32), "force": scalar(np.float32),
            "position": tensor((3,)), "image_position": tensor((c, 2), doc="per camera: normalised x, y"),
            "contact_normal": tensor((3,)),
        })},
        "forward_flow_occlusion": frames(images(), "(C, T, H, W, 1)"),
        "backward_flow_occlusion": frames(images(), "(C, T, H, W, 1)"),
        "tracks": {
            "query_points": tensor((c, None, 3), doc="per camera: t, y, x (pixels)"),
            "target_points": tensor((c, None, t, 2), doc="per camera: x, y (pixels)"),
            "occluded": tensor((c, None, t), np.bool_),
        },
        "multiview_tracks": {
            "query_points": tensor((None, 3), doc="t, y, x (pixels) in the camera query_camera"),
            "query_camera": tensor((None,), np.int32, doc="index of the query's camera"),
            "query_world": tensor((None, 3), doc="the query's surface point, world, metres, at frame t"),
            "target_points": tensor((c, None, t, 2), doc="x, y (pixels) in every camera"),
            "occluded": tensor((c, None, t), np.bool_),
        },
        **extra_top,
    }
    return _finish(features, schema)
