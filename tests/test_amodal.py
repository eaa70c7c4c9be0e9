"""Amodal masks, visible and in-image fractions, amodal boxes: against the slab test of
`test_truth_analytic` (boxes with closed-form poses) and against Blender's own object-index
pass of the object rendered alone."""

import dataclasses

import numpy as np
import pytest
from test_truth_analytic import EPS_GROW, LOOK_ALONG_Y, _Box, _first_hit, _scene, _StaticCamera

from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth

RESOLUTION = (128, 96)
CAMERA = _StaticCamera((0.0, 0.0, 0.0), LOOK_ALONG_Y)
# A 1 m cube 8 m ahead; a wall 5 m ahead whose edge lies on the camera's axis (x = 0): it hides
# exactly the left half of the cube's front face, the only face the camera sees.
CUBE = _Box("cube", (0.5, 0.5, 0.5), (0.0, 8.0, 0.0))
WALL = _Box("wall", (2.0, 0.1, 2.0), (-2.0, 5.0, 0.0))


def _truth(boxes, num_frames=1, resolution=RESOLUTION):
    scene = _scene(boxes, CAMERA, num_frames, resolution)
    return scene, compute_ground_truth(scene, physics.simulate(scene), num_tracks=0)


def _alone(box, f, resolution, beyond=0):
    """The analytic silhouette of `box` alone at frame f on the image plane extended by `beyond`
    image sizes past each border, as (sure, maybe): maybe marks pixels within EPS_GROW of an edge."""
    width, height = resolution
    pinhole = CAMERA.at(resolution)
    cols, rows = np.meshgrid(np.arange(-beyond * width, (1 + beyond) * width) + 0.5,
                             np.arange(-beyond * height, (1 + beyond) * height) + 0.5)
    d = np.stack([(cols - width / 2) / pinhole.f, -(rows - height / 2) / pinhole.f, -np.ones_like(cols)], -1)
    d = d @ pinhole.r.T
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    big = _first_hit([box], f, pinhole.c, d, grow=EPS_GROW)[0] >= 0
    small = _first_hit([box], f, pinhole.c, d, grow=-EPS_GROW)[0] >= 0
    return small, big & ~small


@pytest.mark.parametrize("wall_first", [False, True])
def test_a_cube_half_behind_a_wall_is_half_visible(wall_first):
    """(The wall cast before the cube, too: its hits must not shorten the cube's mask.)"""
    scene, truth = _truth([WALL, CUBE] if wall_first else [CUBE, WALL])
    k = truth.instances.index("cube")
    amodal = truth.amodal
    sure, maybe = _alone(CUBE, 0, RESOLUTION)
    assert sure.sum() > 300
    assert (amodal.masks[k, 0] == sure)[~maybe].all()  # the cube's whole silhouette, the wall ignored
    assert abs(amodal.visible_fraction[k, 0] - 0.5) <= 0.01, amodal.visible_fraction[k, 0]
    assert amodal.pixels[k, 0] == amodal.masks[k, 0].sum()
    assert amodal.visible_fraction[k, 0] == np.float32(truth.visibility[k, 0] / amodal.pixels[k, 0])
    assert amodal.in_image_fraction[k, 0] == 1.0
    # visible pixels are amodal ones; the amodal box is the silhouette's, the visible box half of it
    assert not ((truth.segmentation[0] == k + 1) & ~amodal.masks[k, 0]).any()
    rows, cols = np.nonzero(sure)
    expected = [rows.min() / 96, cols.min() / 128, (rows.max() + 1) / 96, (cols.max() + 1) / 128]
    np.testing.assert_allclose(amodal.bboxes[k][0], expected, atol=1 / 96 + 1e-6)
    np.testing.assert_allclose(amodal.unclipped_bboxes[k][0], amodal.bboxes[k][0], atol=1e-7)
    assert truth.bboxes[k][0][1] >= amodal.bboxes[k][0][1] + 0.05  # the visible box: the right half only


def test_a_cube_wholly_behind_the_wall_has_no_visible_pixel_but_its_silhouette():
    """The cube slides left behind the wall: its visible fraction falls to 0 while its amodal
    mask stays the slab test's silhouette at every frame."""
    moving = _Box("cube", (0.5, 0.5, 0.5), (1.0, 8.0, 0.0), v=(-0.8, 0.0, 0.0))
    scene, truth = _truth([moving, WALL], num_frames=4)
    k = truth.instances.index("cube")
    amodal = truth.amodal
    for f in range(4):
        sure, maybe = _alone(moving, f, RESOLUTION)
        assert (amodal.masks[k, f] == sure)[~maybe].all(), f
    assert amodal.visible_fraction[k, 0] == 1.0
    assert truth.visibility[k, 3] == 0 and amodal.pixels[k, 3] > 50
    assert amodal.visible_fraction[k, 3] == 0.0
    assert 0 < amodal.visible_fraction[k, 1] < 1
    assert list(amodal.bbox_frames[k]) == [0, 1, 2, 3] and list(truth.bbox_frames[k]) != [0, 1, 2, 3]


