"""Ground truth against analytic cases, with stated tolerances."""

import numpy as np
import pytest
import trimesh

import kubric_gen as kg
from kubric_gen import geometry
from kubric_gen.simulation import physics
from kubric_gen.simulation.trajectory import Trajectory
from kubric_gen.truth import compute_ground_truth, flow_at

RES = (48, 36)


def _static_scene(objects, camera, num_frames=2, resolution=RES):
    return kg.Scene(resolution=resolution, num_frames=num_frames, gravity=(0, 0, 0), objects=objects, camera=camera)


def _rays(scene, frame=0):
    """Pixel-centre rays computed here from the pixel intrinsics (independently of the truth code)."""
    pose = scene.camera.pose_at(frame)
    k = geometry.intrinsics(scene.camera.focal_length, scene.camera.sensor_width, scene.resolution)
    cols, rows = np.meshgrid(np.arange(scene.resolution[0]) + 0.5, np.arange(scene.resolution[1]) + 0.5)
    d_cv = np.linalg.solve(k, np.stack([cols, rows, np.ones_like(cols)], -1)[..., None])[..., 0]
    # OpenCV camera frame (x right, y down, z forward) -> Blender camera frame -> world
    d = (d_cv * [1, -1, -1]) @ geometry.quat_to_matrix(pose.quaternion).T
    return np.asarray(pose.position), d / np.linalg.norm(d, axis=-1, keepdims=True)


def _project(scene, frame, points):
    pose = scene.camera.pose_at(frame)
    return geometry.project(points, pose.position, pose.quaternion, scene.camera.focal_length,
                            scene.camera.sensor_width, scene.resolution)


def test_depth_of_a_plane_matches_closed_form():
    floor = kg.Cube(name="floor", scale=(50, 50, 1), position=(0, 0, -1), motion="static")
    scene = _static_scene([floor], kg.PerspectiveCamera(position=(1, -4, 3), look_at=(0, 0, 0)))
    gt = compute_ground_truth(scene, Trajectory.static(scene), num_tracks=0)
    origin, d = _rays(scene)
    expected = -origin[2] / d[..., 2]  # ray meets z = 0
    hit = np.isfinite(gt.depth[0])
    assert hit.mean() > 0.9
    np.testing.assert_array_less(np.abs(gt.depth[0][hit] - expected[hit]) / expected[hit], 1e-5)


def _sphere_depth(origin, d, centre, radius):
    oc = origin - centre
    b = np.einsum("...i,i->...", d, oc)
    disc = b**2 - (oc @ oc - radius**2)
    return np.where(disc > 0, -b - np.sqrt(np.maximum(disc, 0)), np.inf), disc


def test_depth_of_a_fine_sphere_matches_closed_form(tmp_path):
    path = tmp_path / "sphere.ply"
    trimesh.creation.icosphere(subdivisions=7, radius=1.0).export(path)  # 327,680 triangles
    centre, radius = np.array([0.2, 0.1, 0.3]), 0.8
    ball = kg.MeshObject(name="ball", path=str(path), position=tuple(centre), scale=radius, motion="static")
    scene = _static_scene([ball], kg.PerspectiveCamera(position=(0, -5, 1), look_at=(0, 0, 0.3)))
    gt = compute_ground_truth(scene, Trajectory.static(scene), num_tracks=0)
    origin, d = _rays(scene)
    expected, disc = _sphere_depth(origin, d, centre, radius)
    # away from the silhouette (incidence < 60 degrees) the tessellation is far below 1e-5
    point = origin + expected[..., None] * d
    cos_incidence = -np.einsum("...i,...i->...", d, (point - centre) / radius)
    inner = np.isfinite(expected) & (cos_incidence > 0.5)
    assert inner.sum() > 100
    rel = np.abs(gt.depth[0][inner] - expected[inner]) / expected[inner]
    assert rel.max() < 1e-5, rel.max()
    # and hit/miss agree with the sphere except within a hair of its silhouette
    assert (np.isfinite(gt.depth[0]) == (disc > 0))[np.abs(disc) > 1e-3].all()


def test_primitive_sphere_depth_is_within_its_tessellation():
    centre, radius = np.array([0.0, 0.0, 0.5]), 1.0
    scene = _static_scene([kg.Sphere(name="s", position=tuple(centre), motion="static")],
                          kg.PerspectiveCamera(position=(0, -6, 2), look_at=tuple(centre)))
    gt = compute_ground_truth(scene, Trajectory.static(scene), num_tracks=0)
    origin, d = _rays(scene)
    expected, _ = _sphere_depth(origin, d, centre, radius)
    mesh = trimesh.creation.icosphere(subdivisions=4)
    sagitta = 1 - np.abs(np.einsum("ij,ij->i", mesh.face_normals, mesh.triangles_center)).min()
    point = origin + expected[..., None] * d
    cos_incidence = -np.einsum("...i,...i->...", d, (point - centre) / radius)
    inner = np.isfinite(expected) & (cos_incidence > 0.5)
    error = gt.depth[0][inner] - expected[inner]
    assert (error >= -1e-9).all()  # the inscribed polyhedron is never in front of the sphere
    assert (error <= sagitta / cos_incidence[inner] + 1e-9).all()


