"""Blender's own view of a scene: Cycles' Object Index and Depth passes (real bpy, tiny images)."""

from __future__ import annotations

import numpy as np
import pytest

from kubric_gen import geometry, meshes
from kubric_gen.errors import ConfigError
from kubric_gen.render import RenderSettings, render, render_passes
from kubric_gen.scene import Cube, Cylinder, Flat, PerspectiveCamera, Pose, Scene, Sphere
from kubric_gen.simulation.trajectory import Trajectory

pytest.importorskip("bpy")


def _camera_rays(scene: Scene, frame: int = 0) -> np.ndarray:
    pose = scene.camera.pose_at(frame)
    _, directions = geometry.pixel_rays(pose.position, pose.quaternion, scene.camera.focal_length,
                                        scene.camera.sensor_width, scene.resolution)
    return directions


def _project(scene: Scene, points, frame: int = 0) -> np.ndarray:
    pose = scene.camera.pose_at(frame)
    return geometry.project(np.asarray(points, dtype=float), pose.position, pose.quaternion,
                            scene.camera.focal_length, scene.camera.sensor_width, scene.resolution)


def _pixel(xy: np.ndarray) -> tuple[int, int]:
    """(row, col) of the pixel containing image point (x, y)."""
    return int(np.floor(xy[1])), int(np.floor(xy[0]))


