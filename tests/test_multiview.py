"""Several cameras, one simulation: the scene model, the rigs, the ground truth of every
camera and across cameras (against independent computations, with stated tolerances),
and the scene directory of views."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kubric_gen as kg
from kubric_gen import geometry
from kubric_gen.generate import generate_scene
from kubric_gen.io import SceneDir
from kubric_gen.render.settings import RenderSettings
from kubric_gen.simulation import physics
from kubric_gen.truth import CrossViewTruth, compute_cross_view, compute_ground_truth, flow_at, shared_instances

WORLD = str(Path(__file__).parent / "worlds" / "cameras.py")
RES = (40, 30)
SCENE_SIZE = 12.0  # metres: the cameras stand 5-6 m from the objects
POINT_TOLERANCE = 1e-4 * SCENE_SIZE  # the bound for a point seen by two cameras
BOX_CENTRE, BOX_HALF, BOX_STEP = np.array([0.2, 0.1, 0.6]), np.array([0.5, 0.7, 0.6]), np.array([0.15, 0.05, 0.0])


# ---------------------------------------------------------------- scene model and rigs
def test_one_camera_json_has_no_cameras_and_several_round_trip():
    scene = kg.Scene()
    assert "cameras" not in scene.to_dict() and scene.views == [scene.camera] and not scene.is_multiview
    scene.cameras = kg.ring(3, radius=4.0, height=1.0)
    data = json.loads(scene.to_json())
    assert [c["name"] for c in data["cameras"]] == ["cam0", "cam1", "cam2"]
    again = kg.Scene.from_json(scene.to_json())
    assert again.to_json() == scene.to_json() and again.camera == again.cameras[0]
    view = scene.view("cam1")
    assert view.camera.name == "cam1" and view.cameras == [] and "cameras" not in view.to_dict()


@pytest.mark.parametrize("cameras,field,reason", [
    ([kg.PerspectiveCamera(name="a b")], "Scene.cameras[0].name", "letters, digits"),
    ([kg.PerspectiveCamera(name="a"), kg.PerspectiveCamera(name="a")], "Scene.cameras[1].name", "duplicate"),
    (["not a camera"], "Scene.cameras[0]", "expected a PerspectiveCamera"),
    ([kg.PerspectiveCamera(name="a", path=[kg.Pose()] * 3)], "Scene.cameras[0].path", "one pose per frame"),
])
def test_bad_cameras_are_named(cameras, field, reason):
    with pytest.raises(kg.SceneError) as e:
        kg.Scene(num_frames=2, cameras=cameras)
    assert str(e.value).startswith(field) and reason in str(e.value)
    with pytest.raises(kg.SceneError, match="no camera of that name"):
        kg.Scene(cameras=kg.ring(2)).view("cam7")


def test_stereo_rig_parallel_and_converging():
    left, right = kg.stereo_rig((1.0, -8.0, 2.0), (0.0, 0.0, 0.5), baseline=0.3)
    assert np.allclose(left.quaternion, right.quaternion, atol=1e-12)
    offset = np.subtract(right.position, left.position)
    assert np.isclose(np.linalg.norm(offset), 0.3, atol=1e-12)
    x_axis = geometry.quat_to_matrix(left.quaternion)[:, 0]  # the image's x axis in the world
    assert np.allclose(offset / 0.3, x_axis, atol=1e-12)
    left, right = kg.stereo_rig((0.0, -8.0, 2.0), (0.0, 0.0, 2.0), baseline=0.4, convergence=4.0)
    for cam in (left, right):  # each optical axis passes through the point 4 m ahead of the centre
        axis = -geometry.quat_to_matrix(cam.quaternion)[:, 2]
        to_point = np.array([0.0, -4.0, 2.0]) - cam.position
        assert np.allclose(np.cross(axis, to_point), 0, atol=1e-9)
    with pytest.raises(kg.SceneError, match="stereo_rig.baseline"):
        kg.stereo_rig((0, -8, 2), (0, 0, 0), baseline=0)


def test_ring_and_hemisphere_look_at_the_centre_and_are_seeded():
    centre = np.array([0.5, -0.5, 1.0])
    cams = kg.ring(5, around=tuple(centre), radius=4.0, height=2.0)
    offsets = np.array([c.position for c in cams]) - centre
    assert np.allclose(np.hypot(offsets[:, 0], offsets[:, 1]), 4.0) and np.allclose(offsets[:, 2], 2.0)
    azimuths = np.sort(np.arctan2(offsets[:, 1], offsets[:, 0]))
    assert np.allclose(np.diff(azimuths), 2 * np.pi / 5)
    a = kg.hemisphere(np.random.default_rng(7), 6, around=tuple(centre), radius=9.0, elevation=(20, 50))
    b = kg.hemisphere(np.random.default_rng(7), 6, around=tuple(centre), radius=9.0, elevation=(20, 50))
    assert a == b and a != kg.hemisphere(np.random.default_rng(8), 6, around=tuple(centre), radius=9.0)
    for cam in a + cams:
        d = centre - np.asarray(cam.position)
        axis = -geometry.quat_to_matrix(cam.quaternion)[:, 2]
        assert np.allclose(axis, d / np.linalg.norm(d), atol=1e-9)  # looks at the centre
    elevations = np.degrees(np.arcsin((np.array([c.position for c in a]) - centre)[:, 2] / 9.0))
    assert (elevations >= 20 - 1e-9).all() and (elevations <= 50 + 1e-9).all()


# ---------------------------------------------------------------- ground truth, no rendering
def _box_scene(cameras, num_frames=3):
    floor = kg.Cube(name="floor", scale=(50, 50, 1), position=(0, 0, -1), motion="static")
    poses = [kg.Pose(position=tuple(BOX_CENTRE + f * BOX_STEP)) for f in range(num_frames)]
    box = kg.Cube(name="box", scale=tuple(BOX_HALF), position=tuple(BOX_CENTRE), motion="kinematic", keyframes=poses)
    return kg.Scene(resolution=RES, num_frames=num_frames, gravity=(0, 0, 0), objects=[floor, box], cameras=cameras,
                    seed=3)


def _rays(camera, frame):
    """Pixel-centre rays from the pixel intrinsics (independently of the truth code)."""
    pose = camera.pose_at(frame)
    k = geometry.intrinsics(camera.focal_length, camera.sensor_width, RES)
    cols, rows = np.meshgrid(np.arange(RES[0]) + 0.5, np.arange(RES[1]) + 0.5)
    d_cv = np.linalg.solve(k, np.stack([cols, rows, np.ones_like(cols)], -1)[..., None])[..., 0]
    d = (d_cv * [1, -1, -1]) @ geometry.quat_to_matrix(pose.quaternion).T
    return np.asarray(pose.position), d / np.linalg.norm(d, axis=-1, keepdims=True)


def _analytic_depth(origin, d, frame):
    """Nearest of the plane z = 0 and the axis-aligned box at its frame position (slab method)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        plane = np.where(d[..., 2] < 0, -origin[2] / d[..., 2], np.inf)
        lo = (BOX_CENTRE + frame * BOX_STEP - BOX_HALF - origin) / d
        hi = (BOX_CENTRE + frame * BOX_STEP + BOX_HALF - origin) / d
    near, far = np.minimum(lo, hi).max(-1), np.maximum(lo, hi).min(-1)
    box = np.where((near <= far) & (near > 0), near, np.inf)
    return np.minimum(plane, box), box < plane