def _translating_cube_scene(velocity_px, depth=6.0, num_frames=3):
    """A cube moving parallel to the image plane of a camera looking along +Y."""
    camera = kg.PerspectiveCamera(position=(0, -depth, 0), look_at=(0, 0, 0), focal_length=35, sensor_width=32)
    f_px = 35 / 32 * RES[0]
    front = depth - 0.5  # the face at y = -0.5 is this far from the camera plane
    dx, dz = velocity_px[0] * front / f_px, -velocity_px[1] * front / f_px  # metres per frame
    poses = [kg.Pose(position=(dx * f, 0, dz * f)) for f in range(num_frames)]
    cube = kg.Cube(name="cube", scale=0.5, motion="kinematic", keyframes=poses)
    return _static_scene([cube], camera, num_frames=num_frames)


def test_translating_cube_flow_equals_image_motion():
    motion = (1.7, -0.6)  # (d_col, d_row) in pixels per frame
    scene = _translating_cube_scene(motion)
    gt = compute_ground_truth(scene, physics.simulate(scene), num_tracks=0)
    normal_y = gt.normal[1, ..., 1]
    face = (gt.object_index[1] == 0) & (normal_y < -0.999)  # the front face
    assert face.sum() > 30
    np.testing.assert_allclose(gt.forward_flow[1][face], np.broadcast_to([motion[1], motion[0]], (face.sum(), 2)),
                               atol=1e-3)
    # MOVi's backward flow is the motion from t-1 to t: the same as the forward flow for a steady motion
    np.testing.assert_allclose(gt.backward_flow[1][face],
                               np.broadcast_to([motion[1], motion[0]], (face.sum(), 2)), atol=1e-3)


def _reprojected_flow(scene, gt, traj, t, other):
    """Flow by an independent route: depth -> world point -> object frame -> pose at `other` -> camera."""
    origin, d = _rays(scene, t)
    world = origin + gt.depth[t][..., None] * d
    out = np.full(gt.depth[t].shape + (2,), np.nan)
    cols, rows = np.meshgrid(np.arange(scene.resolution[0]) + 0.5, np.arange(scene.resolution[1]) + 0.5)
    for i, obj in enumerate(scene.objects):
        sel = gt.object_index[t] == i
        r_t = geometry.quat_to_matrix(traj.quaternions[i, t])
        local = (world[sel] - traj.positions[i, t]) @ r_t / obj.scale
        p, q = traj.poses_at(other)
        moved = geometry.transform_points(local, p[i], q[i], obj.scale)
        xy = _project(scene, other, moved)
        out[sel] = np.stack([xy[:, 1] - rows[sel], xy[:, 0] - cols[sel]], -1)
    return out


def test_rotating_cube_flow_is_the_reprojection_of_the_posed_point():
    poses = [kg.Pose(position=(0, 0, 0.3), quaternion=geometry.quat_from_euler((0.1 * f, 0.25 * f, 0.2 * f)))
             for f in range(4)]
    scene = _static_scene([kg.Cube(name="c", scale=(0.9, 0.6, 0.7), motion="kinematic", keyframes=poses)],
                          kg.PerspectiveCamera(position=(3, -4, 2), look_at=(0, 0, 0.3)), num_frames=4)
    traj = physics.simulate(scene)
    gt = compute_ground_truth(scene, traj, num_tracks=0)
    for t in (0, 1, 2):
        expected = _reprojected_flow(scene, gt, traj, t, t + 1)
        sel = gt.object_index[t] == 0
        assert sel.sum() > 100
        assert np.abs(gt.forward_flow[t][sel] - expected[sel]).max() < 1e-3
        assert np.abs(gt.forward_flow[t][sel]).max() > 1.0  # it really moves


