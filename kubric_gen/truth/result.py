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
