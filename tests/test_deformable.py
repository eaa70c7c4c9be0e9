"""Deformable objects: meshes whose vertices move, with ground truth exact on the deformed triangles.

A sheet moved rigidly must give the flow and tracks of the same mesh as a rigid object; a sheet
stretched by a scripted (affine) vertex animation the analytic flow and tracks (barycentric
interpolation of an affine map is exact); a simulated cloth its stored meshes' depth on a fresh
ray cast (trimesh's own ray-triangle code) and tracks that stay on their material point. Tolerances
are stated per test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import kubric_gen as kg
from kubric_gen import geometry
from kubric_gen.errors import SceneError
from kubric_gen.simulation import physics
from kubric_gen.simulation.trajectory import Trajectory
from kubric_gen.truth import compute_ground_truth
from kubric_gen.truth.compute import _Frames, _layers_at

T = 5
SUBDIVISIONS = 6
POSITION = (0.1, -0.05, 0.6)
QUATERNION = tuple(geometry.quat_from_euler((0.4, -0.2, 0.3)))


def _camera_scene(resolution=(48, 40)) -> kg.Scene:
    scene = kg.Scene(resolution=resolution, num_frames=T, frame_rate=12, step_rate=240, seed=5)
    scene.camera = kg.PerspectiveCamera(position=(0.4, -2.2, 1.8), look_at=(0.0, 0.0, 0.5))
    return scene


def _keyframes() -> tuple[kg.Pose, ...]:
    """A screw motion: moving along x and up, turning about a tilted axis."""
    return tuple(kg.Pose(position=(POSITION[0] + 0.07 * f, POSITION[1], POSITION[2] + 0.03 * f),
                         quaternion=tuple(geometry.quat_multiply(geometry.quat_from_axis_angle((0.3, 0.2, 1.0),
                                                                                               0.12 * f),
                                                                 QUATERNION)))
                 for f in range(T))


def test_a_rigidly_moved_cloth_has_the_flow_and_tracks_of_the_rigid_mesh(tmp_path):
    """A kinematic sheet (DeformableObject, its vertices moved per frame) and the same triangles as a
    kinematic MeshObject (posed per frame) give the same depth (1e-6 m), flow, flow occlusion and
    tracks (1e-4 px) and object coordinates (1e-6)."""
    sheet = kg.DeformableObject(name="sheet", shape="sheet", subdivisions=SUBDIVISIONS, scale=(0.5, 0.4, 1.0),
                                motion="kinematic", keyframes=_keyframes())
    path = tmp_path / "sheet.obj"
    sheet.rest_mesh().export(path)
    rigid = kg.MeshObject(name="sheet", path=str(path), scale=(0.5, 0.4, 1.0), motion="kinematic",
                          keyframes=_keyframes())
    truths = []
    for obj in (sheet, rigid):
        scene = _camera_scene()
        scene += obj
        truths.append(compute_ground_truth(scene, Trajectory.static(scene), num_tracks=64))
    deformed, posed = truths
    np.testing.assert_array_equal(deformed.object_index, posed.object_index)
    assert (deformed.object_index == 0).sum() > 200  # the sheet fills much of the image
    np.testing.assert_allclose(deformed.depth, posed.depth, atol=1e-6)
    for name in ("forward_flow", "backward_flow"):
        np.testing.assert_allclose(getattr(deformed, name), getattr(posed, name), atol=1e-4)
        np.testing.assert_array_equal(getattr(deformed, f"{name}_occlusion"), getattr(posed, f"{name}_occlusion"))
    np.testing.assert_allclose(deformed.object_coordinates, posed.object_coordinates, atol=1e-6)
    np.testing.assert_array_equal(deformed.tracks.query_points, posed.tracks.query_points)
    np.testing.assert_allclose(deformed.tracks.target_points, posed.tracks.target_points, atol=1e-4)
    np.testing.assert_array_equal(deformed.tracks.occluded, posed.tracks.occluded)


def _stretch(f: float) -> np.ndarray:
    """The scripted deformation of frame f (an affine map of the sheet's own coordinates)."""
    return np.array([[1.0 + 0.15 * f, 0.05 * f, 0.0], [0.0, 1.0 - 0.08 * f, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def stretched():
    rest = kg.DeformableObject(name="sheet", subdivisions=SUBDIVISIONS).rest_mesh().vertices
    sheet = kg.DeformableObject(name="sheet", shape="sheet", subdivisions=SUBDIVISIONS, scale=(0.5, 0.5, 1.0),
                                position=POSITION, quaternion=QUATERNION, motion="kinematic",
                                keyframes=(kg.Pose(position=POSITION, quaternion=QUATERNION),) * T,
                                vertex_keyframes=[rest @ _stretch(f).T for f in range(T)])
    scene = _camera_scene()
    scene += sheet
    trajectory = Trajectory.static(scene)
    return scene, trajectory, compute_ground_truth(scene, trajectory, num_tracks=80)


def _analytic(local: np.ndarray, f: float) -> np.ndarray:
    """World position at frame f of rest-shape points `local` (unscaled sheet coordinates)."""
    return geometry.transform_points(local @ _stretch(f).T, POSITION, QUATERNION, (0.5, 0.5, 1.0))


def test_a_scripted_stretch_gives_the_analytic_flow_and_tracks(stretched):
    """Each pixel on the sheet: its rest-shape point (from its ray and the analytic deformation)
    moved by the analytic deformation to frames t +- 1 (frames -1 and T included) and projected
    gives the forward and backward flow (1e-4 px); every track, at every frame, is the analytic
    projection of its query's material point (1e-4 px) and visible while on screen."""
    scene, _, truth = stretched
    cam = scene.camera
    width, height = scene.resolution
    rows, cols = np.nonzero(truth.object_index[0] >= 0)
    assert len(rows) > 300
    for t in range(T):
        rows, cols = np.nonzero(truth.object_index[t] >= 0)
        origins, directions = geometry.image_rays(np.stack([cols + 0.5, rows + 0.5], -1), *_pose(cam, t),
                                                  cam.focal_length, cam.sensor_width, scene.resolution)
        world = origins + directions * truth.depth[t, rows, cols, None].astype(np.float64)
        local = _to_rest(world, t)
        for name, other, sign in (("forward_flow", t + 1, 1.0), ("backward_flow", t - 1, -1.0)):
            xy = geometry.project(_analytic(local, other), *_pose(cam, t), cam.focal_length, cam.sensor_width,
                                  scene.resolution)
            expected = sign * np.stack([xy[:, 1] - rows - 0.5, xy[:, 0] - cols - 0.5], -1)
            # depth is float32: the point along the ray is good to ~1e-7 relative, its flow to ~1e-5 px
            np.testing.assert_allclose(getattr(truth, name)[t, rows, cols], expected, atol=1e-4)
    tracks = truth.tracks
    q = tracks.query_points
    for n in range(len(q)):
        t0 = int(q[n, 0])
        origin, direction = geometry.image_rays(q[n, [2, 1]][None].astype(np.float64), *_pose(cam, t0),
                                                cam.focal_length, cam.sensor_width, scene.resolution)
        hit = _ray_plane(origin[0], direction[0], t0)
        local = _to_rest(hit[None], t0)
        for t in range(T):
            xy = geometry.project(_analytic(local, t), *_pose(cam, t), cam.focal_length, cam.sensor_width,
                                  scene.resolution)[0]
            np.testing.assert_allclose(tracks.target_points[n, t], xy, atol=1e-4)
            inside = 0 <= xy[0] < width and 0 <= xy[1] < height
            assert tracks.occluded[n, t] == (not inside), (n, t)


def test_scene_flow_on_the_stretched_sheet_is_the_material_points_motion(stretched):
    """Forward scene flow: the analytic rest point of each pixel moved from frame t to t + 1 (1e-6 m)."""
    scene, _, truth = stretched
    for t in range(T):
        rows, cols, local = _pixels_rest_points(scene, truth, t)
        moved = _analytic(local, t + 1) - _analytic(local, t)
        np.testing.assert_allclose(truth.forward_scene_flow[t, rows, cols], moved, atol=1e-6)


def test_multiview_tracks_on_the_stretched_sheet_follow_the_material_point(stretched):
    """Seen by a stereo pair, every cross-view track is, in each camera and frame, the analytic
    projection of its query's material point (1e-4 px)."""
    from kubric_gen.truth.multiview import compute_cross_view

    scene, trajectory, _ = stretched
    rig = kg.Scene.from_json(scene.to_json())
    rig.cameras = kg.stereo_rig(position=(0.4, -2.2, 1.8), look_at=(0.0, 0.0, 0.5), baseline=0.3)
    rig.validate()
    truths = [compute_ground_truth(rig.view(cam.name), trajectory, num_tracks=0) for cam in rig.views]
    cross = compute_cross_view(rig, trajectory, truths, num_tracks=40)
    assert len(cross.query_world) == 40
    for n, world in enumerate(cross.query_world):
        t0 = int(cross.query_points[n, 0])
        local = _to_rest(world[None], t0)
        for c, cam in enumerate(rig.views):
            for t in range(T):
                xy = geometry.project(_analytic(local, t), *_pose(cam, t), cam.focal_length, cam.sensor_width,
                                      rig.resolution)[0]
                np.testing.assert_allclose(cross.target_points[c, n, t], xy, atol=1e-4)


def _pose(cam, t):
    pose = cam.pose_at(t)
    return pose.position, pose.quaternion


def _to_rest(world: np.ndarray, t: float) -> np.ndarray:
    """The rest-shape (unscaled, undeformed) coordinates of world points on the sheet at frame t."""
    local = geometry.world_to_local(world, POSITION, QUATERNION) / np.array([0.5, 0.5, 1.0])
    return local @ np.linalg.inv(_stretch(t)).T


def _pixels_rest_points(scene: kg.Scene, truth, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels (rows, cols) that see the sheet in frame t and the analytic rest points of their rays."""
    cam = scene.camera
    rows, cols = np.nonzero(truth.object_index[t] >= 0)
    origins, directions = geometry.image_rays(np.stack([cols + 0.5, rows + 0.5], -1), *_pose(cam, t),
                                              cam.focal_length, cam.sensor_width, scene.resolution)
    return rows, cols, _to_rest(np.array([_ray_plane(o, d, t) for o, d in zip(origins, directions, strict=True)]), t)


def _ray_plane(origin: np.ndarray, direction: np.ndarray, t: float) -> np.ndarray:
    """Where a ray meets the sheet's plane (it stays in its plane under the stretch)."""
    normal = geometry.rotate(QUATERNION, (0.0, 0.0, 1.0))
    s = np.dot(np.asarray(POSITION) - origin, normal) / np.dot(direction, normal)
    return origin + s * direction


def test_object_coordinates_name_the_rest_shape(stretched):
    """On the stretched sheet the object coordinates are the rest shape's, normalised by its bounds
    ([-1, 1] in x, y): for every pixel, the analytic rest point of its ray (1e-5)."""
    scene, _, truth = stretched
    for t in range(T):
        rows, cols, local = _pixels_rest_points(scene, truth, t)
        np.testing.assert_allclose(truth.object_coordinates[t, rows, cols, :2], (local[:, :2] + 1) / 2, atol=1e-5)


@pytest.fixture(scope="module")
def draped():
    """A simulated cloth (pinned at two corners) falling onto a box."""
    scene = _camera_scene((64, 48))
    scene += kg.Cube(name="floor", scale=(3, 3, 0.1), position=(0, 0, -0.1), motion="static", is_background=True)
    scene += kg.Cube(name="box", scale=(0.2, 0.2, 0.2), position=(0.0, 0.0, 0.2), motion="static")
    scene += kg.DeformableObject(name="cloth", subdivisions=10, scale=(0.5, 0.5, 0.5), position=(0.05, 0.0, 0.7),
                                 mass=0.2, stiffness=40.0, pinned=(0, 10))
    scene += kg.SunLight(name="sun", position=(1, -1, 4), look_at=(0, 0, 0))
    trajectory = physics.simulate(scene)
    return scene, trajectory, compute_ground_truth(scene, trajectory, num_tracks=96)


def test_simulated_cloth_records_pybullets_nodes_in_mesh_order(draped):
    """Frame 0 holds the rest mesh placed in the world (PyBullet's nodes are our vertices, in order:
    1e-6 m); pinned corners stay put; the rest of the cloth falls; the same scene simulates to the
    same vertices."""
    scene, trajectory, _ = draped
    cloth = scene.object("cloth")
    vertices = trajectory.deformations["cloth"].vertices
    start = geometry.transform_points(cloth.rest_mesh().vertices, cloth.position, cloth.quaternion, cloth.scale)
    np.testing.assert_allclose(vertices[0], start, atol=1e-6)
    np.testing.assert_allclose(vertices[:, [0, 10]], np.broadcast_to(start[[0, 10]], (T, 2, 3)), atol=1e-6)
    assert vertices[-1, :, 2].min() < start[:, 2].min() - 0.05
    again = physics.simulate(scene)
    np.testing.assert_array_equal(again.deformations["cloth"].vertices, vertices)


def test_depth_on_the_cloth_is_a_fresh_ray_cast_of_its_mesh(draped):
    """Every pixel that sees the cloth: its depth is the distance to the first hit of trimesh's own
    ray-triangle intersector on that frame's cloth mesh (the others ignored; 1e-6 relative)."""
    import trimesh
    from trimesh.ray.ray_triangle import RayMeshIntersector

    scene, trajectory, truth = draped
    cam = scene.camera
    k = [o.name for o in scene.objects].index("cloth")
    faces = scene.object("cloth").rest_mesh().faces
    checked = 0
    for t in range(T):
        rows, cols = np.nonzero(truth.object_index[t] == k)
        origins, directions = geometry.image_rays(np.stack([cols + 0.5, rows + 0.5], -1), *_pose(cam, t),
                                                  cam.focal_length, cam.sensor_width, scene.resolution)
        mesh = trimesh.Trimesh(trajectory.deformations["cloth"].vertices[t], faces, process=False)
        locations, ray, _ = RayMeshIntersector(mesh).intersects_location(origins, directions, multiple_hits=True)
        first = np.full(len(rows), np.inf)
        np.minimum.at(first, ray, np.linalg.norm(locations - origins[ray], axis=1))
        np.testing.assert_allclose(truth.depth[t, rows, cols], first, rtol=1e-6)
        checked += len(rows)
    assert checked > 500


def test_tracks_on_the_cloth_stay_on_their_material_point(draped):
    """Each visible point of a track that starts on the cloth, ray cast again at its target, has the
    object coordinate (the rest-shape point) of its query (1e-4 of the sheet's size)."""
    scene, trajectory, truth = draped
    k = [o.name for o in scene.objects].index("cloth")
    frames = _Frames(scene, trajectory)
    q, tracks = truth.tracks.query_points, truth.tracks
    on_cloth = truth.object_index[q[:, 0].astype(int), q[:, 1].astype(int), q[:, 2].astype(int)] == k
    assert on_cloth.sum() >= 10
    start = truth.object_coordinates[q[on_cloth, 0].astype(int), q[on_cloth, 1].astype(int), q[on_cloth, 2].astype(int)]
    checked = 0
    for t in range(T):
        seen = ~tracks.occluded[on_cloth, t]
        if not seen.any():
            continue
        again = _layers_at(frames, t, tracks.target_points[on_cloth][seen, t].astype(np.float64))
        assert (again["object_index"] == k).all()
        np.testing.assert_allclose(again["object_coordinates"], start[seen], atol=1e-4)
        checked += int(seen.sum())
    assert checked > 30


def test_renders_the_cloth_where_the_ground_truth_puts_it(draped):
    """Cycles' object-index pass (the shape-keyed mesh of each frame) equals the ground truth's
    object index but at silhouette pixels (at most 2 %), and its depth on agreeing pixels (1e-4 rel)."""
    from kubric_gen.render import render_passes

    scene, trajectory, truth = draped
    passes = render_passes(scene, trajectory, frames=[0, T - 1])
    for i, t in enumerate((0, T - 1)):
        agree = passes["object_index"][i] == truth.object_index[t]
        assert agree.mean() > 0.98, agree.mean()
        on = agree & (truth.object_index[t] >= 0)
        np.testing.assert_allclose(passes["depth"][i][on], truth.depth[t][on], rtol=1e-4)


@pytest.mark.parametrize("change,field", [
    ({"stiffness": -1.0}, "stiffness"),
    ({"mass": 0.0}, "mass"),
    ({"body": "soft"}, "body"),  # a sheet is open: not a soft body
    ({"pinned": (500,)}, "pinned[0]"),
    ({"attached": ((0, "nothing"),)}, "attached[0]"),
    ({"angular_velocity": (0, 0, 1)}, "angular_velocity"),
    ({"subdivisions": 0}, "subdivisions"),
    ({"pinned": (0,), "velocity": (1, 0, 0)}, "velocity"),
    ({"motion": "kinematic", "keyframes": (kg.Pose(),) * T, "vertex_keyframes": [[[0, 0, 0]]] * T},
     "vertex_keyframes"),
])
def test_bad_parameters_are_scene_errors_naming_the_field(change, field):
    scene = _camera_scene()
    with pytest.raises(SceneError, match=rf"DeformableObject\('cloth'\)\.{field.replace('[', '.').replace(']', '.')}"):
        scene += kg.DeformableObject(name="cloth", **change)


def test_an_open_mesh_file_is_no_soft_body(tmp_path):
    """A closed mesh file is a soft body; the same with one face removed is refused, naming the file."""
    import trimesh

    closed = trimesh.creation.icosphere(subdivisions=1)
    closed.export(tmp_path / "closed.obj")
    trimesh.Trimesh(closed.vertices, closed.faces[1:]).export(tmp_path / "open.obj")
    assert kg.DeformableObject(name="ball", body="soft", path=str(tmp_path / "closed.obj")).body == "soft"
    with pytest.raises(SceneError, match="needs a closed, manifold surface.*open.obj"):
        kg.DeformableObject(name="ball", body="soft", path=str(tmp_path / "open.obj"))


def test_bad_input_from_a_world_is_one_line(tmp_path):
    """`kubric-gen scene` of a world with a negative stiffness: exit 2, one line naming the field."""
    import subprocess
    import sys

    world = tmp_path / "bad.py"
    world.write_text("import kubric_gen as kg\nCONFIG = {}\n\ndef build(rng, config):\n"
                     "    scene = kg.Scene()\n    scene += kg.DeformableObject(name='cloth', stiffness=-2)\n"
                     "    return scene\n")
    cli = str(Path(sys.executable).with_name("kubric-gen"))
    done = subprocess.run([cli, "scene", str(world), "--seed", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "stiffness" in done.stderr, done.stderr


def test_scene_json_round_trips_a_scripted_deformation(stretched):
    scene, _, _ = stretched
    again = kg.Scene.from_json(scene.to_json())
    assert again.to_json() == scene.to_json()
    np.testing.assert_array_equal(Trajectory.static(again).deformations["sheet"].vertices,
                                  Trajectory.static(scene).deformations["sheet"].vertices)


@pytest.fixture(scope="module")
def cloth_scene(tmp_path_factory):
    """The cloth world's scene 0, tiny (32x32, 3 frames)."""
    from conftest import tiny_world_scene

    return tiny_world_scene(tmp_path_factory.mktemp("cloth"), "cloth", num_tracks=64)


def test_scene_directory_holds_the_meshes_and_validate_checks_them(cloth_scene, tmp_path):
    """deformations.npz holds the cloth's vertices per frame (float32 of the simulation's), faces and
    rest shape; validate passes, and fails when a track on the cloth slides off its material point
    and when the stored vertices do not move as the flow says."""
    from kubric_gen.io import SceneDir
    from kubric_gen.io.layers import save_npz
    from kubric_gen.io.validate import check_scene

    sd = SceneDir(cloth_scene)
    meshes = sd.deformations()
    assert list(meshes) == ["cloth"]
    cloth = next(inst for inst in sd.metadata["instances"] if inst["name"] == "cloth")
    assert cloth["deformation_index"] == 0 and cloth["body"] == "cloth"
    assert meshes["cloth"]["vertices"].shape == (3, 17 * 17, 3) and meshes["cloth"]["faces"].shape == (512, 3)
    assert not [p for p in check_scene(sd) if p.severity == "error"]

    slid = tmp_path / "slid"
    shutil.copytree(cloth_scene, slid)
    k = sd.metadata["instances"].index(cloth)
    tracks = dict(np.load(cloth_scene / "tracks.npz"))
    q = tracks["query_points"]
    on = np.flatnonzero(sd.layer("segmentation")[q[:, 0].astype(int), q[:, 1].astype(int),
                                                 q[:, 2].astype(int)] == k + 1)
    visible_later = [n for n in on if not tracks["occluded"][n, 2]]
    assert visible_later
    tracks["target_points"][visible_later[0], 2] += (1.5, 0.0)  # 1.5 px off, still on the cloth or not
    np.savez(slid / "tracks.npz", **tracks)
    messages = [p.message for p in check_scene(SceneDir(slid)) if p.check == "deformations"]
    assert any(f"track {visible_later[0]}" in m for m in messages), messages

    still = tmp_path / "still"
    shutil.copytree(cloth_scene, still)
    stored = dict(np.load(cloth_scene / "deformations.npz"))
    stored["vertices_0"][1:] = stored["vertices_0"][:1] + (0.0, 0.0, 0.3)  # not how the flow moves it
    save_npz(still / "deformations.npz", stored)
    problems = check_scene(SceneDir(still))
    assert any(p.check == "flow" for p in problems), problems
