"""What the ground-truth stage produces: float layers per frame and per-instance annotations.

Plain numpy data; `kubric_gen.io` quantises and writes it in the MOVi layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PointTracks:
    """TAP-Vid style tracks of N surface points over T frames, in pixels.

    query_points (N, 3): (t, y, x) of each query (y, x at a pixel centre, e.g. row + 0.5);
    target_points (N, T, 2): (x, y) image position of the point in every frame;
    occluded (N, T) bool: off-screen, behind the camera, or hidden by a nearer surface.
    """

    query_points: np.ndarray
    target_points: np.ndarray
    occluded: np.ndarray


@dataclass
class Amodal:
    """Every object's own silhouette, every other object ignored (index = scene object; background
    objects have none): masks (N,T,H,W) bool, the pixels whose ray hits the object; total (N,T)
    its pixels on the image plane extended by one image size past each border (the image's
    included); unclipped (N,T,4) its box there, [ymin, xmin, ymax, xmax] normalised by the
    image's size (beyond [0, 1] outside it), NaN where it has no pixel."""

    masks: np.ndarray
    total: np.ndarray
    unclipped: np.ndarray


@dataclass
class AmodalInstances:
    """The amodal annotations of the K instances of `GroundTruth.instances`, per frame.

    masks (K,T,H,W) bool: the instance's whole silhouette in the image (it alone hit);
    pixels (K,T) int: its pixels (the visible ones are `GroundTruth.visibility`);
    visible_fraction (K,T) float32: visibility / pixels (0 where pixels is 0);
    in_image_fraction (K,T) float32: pixels / its pixels on the extended image plane (1 when
        wholly inside the image; 0 when it projects nowhere there);
    bboxes, bbox_frames: as MOVi's boxes (normalised [ymin, xmin, ymax, xmax], frames), of the
        masks, i.e. clipped at the image border; unclipped_bboxes, unclipped_frames: the whole
        silhouette's box on the extended plane (may extend beyond [0, 1]).
    """

    masks: np.ndarray
    pixels: np.ndarray
    visible_fraction: np.ndarray
    in_image_fraction: np.ndarray
    bboxes: list[np.ndarray]
    bbox_frames: list[np.ndarray]
    unclipped_bboxes: list[np.ndarray]
    unclipped_frames: list[np.ndarray]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), 0.0).astype(np.float32)


