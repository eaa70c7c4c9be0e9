"""Geometry conventions (quaternions, camera) and seeded random helpers."""

import numpy as np
import pytest

import kubric_gen as kg
from kubric_gen import geometry, randomness


def test_quaternion_matrix_round_trip():
    rng = np.random.default_rng(3)
    for _ in range(50):
        q = randomness.random_rotation(rng)
        m = geometry.quat_to_matrix(q)
        assert m @ m.T == pytest.approx(np.eye(3), abs=1e-12)
        assert np.linalg.det(m) == pytest.approx(1.0)
        assert geometry.quat_from_matrix(m) == pytest.approx(np.asarray(q), abs=1e-12)


def test_quaternion_product_composes_rotations():
    a = geometry.quat_from_axis_angle((0, 0, 1), 0.3)
    b = geometry.quat_from_axis_angle((1, 0, 0), 1.1)
    np.testing.assert_allclose(geometry.quat_to_matrix(geometry.quat_multiply(a, b)),
                               geometry.quat_to_matrix(a) @ geometry.quat_to_matrix(b), atol=1e-12)


def test_projection_and_pixel_rays_agree():
    cam = kg.PerspectiveCamera(position=(3, -4, 2), look_at=(0.2, 0.1, 0.3), focal_length=30, sensor_width=36)
    res = (40, 30)
    origins, dirs = geometry.pixel_rays(cam.position, cam.quaternion, cam.focal_length, cam.sensor_width, res)
    points = origins + 5.0 * dirs
    xy = geometry.project(points, cam.position, cam.quaternion, cam.focal_length, cam.sensor_width, res)
    cols, rows = np.meshgrid(np.arange(40) + 0.5, np.arange(30) + 0.5)
    np.testing.assert_allclose(xy[..., 0], cols, atol=1e-9)
    np.testing.assert_allclose(xy[..., 1], rows, atol=1e-9)


def test_normalized_k_matches_pixel_intrinsics():
    cam = kg.PerspectiveCamera(position=(1, 2, 3), look_at=(0, 0, 0))
    res = (64, 48)
    point = np.array([0.3, -0.2, 0.1])
    xy = geometry.project(point, cam.position, cam.quaternion, cam.focal_length, cam.sensor_width, res)
    p_blender = geometry.world_to_camera(point, cam.position, cam.quaternion) * [1, -1, -1]
    uvw = geometry.normalized_intrinsics(cam.focal_length, cam.sensor_width, res) @ p_blender
    np.testing.assert_allclose(uvw[:2] / uvw[2] * res, xy, atol=1e-9)


def test_look_at_points_minus_z_at_target():
    q = geometry.look_at_quaternion((1, 2, 3), (4, -1, 0))
    forward = -geometry.quat_to_matrix(q)[:, 2]
    np.testing.assert_allclose(forward, np.array([3, -3, -3]) / np.sqrt(27), atol=1e-12)


def test_helpers_are_seeded_and_leave_global_state_alone():
    state = np.random.get_state()[1].copy()

    def draw(seed):
        rng = randomness.make_rng(seed)
        return (randomness.random_rotation(rng), randomness.point_in_box(rng, (0, 0, 0), (1, 2, 3)),
                randomness.point_in_half_sphere_shell(rng, 7, 9), randomness.random_hue_color(rng),
                randomness.choice(rng, ["a", "b", "c"], [0, 1, 1]))

    assert draw(0) == draw(0) and draw(0) != draw(1)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_sampler_ranges():
    rng = np.random.default_rng(1)
    shell = np.array([randomness.point_in_half_sphere_shell(rng, 7, 9) for _ in range(500)])
    r = np.linalg.norm(shell, axis=1)
    assert r.min() >= 7 - 1e-9 and r.max() <= 9 + 1e-9 and shell[:, 2].min() >= 0
    box = np.array([randomness.point_in_box(rng, (-1, 0, 2), (1, 1, 3)) for _ in range(500)])
    assert (box.min(0) >= [-1, 0, 2]).all() and (box.max(0) <= [1, 1, 3]).all()
    picks = [randomness.choice(rng, ["x", "y"], [0, 1]) for _ in range(50)]
    assert set(picks) == {"y"}
    with pytest.raises(ValueError):
        randomness.choice(rng, ["x"], [0])


def test_random_z_rotation_turns_about_z_only_by_a_uniform_angle():
    """Each rotation keeps world Z fixed and moves X within the XY plane; over many draws the
    angle is uniform on [0, 2π) (a Kolmogorov-Smirnov distance well below what a skew would give);
    the same seed gives the same rotations."""
    rng = np.random.default_rng(11)
    angles = []
    for _ in range(2000):
        q = randomness.random_z_rotation(rng)
        assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-12)
        assert geometry.rotate(q, (0, 0, 1)) == pytest.approx([0, 0, 1], abs=1e-12)
        x = geometry.rotate(q, (1, 0, 0))
        assert x[2] == pytest.approx(0.0, abs=1e-12)
        angles.append(np.arctan2(x[1], x[0]) % (2 * np.pi))
    ranked = np.sort(angles) / (2 * np.pi)
    ks = np.max(np.abs(ranked - (np.arange(1, 2001) - 0.5) / 2000))
    assert ks < 0.04  # 1.63/sqrt(2000) = 0.036 is the 1 % critical value
    assert randomness.random_z_rotation(np.random.default_rng(3)) == randomness.random_z_rotation(
        np.random.default_rng(3))