def _lens(camera, frame):
    pose = camera.pose_at(frame)
    return pose.position, pose.quaternion, camera.focal_length, camera.sensor_width


def _correspondences(scene, truths, a, b, t):
    """Positions in camera b of camera a's pixels at frame t, as the reader computes them."""
    cams = scene.views
    return geometry.correspondences(truths[a].depth[t], _lens(cams[a], t), _lens(cams[b], t),
                                    scene.resolution)[0].astype(np.float32)


def _project(camera, frame, points):
    pose = camera.pose_at(frame)
    return geometry.project(points, pose.position, pose.quaternion, camera.focal_length, camera.sensor_width, RES)


@pytest.fixture(scope="module")
def ring_truth():
    scene = _box_scene(kg.ring(4, around=(0.2, 0.1, 0.5), radius=5.0, height=2.5, rng=np.random.default_rng(1)))
    traj = physics.simulate(scene)
    truths = shared_instances(scene, [compute_ground_truth(scene.view(c.name), traj, num_tracks=0)
                                      for c in scene.cameras])
    return scene, traj, truths, compute_cross_view(scene, traj, truths, num_tracks=64)


def test_every_camera_depth_and_flow_are_the_independent_reprojection(ring_truth):
    """Each camera's depth equals the closed-form ray/box/plane distance (relative 1e-6), and the
    forward flow of box pixels equals the box's step projected with that camera (1e-4 px)."""
    scene, _, truths, _ = ring_truth
    for camera, truth in zip(scene.cameras, truths, strict=True):
        for t in range(scene.num_frames - 1):
            origin, d = _rays(camera, t)
            expected, on_box = _analytic_depth(origin, d, t)
            seen = np.isfinite(expected)
            assert on_box.sum() > 30, camera.name  # the box is in view of every camera
            np.testing.assert_array_less(np.abs(truth.depth[t][seen] - expected[seen]) / expected[seen], 1e-6)
            points = origin + d[on_box] * expected[on_box, None]
            xy = _project(camera, t + 1, points + BOX_STEP)
            cols, rows = np.meshgrid(np.arange(RES[0]) + 0.5, np.arange(RES[1]) + 0.5)
            flow = np.stack([xy[:, 1] - rows[on_box], xy[:, 0] - cols[on_box]], -1)
            inside = np.abs(truth.depth[t][on_box] - expected[on_box]) < 1e-6  # not at an edge pixel
            assert np.abs(truth.forward_flow[t][on_box][inside] - flow[inside]).max() < 1e-4