def test_moving_camera_flow_is_the_reprojection_of_static_points():
    path = [kg.Pose(position=(0.3 * f - 0.5, -6 + 0.1 * f, 2.0),
                    quaternion=geometry.look_at_quaternion((0.3 * f - 0.5, -6 + 0.1 * f, 2.0), (0.1 * f, 0, 0)))
            for f in range(3)]
    objects = [kg.Cube(name="floor", scale=(20, 20, 1), position=(0, 0, -1), motion="static"),
               kg.Sphere(name="ball", scale=0.7, position=(0.5, 0.5, 0.7), motion="static"),
               kg.Cylinder(name="post", scale=(0.3, 0.3, 1.0), position=(-1.0, 1.0, 1.0), motion="static")]
    scene = _static_scene(objects, kg.PerspectiveCamera(position=path[0].position, path=path), num_frames=3)
    traj = physics.simulate(scene)
    gt = compute_ground_truth(scene, traj, num_tracks=0)
    for t, other, layer, sign in ((0, 1, gt.forward_flow, 1), (1, 2, gt.forward_flow, 1),
                                  (2, 1, gt.backward_flow, -1)):  # backward flow: the motion from `other` to t
        expected = sign * _reprojected_flow(scene, gt, traj, t, other)
        sel = gt.object_index[t] >= 0
        assert np.abs(layer[t][sel] - expected[sel]).max() < 1e-3


def test_backward_flow_at_t_plus_1_retraces_forward_flow_on_mutually_visible_points():
    rng = np.random.default_rng(0)
    objects = [kg.Cube(name="floor", scale=(20, 20, 1), position=(0, 0, -1), motion="static")]
    for i in range(3):
        q0 = kg.random_rotation(rng)
        spin = geometry.quat_from_axis_angle(rng.normal(size=3), 0.15)
        poses, q, p = [], np.asarray(q0), rng.uniform((-1, -1, 0.6), (1, 1, 1.2))
        step = rng.uniform(-0.15, 0.15, 3)
        for _ in range(3):
            poses.append(kg.Pose(position=tuple(p), quaternion=tuple(q)))
            p, q = p + step, geometry.quat_multiply(spin, q)
        objects.append(kg.Cube(name=f"c{i}", scale=0.4, motion="kinematic", keyframes=poses))
    path = [kg.Pose(position=(4 - 0.2 * f, -4, 3), quaternion=geometry.look_at_quaternion((4 - 0.2 * f, -4, 3),
                                                                                           (0, 0, 0.5)))
            for f in range(3)]
    scene = _static_scene(objects, kg.PerspectiveCamera(path=path), num_frames=3)
    traj = physics.simulate(scene)
    gt = compute_ground_truth(scene, traj, num_tracks=0)
    t = 1
    visible = ~gt.forward_flow_occlusion[t]
    assert visible.mean() > 0.5
    rows, cols = np.nonzero(visible)
    start = np.stack([cols + 0.5, rows + 0.5], -1)
    fwd = gt.forward_flow[t][rows, cols].astype(np.float64)
    landed = start + fwd[:, ::-1]
    back = flow_at(scene, traj, t + 1, landed)
    ok = ~back["backward_flow_occlusion"]
    assert ok.mean() > 0.99
    returned = landed[ok] - back["backward_flow"][ok][:, ::-1]  # backward flow at t+1: the motion t -> t+1
    assert np.abs(returned - start[ok]).max() < 1e-3


def test_point_behind_moving_occluder_is_occluded_exactly_while_hidden():
    wall = kg.Cube(name="wall", scale=(5, 0.1, 3), position=(0, 2, 0), motion="static", is_background=True)
    frames = 10
    poses = [kg.Pose(position=(-2.5 + 0.5 * f, 0, 0)) for f in range(frames)]
    occluder = kg.Cube(name="occluder", scale=(0.4, 0.2, 2.0), motion="kinematic", keyframes=poses)
    camera = kg.PerspectiveCamera(position=(0, -6, 0), look_at=(0, 2, 0))
    scene = _static_scene([wall, occluder], camera, num_frames=frames, resolution=(64, 48))
    traj = physics.simulate(scene)
    gt = compute_ground_truth(scene, traj, num_tracks=600)
    tracks = gt.tracks
    cam = np.array(camera.position)
    checked = changes = 0
    for n in range(len(tracks.query_points)):
        t, y, x = tracks.query_points[n]
        origin, d = geometry.pixel_rays(cam, camera.quaternion, camera.focal_length, camera.sensor_width,
                                        scene.resolution)
        if gt.object_index[int(t), int(y), int(x)] != 0:
            continue  # a point on the wall
        point = cam + gt.depth[int(t), int(y), int(x)] * d[int(y), int(x)]
        expected = np.array([_segment_hits_box(cam, point, traj.positions[1, f], np.array(occluder.scale))
                             for f in range(frames)])
        np.testing.assert_array_equal(tracks.occluded[n], expected)
        # the wall does not move, so the track stays at its query pixel
        np.testing.assert_allclose(tracks.target_points[n], np.broadcast_to([x, y], (frames, 2)), atol=1e-4)
        checked += 1
        changes += expected.any() and not expected.all()
    assert checked > 100 and changes > 20


def _segment_hits_box(a, b, centre, half):
    """Slab test: does the segment a->b pass through the axis-aligned box?"""
    d = b - a
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (centre - half - a) / d
        t2 = (centre + half - a) / d
    lo = np.nanmax(np.minimum(t1, t2))
    hi = np.nanmin(np.maximum(t1, t2))
    return bool(lo <= hi and hi > 0 and lo < 1)


