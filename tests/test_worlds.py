"""Every built-in world: valid scenes for 12 seeds (6 for settled crowds), no interpenetration
at frame 0 (the dome floor included: settled crowds are lifted out of it). That every world
renders, validates, packages and loads is tests/test_matrix.py's part."""

import json

import numpy as np
import pytest

from kubric_gen.simulation import physics
from kubric_gen.world import build_scene, builtin_world_names, load_world, resolve_config

WORLDS = ["helloworld", "movi_a", "movi_b", "movi_c", "movi_d", "movi_e", "movi_f", "point_tracking"]
SETTLED = {"movi_d", "movi_e", "movi_f", "point_tracking"}  # a settled crowd rests in contact
SEEDS = 12
SETTLED_SEEDS = 6  # settling a crowd costs about 1.5 s a scene on 2 cores


def test_all_worlds_are_listed():
    assert set(WORLDS) <= set(builtin_world_names())


@pytest.mark.parametrize("name", WORLDS)
def test_world_builds_valid_scenes_without_overlap(name):
    world = load_world(name)
    config = resolve_config(world, {})
    state = np.random.get_state()[1].copy()
    scenes = set()
    seeds = SETTLED_SEEDS if name in SETTLED else SEEDS
    for seed in range(seeds):
        scene = build_scene(world, seed, config)
        assert scene.seed == seed
        scenes.add(json.dumps([o.position for o in scene.objects]))
        tolerance = 1e-3 if name in SETTLED else 1e-4
        assert physics.overlapping_pairs(scene, tolerance, include_background=True) == [], (name, seed)
    assert len(scenes) == seeds  # every seed gives another scene
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # no global random state touched


@pytest.mark.parametrize("name", ["movi_b", "movi_e"])
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
