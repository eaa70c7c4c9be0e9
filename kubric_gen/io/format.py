"""The scene-directory format in one table: every file, its name and its encoding.

The writer (`layers.write_layers`, `scene_dir.write_scene`) and the one reader
(`reader.SceneDir`, which datasets, the pipeline and `validate` use) both take names from
here. MOVi's own layers keep MOVi's names; our extra layers are named so that no file
starts with a MOVi layer's prefix: readers that count ``forward_flow*`` (as MOVi's
dataset builder does) see exactly MOVi's files.

| layer | file | encoding (see `layers`) |
|---|---|---|
| rgba | ``rgba_%05d.png`` | 8-bit RGBA |
| depth | ``depth_%05d.tiff`` | float32 (H, W, 1), metres from the camera centre, +inf = nothing hit |
| segmentation | ``segmentation_%05d.png`` | 8-bit palette (16-bit grey above 255 instances) |
| normal | ``normal_%05d.png`` | 16-bit RGB, ``v / 65535 * 2 - 1`` |
| object_coordinates | ``object_coordinates_%05d.png`` | 16-bit RGB, ``v / 65535`` |
| forward_flow, backward_flow | ``forward_flow_%05d.png``, ... | 16-bit RGB, range in data_ranges.json |
| forward_flow_occlusion | ``occlusion_forward_%05d.png`` | 8-bit grey, 1 = occluded at t+1 |
| backward_flow_occlusion | ``occlusion_backward_%05d.png`` | 8-bit grey, 1 = occluded at t-1 |

Besides the per-frame layers: ``tracks.npz`` (point tracks) and ``amodal_masks.npz``: each
instance's amodal mask (its whole silhouette, every other object ignored) in every frame, as
``masks`` (K, T, H, ceil(W / 8)) uint8, the (K, T, H, W) bool masks packed 8 pixels to a byte
along rows (``np.unpackbits(masks, axis=-1, count=W)``), deflated; ``shape`` holds (K, T, H, W).
Per-frame fractions and amodal boxes are fields of each instance in ``metadata.json``.
``scene_flow.npz``: the 3D motion of the surface point seen at each pixel, float32 (T, H, W, 3)
arrays ``forward_scene_flow``, ``backward_scene_flow`` (metres, world axes), and ``camera_poses``
(T+2, 7) float64, the camera's position and quaternion at frames -1..T, deflated. Readers
derive the camera-frame arrays (``*_camera``, see `truth.GroundTruth`) from these and the
float32 depth (`SceneDir.scene_flow`): half the bytes of storing them, within 1e-6 m.
``occlusion_boundaries.npz``: ``boundaries`` (T, H, W) uint8, per pixel which of its four edges
are occlusion boundaries and on which side it lies (`truth.boundaries`), deflated.
``parts.npz`` (scenes with articulated objects only): ``part_index`` (T, H, W) uint8, the link seen
at each pixel (1 + its index in the instance's ``links``; 0: a rigid object or nothing), deflated;
(segmentation, part_index) names the instance and its link. Each articulated instance's links,
joints and their states per frame are fields of its entry in ``metadata.json``.
``deformations.npz`` (scenes with deformable objects only): for the deformable objects in scene
order k = 0, 1, ...: ``vertices_<k>`` (T, V, 3) float32 world positions per frame, ``faces_<k>``
(F, 3) int32 and ``rest_vertices_<k>`` (V, 3) float32 (the rest shape in the object's frame,
unscaled: what its object coordinates name), and ``names`` (the objects' names), deflated. A
deformable instance's entry in ``metadata.json`` names its ``deformation_index`` k.

Scene directories written before the occlusion files were renamed
(``forward_flow_occlusion_%05d.png``) are still read.

Besides the layers, a scene directory may hold previews for people (`PREVIEWS`: the RGB
frames as ``preview.mp4``, or ``preview.gif`` where ffmpeg is missing; `CONTACT_SHEET`);
readers need neither, and Kubric's directories have none.

A scene with several cameras (`Scene.cameras`) is a directory of views: ``view_<camera>/``
for each camera, each a complete one-camera scene directory as above (so any MOVi reader
reads a view unchanged; instance ids are shared by the views), beside the scene's own
``metadata.json`` (``views``, every camera's metadata under ``cameras``, the rig), ``scene.json``,
``cross_view.npz`` (`truth.CrossViewTruth`: the correspondences' occlusion masks and the
multi-view tracks; the correspondences follow from the views' depth),
``contact_sheet.png`` (a row per camera), ``provenance.json`` and ``_COMPLETE``, which lists
the views' files too (``view_<camera>/<file>``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kubric_gen.labels import AMODAL_INSTANCE_KEYS

METADATA = "metadata.json"
EVENTS = "events.json"
DATA_RANGES = "data_ranges.json"
PROVENANCE = "provenance.json"
SCENE = "scene.json"
TRACKS = "tracks.npz"
CROSS_VIEW = "cross_view.npz"  # ours, scenes with several cameras: truth.CrossViewTruth
AMODAL = "amodal_masks.npz"  # ours: every instance's whole silhouette per frame, bit-packed (`layers.write_amodal`)
SCENE_FLOW = "scene_flow.npz"  # ours: the 3D motion of the point seen at each pixel, float32 (`SCENE_FLOW_ARRAYS`)
SCENE_FLOW_STORED = ("forward_scene_flow", "backward_scene_flow")  # world axes; with the cameras of frames -1..T
SCENE_FLOW_ARRAYS = (*SCENE_FLOW_STORED, "forward_scene_flow_camera", "backward_scene_flow_camera")  # as read
BOUNDARIES = "occlusion_boundaries.npz"  # ours: `boundaries` (T, H, W) uint8, bits as in truth.boundaries
PARTS = "parts.npz"  # ours, scenes with articulated objects: `part_index` (T, H, W) uint8 link ids (parts.py)
DEFORMATIONS = "deformations.npz"  # ours, scenes with deformable objects: their meshes per frame (see above)
INTRINSICS = "intrinsic_images.npz"  # ours, with --intrinsics: Cycles' albedo/shading (`layers.write_intrinsics`)
INTRINSIC_IMAGES = ("albedo", "shading", "glossy_color", "residual")  # (T, H, W, 3) float16 linear RGB each
INTRINSIC_MASK = "mirror_or_transparent"  # (T, H, W) bool: the first surface seen is metallic or transmissive
AMODAL_FIELDS = AMODAL_INSTANCE_KEYS  # metadata.json's per-instance amodal fields: see scene_dir.amodal_metadata
VIEW_PREFIX = "view_"  # scenes with several cameras: view_<camera>/ is each camera's scene directory
FLOAT_LAYERS_FILE = "layers.npz"
PREVIEW = "preview.mp4"  # ours: the RGB frames as H.264 (bit-exact settings: the same frames, the same bytes)
PREVIEW_GIF = "preview.gif"  # ours: instead of preview.mp4 where ffmpeg is missing or fails (and in older versions)
PREVIEWS = (PREVIEW, PREVIEW_GIF)  # a scene directory holds at most one of them (Kubric's hold none)
CONTACT_SHEET = "contact_sheet.png"  # ours: RGB / segmentation / depth / flow of a few frames in one image
COMPLETE = "_COMPLETE"  # written last: every other file with its SHA-256, and the scene's content hash
BLEND = "scene.blend"  # ours, with `render --save-blend`: the Blender scene of frame 0 (not byte-deterministic)
UNHASHED = (PROVENANCE, BLEND)  # listed in the marker without a hash: timings, Blender's pointers vary by run
MOVI_FILES = (DATA_RANGES, METADATA, EVENTS)  # what MOVi's builder requires besides the frames
OUR_FILES = (METADATA, EVENTS, DATA_RANGES, PROVENANCE, SCENE, TRACKS, AMODAL, SCENE_FLOW, BOUNDARIES, PARTS,
             DEFORMATIONS, INTRINSICS, CROSS_VIEW, FLOAT_LAYERS_FILE, *PREVIEWS, CONTACT_SHEET, COMPLETE, BLEND)
"""Every file besides the frame files that our writer may put in a scene directory or a view folder
(the pipeline moves a folder holding any other file aside rather than deleting it)."""

MAX_16BIT = 65535
MAX_PALETTE_ID = 255


@dataclass(frozen=True)
class Layer:
    """One per-frame layer: `name` as readers return it, files ``{prefix}_%05d.{ext}``."""

    name: str
    prefix: str
    ext: str
    encoding: str  # rgba8, depth, segmentation, normal16, unit16, flow16, mask8
    movi: bool = True  # one of MOVi's layers (required in every scene directory)
    legacy_prefixes: tuple[str, ...] = ()

    def file(self, frame: int) -> str:
        return f"{self.prefix}_{frame:05d}.{self.ext}"


LAYERS = (
    Layer("rgba", "rgba", "png", "rgba8"),
    Layer("depth", "depth", "tiff", "depth"),
    Layer("segmentation", "segmentation", "png", "segmentation"),
    Layer("normal", "normal", "png", "normal16"),
    Layer("object_coordinates", "object_coordinates", "png", "unit16"),
    Layer("forward_flow", "forward_flow", "png", "flow16"),
    Layer("backward_flow", "backward_flow", "png", "flow16"),
    Layer("forward_flow_occlusion", "occlusion_forward", "png", "mask8", movi=False,
          legacy_prefixes=("forward_flow_occlusion",)),
    Layer("backward_flow_occlusion", "occlusion_backward", "png", "mask8", movi=False,
          legacy_prefixes=("backward_flow_occlusion",)),
)
LAYER = {layer.name: layer for layer in LAYERS}
MOVI_LAYERS = tuple(layer.name for layer in LAYERS if layer.movi)
FLOW_LAYERS = ("forward_flow", "backward_flow")
OCCLUSION_LAYERS = ("forward_flow_occlusion", "backward_flow_occlusion")
GROUND_TRUTH_LAYERS = tuple(layer.name for layer in LAYERS if layer.name != "rgba")

FRAME_FILE = re.compile(r"^([a-z_]+)_(\d{5})\.(png|tiff)$")


def view_directory(camera: str) -> str:
    """The folder of camera `camera`'s view inside a scene directory with several cameras."""
    return f"{VIEW_PREFIX}{camera}"


def content_hash(files: dict[str, str | None]) -> str:
    """One SHA-256 over the (name, SHA-256) of a scene's hashed files: what the scene holds."""
    listing = "\n".join(f"{name} {sha}" for name, sha in sorted(files.items()) if sha)
    return hashlib.sha256(listing.encode()).hexdigest()


def layer_of_file(name: str) -> tuple[str, int] | None:
    """(layer name, frame) of a frame file name, or None if it is not one."""
    match = FRAME_FILE.match(name)
    if not match:
        return None
    prefix, frame, ext = match.group(1), int(match.group(2)), match.group(3)
    for layer in LAYERS:
        if ext == layer.ext and (prefix == layer.prefix or prefix in layer.legacy_prefixes):
            return layer.name, frame
    return None
