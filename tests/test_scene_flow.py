"""Scene flow against closed-form motion: a translating and a rotating box seen by a moving
camera (`test_truth_analytic`'s first principles), and its agreement with depth and the
optical flow."""

import numpy as np
from test_truth_analytic import EPS_GROW, _Box, _camera_pose, _first_hit, _move, _Pinhole

import kubric_gen as kg
from kubric_gen import geometry
from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth

FRAMES, RES = 3, (64, 48)
BOXES = [_Box("translating", (0.6, 0.5, 0.55), (1.2, 0.0, 0.2), v=(0.12, -0.1, 0.05)),
         _Box("rotating", (0.6, 0.4, 0.5), (-1.4, 0.8, 0.0), axis=(1, 2, 0.5), angle0=0.3, spin=0.25)]


def _opencv(camera: _Pinhole, points: np.ndarray) -> np.ndarray:
    """World points in the camera's OpenCV frame (x right, y down, z forward)."""
    return ((points - camera.c) @ camera.r) * np.array([1.0, -1.0, -1.0])


def _truth():
    """The ground truth, with its camera-frame scene flow (`geometry.scene_flow_in_camera`) as
    forward/backward_scene_flow_camera."""
    path = [kg.Pose(position=tuple(_camera_pose(f)[0]), quaternion=tuple(_camera_pose(f)[1])) for f in range(FRAMES)]
    scene = kg.Scene(resolution=RES, num_frames=FRAMES, gravity=(0, 0, 0), objects=[b.cube(FRAMES) for b in BOXES],
                     camera=kg.PerspectiveCamera(path=path))
    gt = compute_ground_truth(scene, physics.simulate(scene), num_tracks=0)
    gt.forward_scene_flow_camera, gt.backward_scene_flow_camera = geometry.scene_flow_in_camera(
        gt.forward_scene_flow, gt.backward_scene_flow, gt.depth, gt.camera_poses, scene.camera.focal_length,
        scene.camera.sensor_width, RES)
    return gt


def test_scene_flow_is_the_closed_form_motion_in_world_and_camera_frames():
    """Every pixel on a box (off its edges): forward scene flow = p(t+1) - p(t), backward =
    p(t) - p(t-1) of the box's material point, in world axes and in the frames' camera axes,
    to 1e-5 m; 0 where nothing is hit. The boxes' poses are closed-form at frames -1 and T too."""
    gt = _truth()
    checked = 0
    for t in range(FRAMES):
        cam = _Pinhole(*_camera_pose(t), 35.0, 32.0, *RES)
        directions = cam.rays().reshape(-1, 3)
        which, dist = _first_hit(BOXES, t, cam.c, directions)
        edge = np.zeros(len(which), dtype=bool)
        for grow in (EPS_GROW, -EPS_GROW):
            edge |= _first_hit(BOXES, t, cam.c, directions, grow)[0] != which
        on = (which >= 0) & ~edge
        points = cam.c + directions[on] * dist[on, None]
        for name, other, sign in (("forward", t + 1, 1.0), ("backward", t - 1, -1.0)):
            there = _move(BOXES, which[on], points, t, other)
            world = gt.__dict__[f"{name}_scene_flow"][t].reshape(-1, 3)
            camera = gt.__dict__[f"{name}_scene_flow_camera"][t].reshape(-1, 3)
            np.testing.assert_allclose(world[on], sign * (there - points), atol=1e-5, rtol=0)
            other_cam = _Pinhole(*_camera_pose(other), 35.0, 32.0, *RES)
            np.testing.assert_allclose(camera[on], sign * (_opencv(other_cam, there) - _opencv(cam, points)),
                                       atol=1e-5, rtol=0)
            assert not world[which < 0].any() and not camera[which < 0].any()
        checked += on.sum()
    assert checked > 800  # about 300 box pixels a frame
    moving = gt.forward_scene_flow[gt.object_index >= 0]
    assert (np.linalg.norm(moving, axis=-1) > 0.01).mean() > 0.9  # both boxes do move


def test_depth_plus_camera_scene_flow_projects_to_the_optical_flow():
    """The point at depth along each pixel's ray, moved by the camera-frame scene flow and
    projected with the intrinsics, lands where the optical flow says: <= 1e-3 px."""
    gt = _truth()
    width, height = RES
    f = 35.0 / 32.0 * width
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays = np.stack([(cols - width / 2) / f, (rows - height / 2) / f, np.ones_like(cols)], -1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)  # OpenCV camera frame, unit
    for t in range(FRAMES):
        seen = np.isfinite(gt.depth[t])
        here = rays[seen] * gt.depth[t][seen, None].astype(np.float64)
        for name, sign in (("forward", 1.0), ("backward", -1.0)):
            moved = here + sign * gt.__dict__[f"{name}_scene_flow_camera"][t][seen]
            assert (moved[:, 2] > 0).all()
            x, y = f * moved[:, 0] / moved[:, 2] + width / 2, f * moved[:, 1] / moved[:, 2] + height / 2
            flow = sign * np.stack([y - rows[seen], x - cols[seen]], -1)
            np.testing.assert_allclose(flow, gt.__dict__[f"{name}_flow"][t][seen], atol=1e-3, rtol=0)


def test_the_scene_directory_gives_back_the_scene_flow(movi_a_scene):
    """scene_flow.npz keeps the world arrays: SceneDir returns the ground truth recomputed from
    scene.json to float32 storage (1e-6 m), and the camera-frame ones derived from them and the
    stored float32 depth and cameras as from the exact ground truth (1e-5 m)."""
    from kubric_gen.io import SceneDir

    sd = SceneDir(movi_a_scene)
    scene = kg.Scene.from_json((movi_a_scene / "scene.json").read_text())
    gt = compute_ground_truth(scene, physics.simulate(scene), num_tracks=0)
    camera = dict(zip(("forward_scene_flow", "backward_scene_flow"), geometry.scene_flow_in_camera(
        gt.forward_scene_flow, gt.backward_scene_flow, gt.depth, gt.camera_poses, scene.camera.focal_length,
        scene.camera.sensor_width, scene.resolution), strict=True))
    read = sd.scene_flow()
    for name in ("forward_scene_flow", "backward_scene_flow"):
        np.testing.assert_allclose(read[name], gt.__dict__[name], atol=1e-6, rtol=0)
        np.testing.assert_allclose(read[f"{name}_camera"], camera[name], atol=1e-5, rtol=0)
    np.testing.assert_array_equal(read["camera_poses"], gt.camera_poses)
    assert np.abs(read["forward_scene_flow_camera"]).max() > 0.01  # the camera or the objects do move