def test_views_share_one_instance_order(ring_truth):
    scene, _, truths, _ = ring_truth
    assert all(t.instances == ["floor", "box"] for t in truths)  # the floor covers more pixels in every view
    for truth in truths:
        names = np.array(["-"] + [o.name for o in scene.objects])[truth.object_index + 1]
        ids = np.array(["-"] + truth.instances)[truth.segmentation]
        assert (names == ids)[truth.object_index >= 0].all()


def _surface_at(scene, traj, camera, frame, xy):
    """Object index and world point that camera `camera` sees at image points xy (n, 2)."""
    view = scene.view(camera.name)
    hits = flow_at(view, traj, frame, xy)
    origin, d = geometry.image_rays(xy, *(lambda p: (p.position, p.quaternion))(camera.pose_at(frame)),
                                    camera.focal_length, camera.sensor_width, RES)
    return hits["object_index"], origin + d * hits["depth"][:, None]


def test_a_point_seen_by_two_cameras_is_one_surface_point(ring_truth):
    """For every ordered pair and frame: where b sees the point of a's pixel (not occluded),
    b's own ray there hits the same object at the same point (<= 1e-4 of the scene size);
    where it is occluded on screen, b's ray there stops short of it."""
    scene, traj, truths, cross = ring_truth
    checked = hidden = 0
    for a, cam_a in enumerate(scene.cameras):
        for b, cam_b in enumerate(scene.cameras):
            if a == b:
                continue
            for t in range(scene.num_frames):
                origin, d = _rays(cam_a, t)
                depth = truths[a].depth[t]
                xy = _correspondences(scene, truths, a, b, t)
                occluded = cross.correspondence_occluded[a, b, t]
                visible = np.isfinite(depth) & ~occluded
                points = origin + d[visible] * depth[visible, None]
                objects, seen = _surface_at(scene, traj, cam_b, t, xy[visible].astype(np.float64))
                assert (objects == truths[a].object_index[t][visible]).all()
                assert np.linalg.norm(seen - points, axis=1).max() <= POINT_TOLERANCE
                checked += visible.sum()
                w, h = RES
                on_screen = occluded & np.isfinite(depth) & (xy[..., 0] >= 0) & (xy[..., 0] < w) & \
                    (xy[..., 1] >= 0) & (xy[..., 1] < h)
                if on_screen.any():
                    points = origin + d[on_screen] * depth[on_screen, None]
                    _, seen = _surface_at(scene, traj, cam_b, t, xy[on_screen].astype(np.float64))
                    pos_b = np.asarray(cam_b.pose_at(t).position)
                    gap = np.linalg.norm(points - pos_b, axis=1) - np.linalg.norm(seen - pos_b, axis=1)
                    assert (gap > 1e-5).all()  # something nearer hides it
                    hidden += on_screen.sum()
    assert checked > 5000 and hidden > 20


