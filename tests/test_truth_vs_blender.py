"""Ground truth agrees with what Blender itself sees (Cycles' object-index and depth passes)."""

import numpy as np
import pytest
from scipy import ndimage

from kubric_gen.render import render_passes
from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth
from kubric_gen.world import build_scene, load_world, resolve_config


@pytest.fixture(scope="module")
def movi_scene():
    world = load_world("movi_a")
    scene = build_scene(world, 11, resolve_config(world, {"resolution": [96, 80], "num_frames": 3,
                                                          "min_num_objects": 8, "max_num_objects": 8}))
    trajectory = physics.simulate(scene)
    return scene, trajectory, compute_ground_truth(scene, trajectory, num_tracks=0), \
        render_passes(scene, trajectory)


def _interior(object_index):
    """Pixels whose 3x3 neighbourhood shows a single object (not on a boundary)."""
    same = np.ones(object_index.shape, dtype=bool)
    for t in range(object_index.shape[0]):
        lo = ndimage.minimum_filter(object_index[t], size=3, mode="nearest")
        hi = ndimage.maximum_filter(object_index[t], size=3, mode="nearest")
        same[t] = lo == hi
    return same


def test_segmentation_matches_cycles_object_index(movi_scene):
    scene, _, truth, passes = movi_scene
    interior = _interior(truth.object_index)
    assert interior.mean() > 0.7
    agree = (truth.object_index == passes["object_index"])[interior].mean()
    assert agree >= 0.995, agree
    assert len(np.unique(truth.object_index)) >= 5  # several objects really are in view


def test_depth_matches_cycles_depth_pass(movi_scene):
    _, _, truth, passes = movi_scene
    interior = _interior(truth.object_index) & np.isfinite(truth.depth)
    relative = np.abs(passes["depth"][interior] - truth.depth[interior]) / truth.depth[interior]
    assert (relative < 1e-3).mean() >= 0.995, np.quantile(relative, [0.5, 0.995])
    assert np.median(relative) < 1e-4
