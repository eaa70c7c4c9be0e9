"""Scene description: validation errors and exact JSON round trips."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kubric_gen as kg
from kubric_gen.errors import SceneError
from kubric_gen.labels import RESERVED_INSTANCE_KEYS

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0.0, max_value=1.0)
positive = st.floats(min_value=1e-3, max_value=1e3)
vec3 = st.tuples(finite, finite, finite)
speed = st.floats(min_value=-57.0, max_value=57.0)  # |v| <= 100 (the engine's limit) for 3 components
velocity3 = st.tuples(speed, speed, speed)
color = st.tuples(unit, unit, unit)
quat = st.tuples(finite, finite, finite, finite).filter(lambda q: sum(v * v for v in q) > 1e-6)
pose = st.builds(kg.Pose, position=vec3, quaternion=quat)
materials = st.one_of(
    st.builds(kg.Principled, color=color, metallic=unit, roughness=unit, ior=st.floats(1.0, 3.0),
              transmission=unit, emission=color, emission_strength=positive),
    st.builds(kg.Flat, color=color, strength=positive))
json_scalars = st.one_of(st.integers(-1000, 1000), finite, st.text(max_size=8), st.booleans(), st.none())
labels = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in RESERVED_INSTANCE_KEYS),
                         json_scalars, max_size=3)  # the keys metadata.json fills itself are refused (tested apart)


@st.composite
def scenes(draw):
    num_frames = draw(st.integers(1, 5))
    frame_rate = draw(st.integers(1, 30))
    objects = []
    for i in range(draw(st.integers(0, 4))):
        cls = draw(st.sampled_from([kg.Cube, kg.Sphere, kg.Cylinder]))
        motion = draw(st.sampled_from(["dynamic", "static", "kinematic"]))
        objects.append(cls(
            name=f"o{i}", position=draw(vec3), quaternion=draw(quat),
            scale=draw(st.tuples(positive, positive, positive)), material=draw(materials),
            mass=draw(st.one_of(st.none(), positive)), density=draw(positive), friction=draw(unit),
            restitution=draw(unit), velocity=draw(velocity3), angular_velocity=draw(velocity3), motion=motion,
            keyframes=tuple(draw(pose) for _ in range(num_frames)) if motion == "kinematic" else None,
            is_background=draw(st.booleans()), labels=draw(labels)))
    lights = [draw(st.sampled_from([
        kg.SunLight(name="l0", direction=(0.1, 0.2, -1), strength=2.0),
        kg.PointLight(name="l0", position=(1, 2, 3), power=100.0),
        kg.AreaLight(name="l0", position=(1, 2, 3), look_at=(0, 0, 0), size=2.0),
        kg.SpotLight(name="l0", position=(1, 2, 3), look_at=(0, 0, 1), spot_size=0.5)]))]
    path = tuple(draw(pose) for _ in range(num_frames)) if draw(st.booleans()) else None
    return kg.Scene(
        resolution=(draw(st.integers(1, 4096)), draw(st.integers(1, 4096))), num_frames=num_frames,
        frame_rate=frame_rate, step_rate=frame_rate * draw(st.integers(1, 20)), gravity=draw(vec3),
        background=draw(st.one_of(st.builds(kg.ColorBackground, color=color, strength=positive),
                                  st.builds(kg.SkyBackground, sun_elevation=st.floats(-1.5, 1.5),
                                            sun_rotation=finite, strength=positive))),
        camera=kg.PerspectiveCamera(focal_length=draw(positive), sensor_width=draw(positive),
                                    position=draw(vec3), quaternion=draw(quat), path=path),
        lights=lights, objects=objects, seed=draw(st.one_of(st.none(), st.integers(0, 2**63))),
        metadata={"labels": draw(labels)})


@settings(max_examples=150, deadline=None)
@given(scenes())
def test_json_round_trip_is_exact(scene):
    text = scene.to_json()
    back = kg.Scene.from_json(text)
    assert back == scene
    assert back.to_json() == text


def test_mesh_object_round_trip(tmp_path):
    import trimesh

    path = tmp_path / "box.obj"
    trimesh.creation.box().export(path)
    scene = kg.Scene(objects=[kg.MeshObject(name="m", path=str(path), collision="vhacd", scale=0.5)])
    assert kg.Scene.from_json(scene.to_json()) == scene


@pytest.mark.parametrize("make, field, value", [
    (lambda: kg.Cube(name="a", mass=-1.0), "mass", "-1.0"),
    (lambda: kg.Cube(name="a", friction=1.5), "friction", "1.5"),
    (lambda: kg.Cube(name="a", friction=-0.1), "friction", "-0.1"),
    (lambda: kg.Sphere(name="a", restitution=2.0), "restitution", "2.0"),
    (lambda: kg.Cube(name="a", position=(0, math.nan, 0)), "position", "nan"),
    (lambda: kg.Cube(name="a", velocity=(math.inf, 0, 0)), "velocity", "inf"),
    (lambda: kg.Cube(name="a", scale=(1, 0, 1)), "scale", "(1, 0, 1)"),
    (lambda: kg.Cube(name="a", quaternion=(0, 0, 0, 0)), "quaternion", "(0, 0, 0, 0)"),
    (lambda: kg.PerspectiveCamera(focal_length=0), "focal_length", "0"),
    (lambda: kg.PerspectiveCamera(position=(0, 0, math.nan)), "position", "nan"),
    (lambda: kg.SunLight(strength=math.inf), "strength", "inf"),
    (lambda: kg.Principled(color=(2, 0, 0)), "color", "(2, 0, 0)"),
    (lambda: kg.Scene(resolution=(0, 64)), "resolution", "(0, 64)"),
    (lambda: kg.Scene(resolution=(64, -1)), "resolution", "(64, -1)"),
    (lambda: kg.Scene(num_frames=0), "num_frames", "0"),
    (lambda: kg.Scene(frame_rate=24, step_rate=250), "step_rate", "250"),
    (lambda: kg.Scene(gravity=(0, 0, math.nan)), "gravity", "nan"),
    (lambda: kg.MeshObject(name="m", path="/no/such/mesh.obj"), "path", "/no/such/mesh.obj"),
    (lambda: kg.Scene(objects=[kg.Cube(name="a"), kg.Sphere(name="a")]), "name", "'a'"),
    (lambda: kg.Scene(objects=[kg.Cube(name="a")], lights=[kg.SunLight(name="a")]), "name", "'a'"),
    (lambda: kg.Cube(name="a", motion="flying"), "motion", "flying"),
    (lambda: kg.Cube(name="a", motion="kinematic"), "keyframes", "None"),
    (lambda: kg.Scene(num_frames=3, objects=[kg.Cube(name="k", motion="kinematic", keyframes=[kg.Pose()] * 2)]),
     "keyframes", "2"),
])
def test_validation_errors_name_field_and_value(make, field, value):
    with pytest.raises(SceneError) as info:
        make()
    message = str(info.value)
    assert field in info.value.field and value in message, message
    assert "\n" not in message


def test_add_rejects_duplicates_and_leaves_scene_unchanged():
    scene = kg.Scene()
    scene.add(kg.Cube(name="a"))
    with pytest.raises(SceneError, match="duplicate name"):
        scene.add(kg.Sphere(name="a"))
    assert [o.name for o in scene.objects] == ["a"]


def test_from_json_rejects_unknown_fields_and_types():
    with pytest.raises(SceneError, match="unknown field"):
        kg.Scene.from_dict({"resolutoin": [1, 1]})
    with pytest.raises(SceneError, match="must be one of"):
        kg.Scene.from_dict({"objects": [{"type": "teapot", "name": "t"}]})
    with pytest.raises(SceneError, match="not valid JSON"):
        kg.Scene.from_json("{")


def test_orientation_helpers():
    cam = kg.PerspectiveCamera(position=(0, -5, 0), look_at=(0, 0, 0))
    # looking along +Y: camera -Z maps to world +Y, camera +Y to world +Z
    from kubric_gen import geometry

    r = geometry.quat_to_matrix(cam.quaternion)
    assert r[:, 2] == pytest.approx([0, -1, 0], abs=1e-12)
    assert r[:, 1] == pytest.approx([0, 0, 1], abs=1e-12)
    cube = kg.Cube(name="c", euler=(0, 0, math.pi / 2))
    assert geometry.rotate(cube.quaternion, (1, 0, 0)) == pytest.approx([0, 1, 0], abs=1e-12)
    with pytest.raises(SceneError, match="give only one"):
        kg.Cube(name="c", euler=(0, 0, 1), look_at=(1, 0, 0))


# ---------------------------------------------------------------- changing a scene: update and +=
def test_update_swaps_in_a_validated_copy_and_returns_it():
    scene = kg.Scene()
    scene += kg.Cube(name="a", friction=0.2)
    old = scene.object("a")
    new = scene.update("a", velocity=(1, 0, 0), friction=0.9)
    assert new is scene.object("a") and new.velocity == (1.0, 0.0, 0.0) and new.friction == 0.9
    assert (old.velocity, old.friction) == ((0.0, 0.0, 0.0), 0.2)  # the old object is untouched
    turned = scene.update("a", position=(0, -5, 0), look_at=(0, 0, 0))  # orientation helpers work too
    assert turned.quaternion == kg.Cube(name="a", position=(0, -5, 0), look_at=(0, 0, 0)).quaternion
    scene += kg.SunLight(name="sun")
    assert scene.update("sun", strength=1.5).strength == 1.5 and scene.lights[0].strength == 1.5


@pytest.mark.parametrize("changes, field, message", [
    ({"colour": (1, 0, 0)}, "Cube('a').colour", "unknown field (known: name, position,"),
    ({"friction": 2.0}, "Cube('a').friction", "must be in [0, 1] (got 2.0)"),
    ({"velocity": (0, math.nan, 0)}, "Cube('a').velocity", "must be finite"),
    ({"name": "b"}, "Cube('a').name", "update keeps the name"),
    ({"motion": "kinematic", "keyframes": [kg.Pose()] * 2}, "Scene.a.keyframes", "one pose per frame (3)"),
])
def test_update_errors_name_the_field_and_leave_the_scene_unchanged(changes, field, message):
    scene = kg.Scene(num_frames=3, objects=[kg.Cube(name="a")])
    before = scene.to_json()
    with pytest.raises(SceneError, match=f"^{re.escape(field)}: .*{re.escape(message)}") as info:
        scene.update("a", **changes)
    assert info.value.field == field
    assert scene.to_json() == before


def test_update_keeps_names_and_needs_a_known_one():
    scene = kg.Scene(objects=[kg.Cube(name="a")])
    assert scene.update("a", name="a").name == "a"  # naming the same name is no change
    with pytest.raises(SceneError, match="no object or light of that name"):
        scene.update("b", friction=0.1)


def test_plus_equals_adds_like_add():
    scene = kg.Scene()
    scene += kg.Cube(name="a")
    scene += [kg.Sphere(name="b"), kg.SunLight(name="sun")]
    scene += (kg.Cylinder(name="c"),)
    assert [o.name for o in scene.objects] == ["a", "b", "c"] and [x.name for x in scene.lights] == ["sun"]
    with pytest.raises(SceneError, match="duplicate name"):
        scene += kg.Sphere(name="a")
    with pytest.raises(SceneError, match="expected a scene object or a light"):
        scene += "a cube"
    assert [o.name for o in scene.objects] == ["a", "b", "c"]
    scene.replace_object(kg.Cube(name="a", friction=0.1))  # the long form still works
    assert scene.object("a").friction == 0.1


# ---------------------------------------------------------------- moving cameras: Pose(look_at), orbit, waypoints
def _looks_at(pose, target) -> float:
    """The angle (radians) between the pose's viewing direction (-Z) and the direction to `target`."""
    from kubric_gen import geometry

    forward = -geometry.quat_to_matrix(pose.quaternion)[:, 2]
    to_target = np.asarray(target, float) - np.asarray(pose.position)
    return float(np.arctan2(np.linalg.norm(np.cross(forward, to_target)), forward @ to_target))


