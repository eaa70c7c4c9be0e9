"""Physics: analytic free fall, resting contact, collision onsets, isolation, placement."""

import threading

import numpy as np
import pytest
import trimesh

import kubric_gen as kg
from kubric_gen import geometry
from kubric_gen.simulation import physics


@pytest.mark.parametrize("step_rate", [240, 480])
def test_free_fall_matches_closed_form(step_rate):
    g = 9.81
    scene = kg.Scene(num_frames=25, frame_rate=24, step_rate=step_rate, gravity=(0, 0, -g),
                     objects=[kg.Sphere(name="ball", position=(0, 0, 10), velocity=(0.5, 0, 2))])
    traj = physics.simulate(scene)
    t = np.arange(25) / 24  # frames 0..24 span exactly 1 s
    z_exact = 10 + 2 * t - 0.5 * g * t**2
    assert np.abs(traj.positions[0, :, 2] - z_exact).max() < 1e-3
    assert np.abs(traj.positions[0, :, 0] - 0.5 * t).max() < 1e-3
    # the time step really is 1/step_rate: a step of 1/240 s at 480 Hz would put the ball elsewhere
    assert np.abs(traj.positions[0, -1, 2] - (10 + 2 - g / 2)).max() < 1e-3


def test_resting_box_stays_put(floor):
    scene = kg.Scene(num_frames=24, objects=[floor, kg.Cube(name="box", scale=0.5, position=(1, 2, 0.5))])
    traj = physics.simulate(scene)
    box = traj.index("box")
    assert np.abs(traj.positions[box] - [1, 2, 0.5]).max() < 2e-3
    angle = 2 * np.arccos(np.clip(np.abs(traj.quaternions[box, :, 0]), 0, 1))
    assert angle.max() < 1e-3
    assert np.all(traj.positions[traj.index("floor")] == [0, 0, -0.5])  # static never moves


def test_collision_events_are_onsets_at_the_right_time(floor):
    g, h, r = 10.0, 3.0, 0.5
    scene = kg.Scene(num_frames=24, frame_rate=12, step_rate=240, gravity=(0, 0, -g),
                     objects=[floor, kg.Sphere(name="ball", scale=r, position=(0, 0, h), restitution=0.0)])
    floor_with_no_bounce = scene.object("floor")
    scene.replace_object(type(floor_with_no_bounce)(**{**_fields(floor_with_no_bounce), "restitution": 0.0}))
    traj = physics.simulate(scene)
    impacts = [c for c in traj.collisions if set(c.objects) == {"floor", "ball"}]
    assert len(impacts) == 1, impacts  # resting contact afterwards is not a new event
    t_impact = np.sqrt(2 * (h - r) / g)
    assert impacts[0].frame == pytest.approx(t_impact * 12, abs=12 / 240 + 1e-9)
    assert impacts[0].force > 0
    assert impacts[0].position[2] == pytest.approx(0.0, abs=1e-3)
    assert abs(impacts[0].normal[2]) == pytest.approx(1.0, abs=1e-6)


def test_bounces_give_one_event_each(floor):
    scene = kg.Scene(num_frames=48, frame_rate=12, step_rate=240,
                     objects=[floor, kg.Sphere(name="ball", scale=0.5, position=(0, 0, 3), restitution=0.9)])
    traj = physics.simulate(scene)
    frames = [c.frame for c in traj.collisions]
    assert 2 <= len(frames) <= 12  # a few bounces, not one event per step of contact
    assert all(b - a > 0.5 for a, b in zip(frames, frames[1:], strict=False))


def _fields(obj):
    import dataclasses

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _tumbling_scene(seed):
    rng = np.random.default_rng(seed)
    scene = kg.Scene(num_frames=12, objects=[kg.Cube(name="floor", scale=(10, 10, 0.5), position=(0, 0, -0.5),
                                                     motion="static")])
    for i in range(4):
        kg.place_without_overlap(scene, kg.Cube(name=f"c{i}", scale=0.4, velocity=tuple(rng.normal(size=3))),
                                 region=((-2, -2, 0.5), (2, 2, 2)), rng=rng, random_rotation=True)
    return scene