def mask_bboxes(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MOVi's boxes of a (T,H,W) bool mask: normalised [ymin, xmin, ymax, xmax] (n,4) float32
    (max edge = last pixel + 1) over the n frames where it is not empty, and those frames."""
    t, height, width = masks.shape
    rows, cols = masks.any(axis=2), masks.any(axis=1)
    frames = np.flatnonzero(rows.any(axis=1)).astype(np.int32)
    boxes = [[np.argmax(rows[f]) / height, np.argmax(cols[f]) / width,
              (height - np.argmax(rows[f][::-1])) / height, (width - np.argmax(cols[f][::-1])) / width]
             for f in frames]
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4), frames


def amodal_instances(amodal: Amodal, order: list[int], visibility: np.ndarray) -> AmodalInstances:
    """The instances' amodal annotations from every object's (`order`: their scene indices)."""
    masks = amodal.masks[order]
    pixels = masks.reshape(*masks.shape[:2], masks.shape[2] * masks.shape[3]).sum(axis=2)
    boxes = [mask_bboxes(m) for m in masks]
    unclipped = [amodal.unclipped[i] for i in order]
    frames = [np.flatnonzero(~np.isnan(u[:, 0])).astype(np.int32) for u in unclipped]
    return AmodalInstances(masks=masks, pixels=pixels, visible_fraction=_ratio(visibility, pixels),
                           in_image_fraction=_ratio(pixels, amodal.total[order]),
                           bboxes=[b for b, _ in boxes], bbox_frames=[f for _, f in boxes],
                           unclipped_bboxes=[u[f].astype(np.float32) for u, f in zip(unclipped, frames, strict=True)],
                           unclipped_frames=frames)


@dataclass
class GroundTruth:
    """Exact layers at pixel centres, for frames 0..T-1 of an H x W scene.

    depth (T,H,W) float32: Euclidean distance camera centre -> surface; +inf where the
        ray hits nothing.
    segmentation (T,H,W) int32: 0 = nothing or a background object, k = instances[k-1].
    object_index (T,H,W) int32: index of the hit object in scene.objects, -1 for none.
    normal (T,H,W,3) float32: world-space unit shading normal; 0 where nothing is hit.
    object_coordinates (T,H,W,3) float32: surface point in the object's unscaled local
        bounds, (p - min) / (max - min); 0 where nothing is hit.
    forward_flow (T,H,W,2) float32: (d_row, d_col) in pixels, the motion from frame t to t+1
        of the surface point seen at the pixel in frame t.
    backward_flow (T,H,W,2) float32: (d_row, d_col), that point's motion from frame t-1 to t
        (MOVi's sign, as Kubric writes it: a steady motion has equal forward and backward flow).
    forward_flow_occlusion / backward_flow_occlusion (T,H,W) bool: the point is hidden or
        off-screen in frame t+1 / t-1.
    forward_scene_flow / backward_scene_flow (T,H,W,3) float32: the 3D motion (metres, world
        axes) of the surface point seen at the pixel in frame t, from t to t+1 / from t-1 to t
        (the backward flow's sign: a steady motion has equal forward and backward scene flow);
        0 where nothing is hit. None when not computed. `camera_poses` (T+2, 7): the camera's
        position and quaternion at frames -1..T (the two beyond the clip extrapolated, as the
        flow's). The same motion in camera coordinates (OpenCV's axes; the point in frame t+1's
        camera frame minus in frame t's, camera motion included, so depth's point plus it
        projects to the optical flow) follows from these: `geometry.scene_flow_in_camera`,
        which `SceneDir.scene_flow` applies.
    occlusion_boundaries (T,H,W) uint8: per pixel, bit k (k = 0..3: the neighbour to the right,
        below, left, above) where the edge to that neighbour is an occlusion boundary and this
        pixel's surface is in front, bit k+4 where it is behind (`truth.boundaries`).
    instances: names of the non-background objects visible in some frame, by total
        visibility (descending; ties in scene order).
    visibility (K,T) int: visible pixels per instance and frame.
    bboxes: per instance (n_k, 4) float32 normalised [ymin, xmin, ymax, xmax] over its
        visible frames; bbox_frames: per instance (n_k,) int32.
    """

    depth: np.ndarray
    segmentation: np.ndarray
    object_index: np.ndarray
    normal: np.ndarray
    object_coordinates: np.ndarray
    forward_flow: np.ndarray
    backward_flow: np.ndarray
    forward_flow_occlusion: np.ndarray
    backward_flow_occlusion: np.ndarray
    instances: list[str]
    visibility: np.ndarray
    bboxes: list[np.ndarray]
    bbox_frames: list[np.ndarray]
    tracks: PointTracks | None = None
    timings: dict[str, float] = field(default_factory=dict)
    forward_scene_flow: np.ndarray | None = None
    backward_scene_flow: np.ndarray | None = None
    occlusion_boundaries: np.ndarray | None = None
    camera_poses: np.ndarray | None = None  # (T+2, 7): position, quaternion (w, x, y, z) of frames -1..T
    amodal: AmodalInstances | None = None  # the instances' (None: not computed, e.g. read from elsewhere)
    amodal_objects: Amodal | None = None  # every object's, for re-ordering the instances (`with_instances`)
    part_index: np.ndarray | None = None  # (T,H,W) uint8 link id (parts.py): None in a scene without links
    link_bboxes: dict[str, list] | None = None  # articulated object -> per link (boxes (n, 4), frames (n,))


@dataclass
class CrossViewTruth:
    """Ground truth across the C cameras of a scene (`truth.multiview`), cameras in scene order.

    cameras: the camera names.
    correspondence_occluded (C,C,T,H,W) bool: camera b does not see the surface point seen at
        pixel (row, col) of camera a in frame t (nothing seen in a, off-screen or behind b, or
        hidden by a nearer surface); [a, a] is true exactly where a sees nothing.
    correspondences (C,C,T,H,W,2) float32, as `SceneDir.cross_view` reads it (None as computed):
        (x, y) in b's image of that point (pixel centres at +0.5), NaN where a sees nothing or
        the point is behind b; it follows from a's depth (`geometry.correspondences`), so
        neither the ground truth stage nor the file holds it.
    disparity (T,H,W) float32 (a property, with the correspondences), for two cameras:
        x_0 - x_1 of each pixel of camera 0 (NaN where it sees nothing); disparity_occluded:
        camera 1 does not see the point.
    query_points (N,3) float32: (t, y, x) of each track's query in its camera query_camera (N,);
        query_world (N,3): the query's surface point in world space at frame t;
        query_object (N,): the name of the object it lies on.
    target_points (C,N,T,2) float32: (x, y) of each point in every camera and frame (-1 behind it);
    occluded (C,N,T) bool: off-screen, behind the camera or hidden there.
    """

    cameras: list[str]
    correspondence_occluded: np.ndarray
    correspondences: np.ndarray | None = None
    query_points: np.ndarray | None = None
    query_camera: np.ndarray | None = None
    query_world: np.ndarray | None = None
    query_object: np.ndarray | None = None
    target_points: np.ndarray | None = None
    occluded: np.ndarray | None = None

    @property
    def disparity(self) -> np.ndarray:
        if len(self.cameras) != 2:
            raise ValueError(f"disparity needs two cameras (this scene has {len(self.cameras)})")
        if self.correspondences is None:
            raise ValueError("disparity needs the correspondences (SceneDir.cross_view reads them)")
        return disparity_of(self.correspondences[0, 1])

    @property
    def disparity_occluded(self) -> np.ndarray:
        self.disparity  # noqa: B018  (the same checks)
        return self.correspondence_occluded[0, 1]


def disparity_of(correspondences: np.ndarray) -> np.ndarray:
    """(..., H, W) float32 disparity x_0 - x_1 from camera 0's correspondences into camera 1
    (..., H, W, 2): each pixel centre's x minus where its point lies in camera 1."""
    centres_x = np.arange(correspondences.shape[-2], dtype=np.float32) + np.float32(0.5)
    return centres_x - correspondences[..., 0]