def test_pose_look_at_faces_the_target_with_up_above():
    from kubric_gen import geometry

    pose = kg.Pose(position=(3.0, -4.0, 2.0), look_at=(0.0, 0.0, 0.5))
    assert _looks_at(pose, (0.0, 0.0, 0.5)) < 1e-9
    up = geometry.quat_to_matrix(pose.quaternion)[:, 1]
    assert up[2] > 0  # the image's up is world-up side
    # the target projects to the image centre of any camera with this pose
    uv = geometry.project(np.array([[0.0, 0.0, 0.5]]), pose.position, pose.quaternion, 35.0, 32.0, (64, 48))
    assert uv[0, :2] == pytest.approx([32.0, 24.0], abs=1e-9)
    with pytest.raises(SceneError, match="Pose.look_at"):
        kg.Pose(position=(1, 1, 1), look_at=(1, 1, 1))
    with pytest.raises(SceneError, match="give only one"):
        kg.Pose(position=(1, 1, 1), quaternion=(0, 1, 0, 0), look_at=(0, 0, 0))


def test_orbit_is_a_circle_at_constant_speed_looking_at_its_centre():
    centre = (1.0, -2.0, 0.5)
    poses = kg.orbit(13, around=centre, radius=4.0, height=3.0, degrees=180.0)
    positions = np.array([p.position for p in poses])
    offsets = positions - np.asarray(centre)
    assert np.hypot(offsets[:, 0], offsets[:, 1]) == pytest.approx(np.full(13, 4.0), abs=1e-12)
    assert offsets[:, 2] == pytest.approx(np.full(13, 3.0), abs=1e-12)
    azimuth = np.unwrap(np.arctan2(offsets[:, 1], offsets[:, 0]))
    assert np.diff(azimuth) == pytest.approx(np.full(12, np.pi / 12), abs=1e-12)  # 180 degrees in 12 equal steps
    assert azimuth[0] == pytest.approx(0.0, abs=1e-12)
    assert max(_looks_at(p, centre) for p in poses) < 1e-9