def test_multiview_tracks_follow_their_surface_point_in_every_camera(ring_truth):
    scene, traj, truths, cross = ring_truth
    n = len(cross.query_points)
    assert n == 64 and cross.target_points.shape == (4, n, scene.num_frames, 2)
    pairs = np.bincount(cross.query_camera * scene.num_frames + cross.query_points[:, 0].astype(int), minlength=12)
    assert pairs.min() == 5 and pairs.max() == 6  # spread evenly over (camera, frame)
    index = {o.name: i for i, o in enumerate(scene.objects)}
    objects = np.array([index[name] for name in cross.query_object])
    for q in range(n):  # each query sits at its pixel in its own camera and frame
        t, y, x = cross.query_points[q]
        c = cross.query_camera[q]
        assert np.abs(cross.target_points[c, q, int(t)] - (x, y)).max() < 1e-4
        assert not cross.occluded[c, q, int(t)]
    for c, camera in enumerate(scene.cameras):
        for f in range(scene.num_frames):
            moved = np.array([p + (BOX_STEP * (f - t) if objects[q] == 1 else 0)
                              for q, (p, t) in enumerate(zip(cross.query_world, cross.query_points[:, 0],
                                                             strict=True))])
            pose = camera.pose_at(f)
            front = geometry.world_to_camera(moved, pose.position, pose.quaternion)[:, 2] > 0
            expected = np.where(front[:, None], _project(camera, f, moved), -1.0)  # -1: behind the camera
            np.testing.assert_allclose(cross.target_points[c, :, f], expected, atol=1e-3)
            assert cross.occluded[c, ~front, f].all()
            vis = ~cross.occluded[c, :, f]
            hit, seen = _surface_at(scene, traj, camera, f, cross.target_points[c, vis, f].astype(np.float64))
            assert (hit == objects[vis]).all()
            assert np.linalg.norm(seen - moved[vis], axis=1).max() <= POINT_TOLERANCE
    assert 0 < cross.occluded.mean() < 0.9


