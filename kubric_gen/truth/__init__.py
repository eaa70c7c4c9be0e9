"""Exact ground truth by ray casting the scene's own triangles (Embree via embreex).

`compute` (trimesh, embreex) is imported when first used, so the writers and readers that
only need `GroundTruth`/`PointTracks` stay cheap to import."""

from typing import TYPE_CHECKING

from kubric_gen.lazy import lazy_exports
from kubric_gen.truth.result import AmodalInstances, CrossViewTruth, GroundTruth, PointTracks

if TYPE_CHECKING:
    from kubric_gen.truth.compute import OCCLUSION_TOLERANCE, compute_ground_truth, flow_at
    from kubric_gen.truth.multiview import compute_cross_view, shared_instances

__all__ = ["OCCLUSION_TOLERANCE", "AmodalInstances", "CrossViewTruth", "GroundTruth", "PointTracks",
           "compute_cross_view", "compute_ground_truth", "flow_at", "shared_instances"]
__getattr__ = lazy_exports(__name__, {
    **{name: "kubric_gen.truth.compute" for name in ("OCCLUSION_TOLERANCE", "compute_ground_truth", "flow_at")},
    **{name: "kubric_gen.truth.multiview" for name in ("compute_cross_view", "shared_instances")}})