def test_simulations_in_one_process_do_not_interfere():
    a, b = _tumbling_scene(1), _tumbling_scene(2)
    alone_a, alone_b = physics.simulate(a), physics.simulate(b)
    results = {}

    def run(name, scene):
        results[name] = physics.simulate(scene)

    threads = [threading.Thread(target=run, args=(n, s)) for n, s in (("a", a), ("b", b))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for alone, other in ((alone_a, results["a"]), (alone_b, results["b"])):
        np.testing.assert_array_equal(alone.positions, other.positions)
        np.testing.assert_array_equal(alone.quaternions, other.quaternions)
    # and interleaved clients step independently
    wa, wb = physics._World(a), physics._World(b)
    try:
        for _ in range(20):
            wa.p.stepSimulation(physicsClientId=wa.client)
            wb.p.stepSimulation(physicsClientId=wb.client)
        np.testing.assert_array_equal(wa.state(1)[0], alone_a.positions[1, 1])
    finally:
        wa.close()
        wb.close()


def test_kinematic_object_follows_keyframes_and_pushes_nothing_into_itself():
    poses = [kg.Pose(position=(0.25 * f, 0, 1), quaternion=geometry.quat_from_axis_angle((0, 0, 1), 0.1 * f))
             for f in range(6)]
    scene = kg.Scene(num_frames=6, gravity=(0, 0, 0),
                     objects=[kg.Cube(name="k", motion="kinematic", keyframes=poses, scale=0.2)])
    traj = physics.simulate(scene)
    np.testing.assert_allclose(traj.positions[0], [p.position for p in poses], atol=1e-9)
    np.testing.assert_allclose(traj.quaternions[0], [p.quaternion for p in poses], atol=1e-9)
    np.testing.assert_allclose(traj.velocities[0, 2], [0.25 * 12, 0, 0], atol=1e-9)


def test_mesh_object_rests_on_its_convex_hull(tmp_path, floor):
    path = tmp_path / "wedge.stl"
    box = trimesh.creation.box(extents=(1.0, 0.6, 0.4))
    box.apply_translation((0.3, 0, 0))  # origin off the centre of mass on purpose
    box.export(path)
    scene = kg.Scene(num_frames=24, objects=[floor, kg.MeshObject(name="m", path=str(path), position=(0, 0, 1),
                                                              restitution=0.0)])
    traj = physics.simulate(scene)
    m = traj.index("m")
    assert traj.positions[m, -1, 2] == pytest.approx(0.2, abs=5e-3)  # fell 0.8 m onto its face
    assert traj.positions[m, -1, 0] == pytest.approx(0.0, abs=5e-3)  # the origin moves with the body
    assert traj.velocities[m, -1] == pytest.approx([0, 0, 0], abs=5e-2)


def test_mesh_object_spins_about_its_centre_of_mass(tmp_path):
    path = tmp_path / "bar.stl"
    bar = trimesh.creation.box(extents=(1.0, 0.2, 0.2))
    bar.apply_translation((0.3, 0, 0))  # centre of mass at (0.3, 0, 0) in the local frame
    bar.export(path)
    scene = kg.Scene(num_frames=13, gravity=(0, 0, 0),
                     objects=[kg.MeshObject(name="m", path=str(path), angular_velocity=(0, 0, 1))])
    traj = physics.simulate(scene)
    t = 1.0  # frame 12 at 12 fps
    expected_origin = np.array([0.3, 0, 0]) - 0.3 * np.array([np.cos(t), np.sin(t), 0])
    np.testing.assert_allclose(traj.positions[0, 12], expected_origin, atol=1e-3)
    np.testing.assert_allclose(traj.velocities[0, 12], 0.0, atol=1e-9)  # the centre of mass stays put


def test_mass_from_density_and_volume():
    from kubric_gen import meshes

    assert meshes.object_mass(kg.Cube(name="c", scale=0.5, density=2.0)) == pytest.approx(2.0)
    assert meshes.object_mass(kg.Sphere(name="s", scale=2, density=1.0)) == pytest.approx(4 / 3 * np.pi * 8)
    assert meshes.object_mass(kg.Cube(name="c", mass=3.0)) == 3.0
    assert meshes.object_mass(kg.Cube(name="c", mass=3.0, motion="static")) == 0.0


def test_settle_keeps_resting_poses(floor):
    scene = kg.Scene(objects=[floor, kg.Sphere(name="s", scale=0.5, position=(0, 0, 2), restitution=0.1)])
    settled = kg.settle(scene, seconds=3.0)
    assert settled.object("s").position[2] == pytest.approx(0.5, abs=5e-3)
    assert settled.object("s").velocity == (0.0, 0.0, 0.0)
    assert scene.object("s").position == (0.0, 0.0, 2.0)  # input unchanged


def test_place_without_overlap_places_and_never_overlaps():
    rng = np.random.default_rng(5)
    scene = kg.Scene()
    for i in range(12):
        kg.place_without_overlap(scene, kg.Sphere(name=f"s{i}", scale=0.5), region=((-2, -2, 0), (2, 2, 1)), rng=rng)
    centres = np.array([o.position for o in scene.objects])
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(12) * 10
    assert dist.min() >= 1.0 - 1e-6


def test_place_without_overlap_raises_clearly_when_full():
    rng = np.random.default_rng(0)
    scene = kg.Scene(objects=[kg.Cube(name="block", scale=2),
                              kg.Cube(name="floor", scale=(5, 5, 0.1), position=(0, 0, -3), is_background=True,
                                      motion="static")])
    with pytest.raises(kg.PlacementError) as error:
        kg.place_without_overlap(scene, kg.Sphere(name="ball", scale=0.5), region=((-1, -1, -1), (1, 1, 1)),
                                 rng=rng, max_trials=200)
    # what was being placed, and what it met: 1 object (the background counted apart)
    assert str(error.value) == (
        "could not place 'ball' (Sphere 'sphere', 1 x 1 x 1 m) in region (-1.0, -1.0, -1.0)..(1.0, 1.0, 1.0): "
        "each of 200 random positions touched one of the 1 objects placed before it or the background (floor); "
        "enlarge the region, or place fewer or smaller objects")
    assert [o.name for o in scene.objects] == ["block", "floor"]


def test_movi_a_places_all_objects_for_every_seed():
    """Kubric's MOVi-A worker fails with 'Failed to place' on 6 of 11 seeds; ours never does."""
    from kubric_gen.world import build_scene, load_world, resolve_config

    world = load_world("movi_a")
    config = resolve_config(world, {"min_num_objects": 10, "max_num_objects": 10})
    for seed in range(11):
        scene = build_scene(world, seed, config)
        assert len([o for o in scene.objects if not o.is_background]) == 10


def test_vhacd_decomposition_is_cached_and_lets_a_ball_through_a_ring(tmp_path, monkeypatch, floor):
    monkeypatch.setenv("KUBRIC_GEN_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "ring.obj"
    trimesh.creation.torus(major_radius=1.0, minor_radius=0.3, major_sections=24, minor_sections=12).export(path)
    ring = kg.MeshObject(name="ring", path=str(path), collision="vhacd", position=(0, 0, 1))
    first = physics.vhacd_file(ring)
    assert first.startswith(str(tmp_path / "cache")) and physics.vhacd_file(ring) == first
    ball = kg.Sphere(name="ball", scale=0.2, position=(0, 0, 3))
    traj = physics.simulate(kg.Scene(num_frames=24, objects=[floor, ring, ball]))
    assert traj.positions[1, -1, 2] == pytest.approx(0.3, abs=0.02)  # the ring lies on the floor
    assert traj.positions[2, -1, 2] == pytest.approx(0.2, abs=0.02)  # the ball fell through its hole


def test_what_the_engine_would_not_simulate_is_refused_naming_the_object(floor):
    with pytest.raises(kg.SceneError, match=r"Cube\('box'\).mass.*mass > 0"):
        kg.Cube(name="box", mass=0.0)
    kg.Cube(name="box", mass=0.0, motion="static")  # a massless static object is fine
    with pytest.raises(kg.SceneError, match=r"Cube\('box'\).velocity.*100 m/s"):
        kg.Cube(name="box", velocity=(1e12, 0, 0))
    with pytest.raises(kg.SceneError, match=r"Cube\('box'\).angular_velocity.*100 rad/s"):
        kg.Cube(name="box", angular_velocity=(0, 0, 500))
    scene = kg.Scene(resolution=(8, 8), num_frames=2)
    scene.add(floor, kg.Cube(name="a", position=(0, 0, 1)), kg.Cube(name="b", position=(0.5, 0, 1.2)))
    with pytest.raises(kg.SceneError, match=r"\('a', 'b'\).*interpenetrate at frame 0 by more than 2 mm"):
        physics.simulate(scene)
    scene.allow_interpenetration = True  # the explicit opt-in
    assert physics.simulate(scene).num_frames == 2


def test_settled_objects_start_without_penetrating_the_dome_floor():
    """PyBullet's resting contacts sink into a mesh floor (up to 2 cm measured); settle lifts them out."""
    from kubric_gen.world import build_scene, load_world, resolve_config

    world = load_world("movi_d")
    config = resolve_config(world, {"resolution": [16, 16], "num_frames": 2, "min_num_static": 6,
                                    "max_num_static": 8})
    for seed in (4, 5):  # seeds whose crowds sank 1.5 and 2.2 cm before
        scene = build_scene(world, seed, config)
        deepest = physics.overlapping_pairs(scene, tolerance=0.0, include_background=True)
        assert not deepest or deepest[0][2] < 1e-3, deepest[:3]