def test_orbit_start_comes_from_the_rng_only():
    a = kg.orbit(4, rng=np.random.default_rng(5))
    b = kg.orbit(4, rng=np.random.default_rng(5))
    c = kg.orbit(4, rng=np.random.default_rng(6))
    assert a == b and a != c
    with pytest.raises(SceneError, match="orbit.radius"):
        kg.orbit(4, radius=0)
    with pytest.raises(SceneError, match="orbit.num_frames"):
        kg.orbit(0)


@pytest.mark.parametrize("smooth", [True, False])
def test_through_waypoints_passes_every_waypoint_at_constant_speed(smooth):
    waypoints = [(0.0, -6.0, 2.0), (4.0, -4.0, 3.0), (6.0, 0.0, 2.0)]
    poses = kg.through_waypoints(waypoints, 25, look_at=(0.0, 0.0, 0.0), smooth=smooth)
    positions = np.array([p.position for p in poses])
    assert positions[0] == pytest.approx(waypoints[0], abs=1e-12)
    assert positions[-1] == pytest.approx(waypoints[-1], abs=1e-9)
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    assert steps.max() / steps.min() < 1.02  # equal arc length per frame (chords of a curved path: 2 %)
    assert max(_looks_at(p, (0, 0, 0)) for p in poses) < 1e-9
    if not smooth:  # straight segments: the middle waypoint is on the path, every point on one of the two lines
        gaps = [min(np.linalg.norm(np.cross(p - np.array(a), np.array(b) - np.array(a)))
                    / np.linalg.norm(np.array(b) - np.array(a)) for a, b in zip(waypoints, waypoints[1:], strict=False))
                for p in positions]
        assert max(gaps) < 1e-9


