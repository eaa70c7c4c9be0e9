"""Exact ground truth by ray casting the scene's own triangles (Embree via embreex)."""

from kubric_gen.truth.compute import OCCLUSION_TOLERANCE, compute_ground_truth, flow_at
from kubric_gen.truth.result import GroundTruth, PointTracks

__all__ = ["OCCLUSION_TOLERANCE", "GroundTruth", "PointTracks", "compute_ground_truth", "flow_at"]