def test_stereo_disparity_is_focal_times_baseline_over_z():
    """A parallel pair: disparity = f_px * B / z on every pixel that sees a surface (1e-3 px), the
    occlusion mask is true exactly where the right camera's ray stops short of the point."""
    left, right = kg.stereo_rig((0.5, -5.0, 2.0), (0.2, 0.1, 0.5), baseline=0.4)
    scene = _box_scene([left, right])
    traj = physics.simulate(scene)
    truths = shared_instances(scene, [compute_ground_truth(scene.view(c.name), traj, num_tracks=0)
                                      for c in scene.cameras])
    cross = compute_cross_view(scene, traj, truths, num_tracks=0)
    f_px = geometry.intrinsics(left.focal_length, left.sensor_width, RES)[0, 0]
    origin, d = _rays(left, 0)
    axis = -geometry.quat_to_matrix(left.quaternion)[:, 2]
    for t in range(scene.num_frames):
        seen = np.isfinite(truths[0].depth[t])
        z = truths[0].depth[t] * (d @ axis)
        disparity = np.arange(RES[0]) + 0.5 - _correspondences(scene, truths, 0, 1, t)[..., 0]
        assert np.abs(disparity[seen] - f_px * 0.4 / z[seen]).max() < 1e-3
        assert np.isnan(disparity[~seen]).all() and cross.correspondence_occluded[0, 1, t][~seen].all()
    occluded = cross.correspondence_occluded[0, 1, 0] & np.isfinite(truths[0].depth[0])
    assert 0 < occluded.sum() < 200  # the right camera sees round the box less on its left side
    three = CrossViewTruth(cameras=["a", "b", "c"], correspondence_occluded=np.zeros((3, 3, 1, 2, 2), bool),
                           correspondences=np.zeros((3, 3, 1, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="two cameras"):
        three.disparity  # noqa: B018


# ---------------------------------------------------------------- rendered scene directories
TINY = RenderSettings(samples=2)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiview")
    out = {}
    for rig in ("plain", "listed", "ring3", "stereo"):
        out[rig] = generate_scene(WORLD, 4, root / rig, TINY, overrides={"cameras": rig}, num_tracks=24,
                                  save_blend=rig == "stereo").path
    return out


def test_each_view_is_a_complete_movi_scene_directory(rendered):
    sd = SceneDir(rendered["ring3"])
    assert sd.is_multiview and sd.camera_names == ["cam0", "cam1", "cam2"] and sd.missing() == []
    top = sd.metadata
    assert top["views"] == ["view_cam0", "view_cam1", "view_cam2"] and top["metadata"]["num_cameras"] == 3
    scene = kg.Scene.from_json(sd.read_bytes("scene.json").decode())
    names = [inst["name"] for inst in top["instances"]]
    for camera, view in zip(scene.cameras, sd.views, strict=True):
        assert view.missing() == [] and not view.is_multiview
        assert [inst["name"] for inst in view.metadata["instances"]] == names
        assert np.allclose(view.metadata["camera"]["positions"][0], camera.position)
        assert view.layer("depth").shape == (3, 32, 32) and view.tracks().target_points.shape == (24, 3, 2)
        assert kg.Scene.from_json(view.read_bytes("scene.json").decode()).camera == camera
    listed = set(sd.marker["files"])
    assert {"view_cam1/rgba_00002.png", "view_cam2/_COMPLETE", "cross_view.npz"} <= listed
    assert (Path(rendered["ring3"]) / "contact_sheet.png").stat().st_size > 0


def test_stored_cross_view_truth_reads_back_as_computed(rendered):
    """The reader's correspondences (from the stored depth), occlusion and tracks equal a fresh
    computation, and a pair's disparity is x_0 - x_1 of its correspondences."""
    from kubric_gen.world import build_scene, load_world, resolve_config

    sd = SceneDir(rendered["ring3"])
    world = load_world(WORLD)
    scene = build_scene(world, 4, resolve_config(world, {"cameras": "ring3"}))
    traj = physics.simulate(scene)
    truths = shared_instances(scene, [compute_ground_truth(scene.view(c.name), traj, num_tracks=24)
                                      for c in scene.cameras])
    fresh = compute_cross_view(scene, traj, truths, num_tracks=24)
    read = sd.cross_view()
    for a in range(3):
        for b in range(3):
            expected = np.stack([_correspondences(scene, truths, a, b, t) for t in range(scene.num_frames)])
            np.testing.assert_array_equal(read.correspondences[a, b], expected)
    for field in ("correspondence_occluded", "query_points", "query_camera", "query_world",
                  "query_object", "target_points", "occluded"):
        np.testing.assert_array_equal(getattr(read, field), getattr(fresh, field), err_msg=field)
    assert read.cameras == fresh.cameras


def test_a_camera_listed_alone_writes_the_one_camera_scene_byte_for_byte(rendered):
    """The view of a camera is exactly what that camera alone makes: every file of the
    one-camera scene directory has the same bytes in view_camera/, but for the config the
    world was given (metadata.json's flags, hence the marker) and provenance's timings."""
    plain = Path(rendered["plain"])
    view = Path(rendered["listed"]) / "view_camera"
    files = sorted(p.name for p in plain.iterdir())
    assert files == sorted(p.name for p in view.iterdir())
    for name in files:
        if name not in ("provenance.json", "metadata.json", "_COMPLETE"):
            assert (plain / name).read_bytes() == (view / name).read_bytes(), name
    a, b = (json.loads((d / "metadata.json").read_text()) for d in (plain, view))
    assert (a["flags"].pop("cameras"), b["flags"].pop("cameras")) == ("plain", "listed") and a == b
    assert "cameras" not in json.loads((plain / "scene.json").read_text())


def test_stereo_disparity_read_from_the_scene_directory(rendered):
    """From the stored depth: disparity = focal_px * baseline / z of the left view (1e-3 px)."""
    sd = SceneDir(rendered["stereo"])
    assert sd.camera_names == ["left", "right"]
    left = sd.view("left")
    cam = left.metadata["camera"]
    depth = left.layer("depth")
    k = np.asarray(cam["intrinsics"])
    cols, rows = np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5)
    ray = np.stack([(cols - k[0, 2]) / k[0, 0], (rows - k[1, 2]) / k[1, 1], np.ones_like(cols)], -1)
    z = depth / np.linalg.norm(ray, axis=-1)  # depth along the optical axis
    disparity = sd.disparity()
    seen = np.isfinite(depth)
    assert seen.mean() > 0.5 and np.abs(disparity - k[0, 0] * 0.4 / z)[seen].max() < 1e-3
    assert np.isnan(disparity[~seen]).all()  # the sky
    np.testing.assert_array_equal(sd.cross_view().disparity, disparity)
    assert sd.metadata["rig"]["baselines"][0][1] == pytest.approx(0.4, abs=1e-12)
    files = sd.marker["files"]  # --save-blend: each view's Blender scene, listed unhashed
    assert files["view_left/scene.blend"] is None and files["view_right/scene.blend"] is None
    assert (Path(rendered["stereo"]) / "view_right" / "scene.blend").stat().st_size > 0


def test_memory_for_every_camera_is_checked_before_simulating(tmp_path, monkeypatch):
    """The command's check sized one camera; after the world is built, a scene whose cameras do
    not fit is refused in one line naming them, and nothing is written."""
    from kubric_gen import preflight

    one = preflight.scene_memory((32, 32), 3)
    monkeypatch.setattr(preflight, "available_memory", lambda: one + 1)
    preflight.check_scene({"resolution": [32, 32], "num_frames": 3}, "cpu")  # one camera fits
    with pytest.raises(kg.ConfigError, match=r"32x32 with 3 frames seen by 3 cameras needs about"):
        generate_scene(WORLD, 0, tmp_path / "scene", TINY, overrides={"cameras": "ring3"})
    assert list(tmp_path.iterdir()) == []
