"""Every built-in world: valid scenes for 12 seeds (6 for settled crowds, 3 for the
multi-camera worlds, whose cameras are checked too, 4 for the worlds of an articulated body),
no interpenetration at frame 0 (the dome floor included: settled crowds are lifted out of it). That every world renders,
validates, packages and loads is tests/test_matrix.py's part."""

import json

import numpy as np
import pytest

from kubric_gen import geometry
from kubric_gen.simulation import physics
from kubric_gen.world import build_scene, builtin_world_names, load_world, resolve_config

WORLDS = ["helloworld", "movi_a", "movi_b", "movi_c", "movi_d", "movi_e", "movi_f", "point_tracking", "multiview",
          "stereo", "robot_arm", "legged_robot", "humanoid", "cloth", "soft_toys"]
SETTLED = {"movi_d", "movi_e", "movi_f", "point_tracking", "multiview", "stereo"}  # a settled crowd rests in contact
MULTI_CAMERA = {"multiview", "stereo"}
SEEDS = 12
SETTLED_SEEDS = 6  # settling a crowd costs about 1.5 s a scene on 2 cores
MULTI_CAMERA_SEEDS = 3  # their crowd is movi_d's (test_matrix checks it is the same): their cameras are what is new
ARTICULATED = {"robot_arm", "legged_robot", "humanoid"}
ARTICULATED_SEEDS = 4  # their shapes are CLEVR's placed beside one body (each placement loads the body's URDF)


def test_all_worlds_are_listed():
    assert set(WORLDS) == set(builtin_world_names())


@pytest.mark.parametrize("name", WORLDS)
def test_world_builds_valid_scenes_without_overlap(name):
    world = load_world(name)
    config = resolve_config(world, {})
    state = np.random.get_state()[1].copy()
    scenes = set()
    seeds = (MULTI_CAMERA_SEEDS if name in MULTI_CAMERA else SETTLED_SEEDS if name in SETTLED
             else ARTICULATED_SEEDS if name in ARTICULATED else SEEDS)
    for seed in range(seeds):
        scene = build_scene(world, seed, config)
        assert scene.seed == seed
        assert scene.is_multiview == (name in MULTI_CAMERA)
        if scene.is_multiview:
            _check_cameras(name, scene)
        scenes.add(json.dumps([o.position for o in scene.objects]))
        tolerance = 1e-3 if name in SETTLED else 1e-4
        # a kinematic body (a clip, a scripted gait) is not simulated: its feet may dip into the floor
        mocap = {o.name for o in scene.objects if o.kind == "articulated" and o.motion == "kinematic"}
        # deformables take part as their rest shape's convex hull, as place_without_overlap sees them
        pairs = physics.overlapping_pairs(scene, tolerance, include_background=True, stand_ins=True)
        assert [pair for pair in pairs if not set(pair[:2]) & mocap] == [], (name, seed)
    assert len(scenes) == seeds  # every seed gives another scene
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # no global random state touched


def _check_cameras(name, scene):
    """Every camera sees the centre of the crowd, stays above the floor and, but for a moving one,
    stands still; multiview: cam0..cam3 at one distance 8-12 m, the last moving; stereo: a
    parallel pair 0.3 m apart."""
    for cam in scene.cameras:
        for pose in [cam.pose_at(f) for f in range(scene.num_frames)]:
            xy = geometry.project((0.0, 0.0, 0.0), pose.position, pose.quaternion, cam.focal_length,
                                  cam.sensor_width, scene.resolution)
            assert 0 <= xy[0] <= scene.resolution[0] and 0 <= xy[1] <= scene.resolution[1], (name, cam.name)
            assert pose.position[2] > 0.5, (name, cam.name)
    if name == "multiview":
        assert [c.name for c in scene.cameras] == ["cam0", "cam1", "cam2", "cam3"]
        assert [c.path is not None for c in scene.cameras] == [False, False, False, True]
        distances = [np.linalg.norm(c.position) for c in scene.cameras[:3]]
        assert np.allclose(distances, distances[0]) and 8.0 <= distances[0] <= 12.0
    else:
        left, right = scene.cameras
        assert (left.name, right.name) == ("left", "right") and left.quaternion == pytest.approx(right.quaternion)
        assert np.linalg.norm(np.subtract(left.position, right.position)) == pytest.approx(0.3)


@pytest.mark.parametrize("name", ["movi_b", "movi_e", "multiview"])
def test_same_seed_same_scene(name):
    world = load_world(name)
    config = resolve_config(world, {})
    assert build_scene(world, 3, config).to_json() == build_scene(world, 3, config).to_json()


def test_world_labels():
    d = build_scene(load_world("movi_d"), 1, resolve_config(load_world("movi_d"), {}))
    dynamic = [o.labels["is_dynamic"] for o in d.objects if not o.is_background]
    assert 1 <= sum(dynamic) <= 3 and 10 <= dynamic.count(False) <= 20
    resting = [o for o in d.objects if not o.is_background and not o.labels["is_dynamic"]]
    assert all(np.linalg.norm(o.velocity) < 1e-9 for o in resting)
    e = build_scene(load_world("movi_e"), 1, resolve_config(load_world("movi_e"), {}))
    path = np.array([p.position for p in e.camera.path])
    travelled = np.linalg.norm(path[-1] - path[0])
    assert 0 < travelled <= 4.0 + 1e-9 and (path[:, 2] > 0).all()
    f = build_scene(load_world("movi_f"), 1, resolve_config(load_world("movi_f"), {"motion_blur": 0.7}))
    assert f.motion_blur == 0.7
    pt = build_scene(load_world("point_tracking"), 1, resolve_config(load_world("point_tracking"), {}))
    assert pt.num_tracks == 2048
    b = build_scene(load_world("movi_b"), 1, resolve_config(load_world("movi_b"), {}))
    for o in b.objects:
        if not o.is_background:
            assert 0.7 <= o.scale[0] <= 1.4 and o.labels["material"] in ("metal", "rubber")
            assert 7 - 1e-9 <= np.linalg.norm(b.camera.position) <= 9 + 1e-9