def test_through_waypoints_without_a_target_looks_along_the_path():
    poses = kg.through_waypoints([(0, 0, 1), (10, 0, 1)], 5, smooth=False)
    from kubric_gen import geometry

    for pose in poses:
        assert -geometry.quat_to_matrix(pose.quaternion)[:, 2] == pytest.approx([1, 0, 0], abs=1e-9)
    with pytest.raises(SceneError, match=r"waypoints\[1\]"):
        kg.through_waypoints([(0, 0, 1), (0, 0, 1)], 5)
    with pytest.raises(SceneError, match="at least 2"):
        kg.through_waypoints([(0, 0, 1)], 5)


def test_a_camera_on_a_path_starts_at_its_first_pose_and_round_trips():
    path = kg.orbit(3, radius=5.0, height=2.0)
    cam = kg.PerspectiveCamera(path=path)
    assert (cam.position, cam.quaternion) == (path[0].position, path[0].quaternion)
    scene = kg.Scene(resolution=(16, 16), num_frames=3)
    scene.camera = cam
    assert kg.Scene.from_json(scene.to_json()).camera == cam


def test_handheld_shake_is_seeded_smooth_and_bounded():
    """Each of the six offsets (camera axes) peaks at exactly its bound; the same rng state gives the
    same path; the shake is smooth (a frame-to-frame step of at most 2*pi*1.5*f/fps of the bound, the
    fastest sinusoid's slope, times the 3 summed); zero bounds give the path back; bad values are
    one-line SceneErrors; a scene with the shaken path round-trips through JSON."""
    from kubric_gen import geometry
    from kubric_gen.errors import SceneError

    base = kg.orbit(48, radius=8.0, height=3.0, degrees=90.0)
    shaken = kg.handheld(base, np.random.default_rng(7), 24, shift=0.02, angle=1.0, frequency=2.0)
    assert shaken == kg.handheld(base, np.random.default_rng(7), 24, shift=0.02, angle=1.0, frequency=2.0)
    assert shaken != kg.handheld(base, np.random.default_rng(8), 24, shift=0.02, angle=1.0, frequency=2.0)
    offsets, turns = [], []
    for a, b in zip(base, shaken, strict=True):
        offsets.append(geometry.world_to_local(np.asarray(b.position)[None], a.position, a.quaternion)[0])
        r = geometry.quat_to_matrix(geometry.quat_multiply(np.asarray(a.quaternion) * [1, -1, -1, -1], b.quaternion))
        turns.append([np.arctan2(r[2, 1], r[2, 2]), -np.arcsin(r[2, 0]), np.arctan2(r[1, 0], r[0, 0])])  # Rz Ry Rx
    offsets, turns = np.array(offsets), np.degrees(np.array(turns))
    np.testing.assert_allclose(np.abs(offsets).max(axis=0), 0.02, rtol=1e-9)
    np.testing.assert_allclose(np.abs(turns).max(axis=0), 1.0, rtol=1e-9)
    step = 3 * 2 * np.pi * 1.5 * 2.0 / 24
    assert (np.abs(np.diff(offsets, axis=0)) <= step * 0.02 + 1e-12).all()
    still = kg.handheld(base, np.random.default_rng(7), 24, shift=0.0, angle=0.0)
    for a, b in zip(base, still, strict=True):
        np.testing.assert_allclose(b.position, a.position, atol=1e-12)
        np.testing.assert_allclose(b.quaternion, a.quaternion, atol=1e-12)
    for bad, field in (({"shift": -1.0}, "shift"), ({"frequency": 0.0}, "frequency"),
                       ({"frame_rate": 0}, "frame_rate")):
        args = {"frame_rate": 24, **bad}
        with pytest.raises(SceneError, match=f"handheld.{field}"):
            kg.handheld(base, np.random.default_rng(0), **args)
    with pytest.raises(SceneError, match="handheld.path"):
        kg.handheld([], np.random.default_rng(0), 24)
    scene = kg.Scene(num_frames=48, camera=kg.PerspectiveCamera(path=shaken))
    assert kg.Scene.from_json(scene.to_json()).camera.path == scene.camera.path


@pytest.mark.parametrize("key", sorted(RESERVED_INSTANCE_KEYS))
def test_a_label_may_not_take_a_field_metadata_json_fills_itself(key):
    with pytest.raises(SceneError, match=rf"Cube\('c'\)\.labels: is a per-instance field .* \(got '{key}'\)"):
        kg.Cube(name="c", labels={key: 1})
