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