def test_normals_object_coordinates_and_segmentation_of_a_posed_box():
    q = geometry.quat_from_euler((0.3, -0.2, 0.7))
    box = kg.Cube(name="box", scale=(0.5, 0.8, 0.3), position=(0.1, 0.2, 0.4), quaternion=tuple(q), motion="static")
    hidden = kg.Sphere(name="hidden", scale=0.1, position=(0.1, 0.2, 0.4), motion="static")  # inside the box
    floor = kg.Cube(name="floor", scale=(9, 9, 1), position=(0, 0, -1), motion="static", is_background=True)
    scene = _static_scene([floor, box, hidden], kg.PerspectiveCamera(position=(2, -3, 2.5), look_at=(0, 0, 0.3)))
    gt = compute_ground_truth(scene, Trajectory.static(scene), num_tracks=0)
    assert gt.instances == ["box"]  # the floor is background, the hidden sphere never visible
    sel = gt.object_index[0] == 1
    assert (gt.segmentation[0][sel] == 1).all() and (gt.segmentation[0][~sel] == 0).all()
    assert gt.visibility[0, 0] == sel.sum()
    # normals: one of the six rotated axes, exactly
    r = geometry.quat_to_matrix(q)
    axes = np.concatenate([r.T, -r.T])
    n = gt.normal[0][sel]
    assert np.abs(n @ axes.T).max(axis=1).min() > 1 - 1e-6
    # object coordinates map back to the visible surface point
    origin, d = _rays(scene)
    world = origin + gt.depth[0][..., None] * d
    local = gt.object_coordinates[0][sel].astype(np.float64) * 2 - 1  # unscaled bounds are [-1, 1]^3
    np.testing.assert_allclose(geometry.transform_points(local, box.position, q, box.scale), world[sel], atol=1e-5)
    # the bounding box comes from the segmentation
    rows, cols = np.nonzero(sel)
    h, w = RES[1], RES[0]
    np.testing.assert_allclose(gt.bboxes[0][0], [rows.min() / h, cols.min() / w, (rows.max() + 1) / h,
                                                 (cols.max() + 1) / w], atol=1e-7)


def test_instances_sorted_by_visibility():
    objects = [kg.Sphere(name="small", scale=0.2, position=(-1, 0, 0), motion="static"),
               kg.Sphere(name="big", scale=0.6, position=(1, 0, 0), motion="static"),
               kg.Sphere(name="offscreen", scale=0.6, position=(0, -50, 0), motion="static")]
    scene = _static_scene(objects, kg.PerspectiveCamera(position=(0, -5, 0), look_at=(0, 0, 0)))
    gt = compute_ground_truth(scene, Trajectory.static(scene), num_tracks=0)
    assert gt.instances == ["big", "small"]
    assert gt.visibility[0, 0] > gt.visibility[1, 0] > 0


@pytest.mark.parametrize("threads", [1, 3])
def test_ground_truth_is_bit_identical_across_runs_and_thread_counts(threads):
    from kubric_gen.world import build_scene, load_world, resolve_config

    w = load_world("movi_a")
    scene = build_scene(w, 4, resolve_config(w, {"resolution": [40, 32], "num_frames": 4}))
    a = compute_ground_truth(scene, physics.simulate(scene), num_tracks=64)  # one thread per core
    b = compute_ground_truth(scene, physics.simulate(scene), num_tracks=64, threads=threads)
    for name in ("depth", "segmentation", "normal", "object_coordinates", "forward_flow", "backward_flow",
                 "forward_flow_occlusion", "backward_flow_occlusion"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.instances == b.instances
    for name in ("query_points", "target_points", "occluded"):
        assert np.array_equal(getattr(a.tracks, name), getattr(b.tracks, name)), name


@pytest.mark.parametrize("num_tracks", [0, 7, 50])
def test_track_queries_are_visible_surface_points(num_tracks):
    from kubric_gen.world import build_scene, load_world, resolve_config

    w = load_world("movi_a")
    scene = build_scene(w, 2, resolve_config(w, {"resolution": [40, 32], "num_frames": 3}))
    gt = compute_ground_truth(scene, physics.simulate(scene), num_tracks=num_tracks)
    if num_tracks == 0:
        assert gt.tracks is None
        return
    tracks = gt.tracks
    assert tracks.query_points.shape == (num_tracks, 3) and tracks.target_points.shape == (num_tracks, 3, 2)
    for n, (t, y, x) in enumerate(tracks.query_points):
        t = int(t)
        assert gt.object_index[t, int(y), int(x)] >= 0
        assert not tracks.occluded[n, t]
        np.testing.assert_allclose(tracks.target_points[n, t], [x, y], atol=1e-4)