def _ray_distance(scene: Scene, trajectory: Trajectory, frame: int, row: int, col: int, index: int) -> float:
    """Exact distance along the ray through the centre of pixel (row, col) to object `index`'s
    triangles (those Blender renders), Moller-Trumbore in float64; inf if it misses."""
    obj = scene.objects[index]
    mesh = meshes.object_mesh(obj)
    verts = geometry.transform_points(mesh.vertices, trajectory.positions[index, frame],
                                      trajectory.quaternions[index, frame], obj.scale)
    a, b, c = (verts[mesh.faces[:, k]] for k in range(3))
    origin = np.asarray(scene.camera.pose_at(frame).position, dtype=float)
    direction = _camera_rays(scene, frame)[row, col]
    e1, e2 = b - a, c - a
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = origin - a
        u = np.einsum("ij,ij->i", s, p) / det
        q = np.cross(s, e1)
        v = q @ direction / det
        t = np.einsum("ij,ij->i", e2, q) / det
    hit = (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    return float(t[hit].min()) if hit.any() else np.inf


def _table_scene() -> Scene:
    scene = Scene(resolution=(48, 40), num_frames=1)
    scene.add(Cube(name="floor", scale=(5, 5, 0.1), position=(0, 0, -0.1), motion="static"))
    scene.add(Sphere(name="ball", scale=0.5, position=(0.0, 0.0, 0.5)))
    scene.add(Cube(name="box", scale=0.4, position=(1.5, 0.5, 0.4), euler=(0.0, 0.0, 0.5)))
    scene.add(Cylinder(name="can", scale=(0.3, 0.3, 0.5), position=(-1.5, 0.3, 0.5)))
    scene.camera = PerspectiveCamera(position=(0.0, -6.0, 3.0), look_at=(0.0, 0.0, 0.4))
    return scene


def test_object_index_puts_each_object_where_geometry_projects_it():
    scene = _table_scene()
    trajectory = Trajectory.static(scene)
    passes = render_passes(scene, trajectory)
    assert set(passes) == {"object_index", "depth"}
    index, depth = passes["object_index"], passes["depth"]
    assert index.shape == depth.shape == (1, 40, 48)
    assert index.dtype == np.int32 and depth.dtype == np.float32
    assert set(np.unique(index)) == {-1, 0, 1, 2, 3}  # background above the floor's far edge
    for i, obj in enumerate(scene.objects):
        mine = index[0] == i
        # the pixel containing the projected centre shows the object
        if obj.name != "floor":
            r, c = _pixel(_project(scene, obj.position))
            assert index[0, r, c] == i, obj.name
            expected = _ray_distance(scene, trajectory, 0, r, c, i)
            assert abs(depth[0, r, c] / expected - 1) < 1e-4, (obj.name, depth[0, r, c], expected)
        # every pixel labelled with the object has its centre inside the projection of the object's mesh
        verts = geometry.transform_points(meshes.object_mesh(obj).vertices, obj.position, obj.quaternion, obj.scale)
        xy = _project(scene, verts)
        rows, cols = np.nonzero(mine)
        assert len(rows) > 0, obj.name
        lo, hi = xy.min(axis=0) - 1e-3, xy.max(axis=0) + 1e-3
        assert (cols + 0.5 >= lo[0]).all() and (cols + 0.5 <= hi[0]).all(), obj.name
        assert (rows + 0.5 >= lo[1]).all() and (rows + 0.5 <= hi[1]).all(), obj.name


@pytest.mark.parametrize("distance", [2.0, 7.5])
def test_depth_is_euclidean_distance_to_a_fronto_parallel_plane(distance):
    """Cycles' Z pass is camera-space z (planar); `render_passes` must return ray length D / cos."""
    scene = Scene(resolution=(48, 40), num_frames=1)
    # top face at z = 0, far wider than the view; the camera looks straight down (-Z) at it
    scene.add(Cube(name="plane", scale=(100, 100, 0.01), position=(0.3, -0.2, -0.01), motion="static"))
    scene.camera = PerspectiveCamera(focal_length=30, position=(0.1, 0.2, distance),
                                     quaternion=geometry.quat_from_axis_angle((0, 0, 1), 0.3))
    passes = render_passes(scene, Trajectory.static(scene))
    assert (passes["object_index"] == 0).all()
    cos = -_camera_rays(scene)[..., 2]  # cosine of each pixel ray to the optical axis (0, 0, -1)
    assert cos.min() < 0.85  # the corners are far enough off-axis for planar z to fail the test
    expected = distance / cos
    rel = np.abs(passes["depth"][0] / expected - 1.0)
    assert rel.max() < 1e-4, rel.max()  # measured: ~6e-8 (float32 rounding)


def test_background_is_minus_one_and_infinitely_far():
    scene = Scene(resolution=(24, 20), num_frames=1)
    scene.add(Sphere(name="ball", scale=0.3, position=(0.0, 0.0, 0.0)))
    scene.camera = PerspectiveCamera(position=(0.0, -5.0, 0.0), look_at=(0.0, 0.0, 0.0))
    trajectory = Trajectory.static(scene)
    passes = render_passes(scene, trajectory)
    index, depth = passes["object_index"][0], passes["depth"][0]
    background = index == -1
    assert set(np.unique(index)) == {-1, 0}
    assert background[[0, 0, -1, -1], [0, -1, 0, -1]].all()  # the corners
    assert np.isposinf(depth[background]).all()
    assert np.isfinite(depth[~background]).all()
    r, c = _pixel(_project(scene, (0.0, 0.0, 0.0)))
    assert index[r, c] == 0
    assert abs(depth[r, c] / _ray_distance(scene, trajectory, 0, r, c, 0) - 1) < 1e-4
    assert abs(depth[r, c] - 4.7) < 0.05  # about the front of the sphere (radius 0.3, tessellated)


def test_frames_follow_the_trajectory_in_the_order_asked():
    scene = Scene(resolution=(32, 24), num_frames=3)
    scene.add(Sphere(name="ball", scale=0.3))
    ahead = tuple(geometry.look_at_quaternion((0, -6, 0), (0, 0, 0)))
    scene.camera = PerspectiveCamera(path=[Pose(position=(0.0, -6.0, 0.0), quaternion=ahead)] * 2
                                     + [Pose(position=(0.0, -4.0, 0.0), quaternion=ahead)])
    trajectory = Trajectory.static(scene)
    trajectory.positions[0, :, 0] = [-1.2, 0.0, 0.6]  # the ball moves in x
    passes = render_passes(scene, trajectory, frames=[2, 0])
    assert passes["object_index"].shape == passes["depth"].shape == (2, 24, 32)
    for i, frame in enumerate([2, 0]):
        index, depth = passes["object_index"][i], passes["depth"][i]
        r, c = _pixel(_project(scene, trajectory.positions[0, frame], frame))
        assert index[r, c] == 0 and (index == 0).sum() > 4
        assert abs(depth[r, c] / _ray_distance(scene, trajectory, frame, r, c, 0) - 1) < 1e-4
        assert index[r, 31 - c] == -1  # where the ball is not in this frame


def test_bad_arguments_are_config_errors():
    scene = _table_scene()
    with pytest.raises(ConfigError, match="frames"):
        render_passes(scene, Trajectory.static(scene), frames=[1])
    with pytest.raises(ConfigError, match="device"):
        render_passes(scene, Trajectory.static(scene), device="tpu")
    other = Scene(resolution=(8, 8), num_frames=1)
    with pytest.raises(ConfigError, match="trajectory"):
        render_passes(scene, Trajectory.static(other))


def test_passes_leave_rendering_unchanged():
    scene = Scene(resolution=(16, 12), num_frames=1)
    scene.add(Cube(name="box", scale=0.5, euler=(0.3, 0.2, 0.1), material=Flat(color=(0.9, 0.4, 0.1))))
    scene.camera = PerspectiveCamera(position=(2.0, -3.0, 1.0), look_at=(0.0, 0.0, 0.0))
    settings = RenderSettings(samples=2, adaptive_threshold=0.0, denoise=False, device="cpu")
    before = render(scene, Trajectory.static(scene), settings).rgba
    render_passes(scene, Trajectory.static(scene))
    after = render(scene, Trajectory.static(scene), settings).rgba
    assert np.array_equal(before, after)