@pytest.mark.parametrize("x,z", [(3.6, 0.0), (-3.7, 0.0), (0.0, 2.8), (3.5, 2.6)])
def test_a_cube_across_the_border_has_its_in_image_fraction_and_unclipped_box(x, z):
    """A cube across the right, left, top border or a corner (the view is 7.3 x 5.5 m at 8 m):
    the fraction of its silhouette inside the image and its unclipped box, against the slab
    test on the image plane extended by one image size past each border."""
    cube = _Box("cube", (0.5, 0.5, 0.5), (x, 8.0, z), axis=(0.3, 0.2, 1.0), angle0=0.7)
    scene, truth = _truth([cube], resolution=(32, 24))
    k = truth.instances.index("cube")
    amodal = truth.amodal
    sure, maybe = _alone(cube, 0, (32, 24), beyond=1)
    inside = np.zeros_like(sure)
    inside[24:48, 32:64] = True
    assert (amodal.masks[k, 0] == sure[24:48, 32:64])[~maybe[24:48, 32:64]].all()
    lo, hi = (sure & inside).sum() / (sure | maybe).sum(), (sure | maybe)[inside].sum() / sure.sum()
    assert lo - 1e-6 <= amodal.in_image_fraction[k, 0] <= hi + 1e-6, (lo, amodal.in_image_fraction[k, 0], hi)  # float32
    assert 0.05 < amodal.in_image_fraction[k, 0] < 0.95
    rows, cols = np.nonzero(sure)
    expected = [(rows.min() - 24) / 24, (cols.min() - 32) / 32, (rows.max() + 1 - 24) / 24, (cols.max() + 1 - 32) / 32]
    np.testing.assert_allclose(amodal.unclipped_bboxes[k][0], expected, atol=1 / 24 + 1e-6)
    clipped = amodal.bboxes[k][0]
    assert (clipped >= 0).all() and (clipped <= 1).all()
    assert (amodal.unclipped_bboxes[k][0][:2] < 0).any() or (amodal.unclipped_bboxes[k][0][2:] > 1).any()


def test_amodal_mask_is_blenders_object_index_of_the_object_rendered_alone():
    """Blender's Object Index pass of the cube with the wall taken out of the scene (one sample
    at each pixel centre) is the amodal mask computed with the wall in it: IoU >= 0.999."""
    from kubric_gen.render import render_passes

    cube = _Box("cube", (0.5, 0.4, 0.6), (0.3, 8.0, 0.2), axis=(0.3, 0.2, 1.0), angle0=0.7)
    scene, truth = _truth([cube, WALL], resolution=(96, 72))
    alone = dataclasses.replace(scene, objects=[o for o in scene.objects if o.name == "cube"])
    passes = render_passes(alone, physics.simulate(alone))
    blender = passes["object_index"][0] == 0
    ours = truth.amodal.masks[truth.instances.index("cube"), 0]
    iou = (blender & ours).sum() / (blender | ours).sum()
    assert blender.sum() > 200 and iou >= 0.999, iou
    assert truth.amodal.visible_fraction[truth.instances.index("cube"), 0] < 0.9  # the wall does hide part of it


def test_the_docs_figure_script_draws_from_a_rendered_scene(movi_a_scene, tmp_path):
    """examples/amodal_figure.py as the docs run it, on the shared MOVi-A scene: both PNGs, and
    the printed histogram counts every instance-frame in the image."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from kubric_gen.io import SceneDir

    shutil.copytree(movi_a_scene, tmp_path / "scenes" / movi_a_scene.name)
    script = Path(__file__).resolve().parents[1] / "examples" / "amodal_figure.py"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "scenes"), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=True)
    facts = json.loads(proc.stdout)
    instances = SceneDir(movi_a_scene).metadata["instances"]
    assert facts["instance_frames"] == sum(int((np.asarray(i["amodal_pixels"]) > 0).sum()) for i in instances)
    for name in ("amodal_overlay.png", "visible_fraction.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000
