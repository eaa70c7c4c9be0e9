"""Articulated objects: URDF bodies whose links are parts, with exact per-link ground truth.

A two-link arm written here (boxes on revolute joints) is swept by a scripted trajectory; its
link poses, and the depth, flow and tracks on its links, are checked against the analytic
forward kinematics (tolerances stated per test). A Franka Panda from pybullet_data checks the
recorded joint positions against PyBullet's and the link poses against an independent URDF
reader's forward kinematics (yourdfpy).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import kubric_gen as kg
from kubric_gen import geometry
from kubric_gen.errors import SceneError
from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth

T = 5
LINK1_Z = 0.2  # joint 1 (about z) sits this high on the base; joint 2 (about y) 0.5 m along link 1's x
ARM_URDF = """<?xml version="1.0"?>
<robot name="two_link">
  <link name="base"><visual><geometry><box size="0.2 0.2 0.2"/></geometry>
    <material name="grey"><color rgba="0.5 0.5 0.5 1"/></material></visual>
    <inertial><mass value="1"/><inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="0.1"/></inertial></link>
  <link name="upper"><visual><origin xyz="0.25 0 0"/><geometry><box size="0.5 0.1 0.1"/></geometry></visual>
    <inertial><mass value="1"/><inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="0.1"/></inertial></link>
  <link name="fore"><visual><origin xyz="0.2 0 0"/><geometry><box size="0.4 0.08 0.08"/></geometry>
    <material name="red"><color rgba="0.8 0.1 0.1 1"/></material></visual>
    <inertial><mass value="1"/><inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="0.1"/></inertial></link>
  <joint name="shoulder" type="revolute"><parent link="base"/><child link="upper"/>
    <origin xyz="0 0 0.2"/><axis xyz="0 0 1"/><limit lower="-3" upper="3" effort="10" velocity="5"/></joint>
  <joint name="elbow" type="revolute"><parent link="upper"/><child link="fore"/>
    <origin xyz="0.5 0 0"/><axis xyz="0 1 0"/><limit lower="-2" upper="2" effort="10" velocity="5"/></joint>
</robot>
"""
SHOULDER = tuple(0.3 * f for f in range(T))  # rad per frame
ELBOW = tuple(-0.2 + 0.15 * f for f in range(T))


@pytest.fixture(scope="module")
def arm_urdf(tmp_path_factory):
    path = tmp_path_factory.mktemp("urdf") / "two_link.urdf"
    path.write_text(ARM_URDF)
    return str(path)


def _arm_scene(urdf: str, **arm) -> kg.Scene:
    scene = kg.Scene(resolution=(48, 40), num_frames=T, frame_rate=12, step_rate=240, seed=3)
    scene.camera = kg.PerspectiveCamera(position=(0.6, -1.6, 1.0), look_at=(0.3, 0.0, 0.25))
    scene += kg.ArticulatedObject(name="arm", path=urdf, position=(0.0, 0.0, 0.1), euler=(0.0, 0.0, 0.2),
                                  joint_keyframes={"shoulder": SHOULDER, "elbow": ELBOW}, **arm)
    scene += kg.SunLight(name="sun", position=(0, 0, 5), look_at=(0, 0, 0))
    return scene


def _analytic(frame: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each link's URDF frame at a (fractional) frame: base * T(0,0,0.2) Rz(q1) * T(0.5,0,0) Ry(q2)."""
    def value(series):
        lo = int(np.clip(math.floor(frame), 0, len(series) - 2))
        return series[lo] + (frame - lo) * (series[lo + 1] - series[lo])

    base_p, base_q = np.array([0.0, 0.0, 0.1]), geometry.quat_from_euler((0.0, 0.0, 0.2))
    q1 = geometry.quat_multiply(base_q, geometry.quat_from_axis_angle((0, 0, 1), value(SHOULDER)))
    p1 = base_p + geometry.rotate(base_q, (0.0, 0.0, LINK1_Z))
    q2 = geometry.quat_multiply(q1, geometry.quat_from_axis_angle((0, 1, 0), value(ELBOW)))
    p2 = p1 + geometry.rotate(q1, (0.5, 0.0, 0.0))
    return {"base": (base_p, base_q), "upper": (p1, q1), "fore": (p2, q2)}


def _same_rotation(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - abs(np.dot(geometry.quat_normalize(a), geometry.quat_normalize(b))))


@pytest.fixture(scope="module")
def swept(arm_urdf):
    scene = _arm_scene(arm_urdf)
    trajectory = physics.simulate(scene)
    return scene, trajectory, compute_ground_truth(scene, trajectory, num_tracks=60, threads=1)


def test_scripted_sweep_follows_the_analytic_link_poses(swept):
    """Every frame (and the frames before the first and after the last, which the boundary flow
    uses): each link's recorded URDF frame is the analytic one to 1e-6 m and 1e-12 in
    1 - |q.q'|; the joints' recorded positions are the script's exactly (1e-9)."""
    scene, trajectory, _ = swept
    states = trajectory.links["arm"]
    assert states.links == ["base", "upper", "fore"] and states.joints == ["shoulder", "elbow"]
    for frame in range(-1, T + 1):
        positions, quaternions = states.poses_at(frame)
        for k, name in enumerate(states.links):
            p, q = _analytic(frame)[name]
            assert np.abs(positions[k] - p).max() < 1e-6, (frame, name, positions[k], p)
            assert _same_rotation(quaternions[k], q) < 1e-12, (frame, name)
    np.testing.assert_allclose(states.joint_positions, [SHOULDER, ELBOW], atol=1e-9)
    np.testing.assert_allclose(states.joint_velocities[0], 0.3 * scene.frame_rate, rtol=1e-9)


def test_ground_truth_on_links_matches_the_analytic_kinematics(swept):
    """On the arm's pixels: the part layer names the link whose box the ray hits (checked by
    casting against the analytic boxes), depth is that box's ray distance (1e-5 relative), the
    forward and backward flow are the analytic motion of the surface point (1e-3 px), including
    the boundary frames; tracks on links follow the analytic poses in every frame (1e-3 px)."""
    scene, trajectory, truth = swept
    boxes = {"upper": ((0.0, -0.05, -0.05), (0.5, 0.05, 0.05)), "fore": ((0.0, -0.04, -0.04), (0.4, 0.04, 0.04)),
             "base": ((-0.1, -0.1, -0.1), (0.1, 0.1, 0.1))}
    links = ["base", "upper", "fore"]
    cam = scene.camera
    width, height = scene.resolution
    checked = 0
    for t in range(T):
        rows, cols = np.nonzero(truth.part_index[t] > 0)
        assert (truth.segmentation[t][truth.part_index[t] > 0] == 1).all()
        _, directions = geometry.image_rays(np.stack([cols + 0.5, rows + 0.5], -1), cam.position,
                                            cam.quaternion, cam.focal_length, cam.sensor_width, scene.resolution)
        origin = np.asarray(cam.position)
        poses = _analytic(t)
        best = np.full(len(rows), np.inf)
        which = np.zeros(len(rows), dtype=int)
        for k, name in enumerate(links):  # slab test in each link's frame
            p, q = poses[name]
            o = geometry.world_to_local(origin[None], p, q)[0]
            d = directions @ geometry.quat_to_matrix(q)
            lo, hi = np.array(boxes[name])
            with np.errstate(divide="ignore", invalid="ignore"):
                t0, t1 = (lo - o) / d, (hi - o) / d
            near, far = np.minimum(t0, t1).max(axis=1), np.maximum(t0, t1).min(axis=1)
            hit = (near <= far) & (far > 0) & (near < best)
            best[hit], which[hit] = near[hit], k + 1
        assert (which == truth.part_index[t][rows, cols]).mean() > 0.99  # pixel centres at an edge may differ
        same = which == truth.part_index[t][rows, cols]
        np.testing.assert_allclose(truth.depth[t][rows, cols][same], best[same], rtol=1e-5)
        points = origin + directions * best[:, None]
        for name, step in (("forward_flow", 1), ("backward_flow", -1)):
            other = _analytic(t + step)
            moved = np.zeros_like(points)
            for k, link in enumerate(links):
                sel = same & (which == k + 1)
                local = geometry.world_to_local(points[sel], *poses[link])
                moved[sel] = geometry.transform_points(local, *other[link])
            xy = geometry.project(moved[same], *(c for c in (cam.position, cam.quaternion)), cam.focal_length,
                                  cam.sensor_width, scene.resolution)
            motion = np.stack([xy[:, 1] - (rows[same] + 0.5), xy[:, 0] - (cols[same] + 0.5)], -1)
            expected = motion if step == 1 else -motion
            np.testing.assert_allclose(truth.__dict__[name][t][rows[same], cols[same]], expected, atol=1e-3)
            checked += int(same.sum())
    assert checked > 200
    # tracks that start on a link: the query's surface point moved by the analytic link poses
    tracks = truth.tracks
    on_links = 0
    for n, (t, r, c) in enumerate(tracks.query_points):
        t, r, c = int(t), int(r), int(c)
        link = int(truth.part_index[t, r, c])
        if link == 0:
            continue
        _, direction = geometry.image_rays(np.array([[c + 0.5, r + 0.5]]), cam.position, cam.quaternion,
                                           cam.focal_length, cam.sensor_width, scene.resolution)
        point = np.asarray(cam.position) + direction[0] * float(truth.depth[t, r, c])
        local = geometry.world_to_local(point[None], *_analytic(t)[links[link - 1]])
        for f in range(T):
            xy = geometry.project(geometry.transform_points(local, *_analytic(f)[links[link - 1]]), cam.position,
                                  cam.quaternion, cam.focal_length, cam.sensor_width, scene.resolution)[0]
            np.testing.assert_allclose(tracks.target_points[n, f], xy, atol=1e-3 + 2e-5 * float(truth.depth[t, r, c]))
        on_links += 1
    assert on_links >= 5
    assert width * height == truth.part_index[0].size


def test_panda_joints_are_pybullets_and_forward_kinematics_gives_the_link_poses():
    """A Franka Panda driven to targets by its motors (physics): the recorded joint positions are
    PyBullet's joint states; yourdfpy's forward kinematics of those positions (an independent
    URDF reader) gives every recorded link frame to 1e-6 m (PyBullet reports link frames in float32)."""
    yourdfpy = pytest.importorskip("yourdfpy")
    from kubric_gen.assets.pybullet_data import data_path

    path = str(data_path() / "franka_panda" / "panda.urdf")
    scene = kg.Scene(resolution=(16, 16), num_frames=4, frame_rate=12, step_rate=240)
    scene += kg.ArticulatedObject(name="panda", path=path, position=(0.2, -0.1, 0.0), euler=(0, 0, 0.7),
                                  joint_targets={"panda_joint2": (0.0, 0.2, 0.4, 0.6),
                                                 "panda_joint4": (-1.0, -1.2, -1.4, -1.6)})
    trajectory = physics.simulate(scene)
    states = trajectory.links["panda"]
    assert np.abs(states.joint_positions[1, -1] - 0.6) < 0.2  # the motor got near its target
    urdf = yourdfpy.URDF.load(path, load_meshes=False, build_scene_graph=True)
    for f in range(scene.num_frames):
        urdf.update_cfg({name: float(v) for name, v in zip(states.joints, states.joint_positions[:, f], strict=True)
                         if name in urdf.actuated_joint_names})
        base = np.eye(4)
        base[:3, :3] = geometry.quat_to_matrix(trajectory.quaternions[0, f])
        base[:3, 3] = trajectory.positions[0, f]
        for k, link in enumerate(states.links):
            expected = base @ urdf.get_transform(link, urdf.base_link)
            assert np.abs(states.positions[k, f] - expected[:3, 3]).max() < 1e-6, (f, link)
            assert np.abs(geometry.quat_to_matrix(states.quaternions[k, f]) - expected[:3, :3]).max() < 1e-6


@pytest.mark.parametrize("change,field", [
    ({"joint_positions": {"wrist": 0.1}}, "joint_positions"),
    ({"joint_positions": {"elbow": 2.5}}, "joint_positions['elbow']"),
    ({"joint_keyframes": {"elbow": (0.0, 9.0)}}, "joint_keyframes['elbow'][1]"),
    ({"joint_keyframes": {"elbow": (0.0, "x")}}, "joint_keyframes['elbow'][1]"),
    ({"joint_keyframes": {"elbow": (0.0, 0.1)}, "joint_targets": {"elbow": (0.0, 0.1)}}, "joint_targets"),
    ({"scale": (1.0, 2.0, 1.0)}, "scale"),
    ({"max_force": -1.0}, "max_force"),
])
def test_bad_joints_are_scene_errors_naming_the_field(arm_urdf, change, field):
    with pytest.raises(SceneError) as info:
        kg.ArticulatedObject(name="arm", path=arm_urdf, **change)
    assert f"ArticulatedObject('arm').{field}" in str(info.value)


@pytest.mark.parametrize("text,fragment", [
    ("<robot><link name='a'/>", "not a readable URDF"),
    ("<robt/>", "root element must be <robot>"),
    (ARM_URDF.replace('<box size="0.5 0.1 0.1"/>', '<mesh filename="package://meshes/none.obj"/>'),
     "mesh file not found"),
    (ARM_URDF.replace('<parent link="upper"/>', '<parent link="elsewhere"/>'), "names no link"),
    (ARM_URDF.replace('lower="-2" upper="2"', 'lower="2" upper="-2"'), "lower is above upper"),
])
def test_bad_urdfs_name_the_file_and_element(tmp_path, text, fragment):
    path = tmp_path / "bad.urdf"
    path.write_text(text)
    with pytest.raises(SceneError) as info:
        kg.ArticulatedObject(name="arm", path=str(path))
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_series_need_one_value_per_frame(arm_urdf):
    scene = _arm_scene(arm_urdf)
    with pytest.raises(SceneError, match=r"arm\.joint_keyframes|needs one pose per frame"):
        scene.update("arm", joint_keyframes={"shoulder": (0.0, 0.1)})


def test_renders_the_links_where_the_ground_truth_puts_them(swept):
    """Cycles' object-index pass of the arm's parts equals the ground truth's object index (but
    for pixels at the silhouette, where a pixel's area straddles an edge: at most 2 %)."""
    from kubric_gen.render import render_passes

    scene, trajectory, truth = swept
    passes = render_passes(scene, trajectory, frames=[0, T - 1])
    for i, t in enumerate((0, T - 1)):
        agree = passes["object_index"][i] == truth.object_index[t]
        assert agree.mean() > 0.98, agree.mean()


@pytest.fixture(scope="module")
def robot_scene(tmp_path_factory):
    """The robot_arm world's scene 0, tiny (32x32, 3 frames): a Panda among CLEVR shapes."""
    from conftest import tiny_world_scene

    return tiny_world_scene(tmp_path_factory.mktemp("robot"), "robot_arm", num_tracks=16)


def test_scene_directory_holds_the_links_and_validate_checks_them(robot_scene, tmp_path):
    """parts.npz and the instance's links and joints in metadata.json; validate passes, and fails on
    a part id beyond the robot's links and on a joint position outside its limits."""
    import json
    import shutil

    from kubric_gen.io import SceneDir
    from kubric_gen.io.layers import save_npz
    from kubric_gen.io.validate import check_scene

    sd = SceneDir(robot_scene)
    robot = next(inst for inst in sd.metadata["instances"] if inst["name"] == "robot")
    k = sd.metadata["instances"].index(robot)
    assert robot["links"][0] == "panda_link0" and len(robot["joint_names"]) == 9
    part_index = sd.part_index()
    seen = part_index > 0
    assert seen.any() and (sd.layer("segmentation")[seen] == k + 1).all()
    assert part_index.max() <= len(robot["links"])
    height, width = part_index.shape[1:]
    for link in range(len(robot["links"])):  # each link's 2D boxes are its part-layer pixels'
        mask = (part_index == link + 1) & (sd.layer("segmentation") == k + 1)
        frames = [f for f in range(sd.num_frames) if mask[f].any()]
        assert robot["link_bbox_frames"][link] == frames
        for f, box in zip(frames, robot["link_bboxes"][link], strict=True):
            rows, cols = np.nonzero(mask[f])
            np.testing.assert_allclose(box, [rows.min() / height, cols.min() / width, (rows.max() + 1) / height,
                                             (cols.max() + 1) / width], atol=1e-7)
    assert not [p for p in check_scene(SceneDir(robot_scene)) if p.severity == "error"]

    broken = tmp_path / "broken"
    shutil.copytree(robot_scene, broken)
    bad = part_index.copy()
    bad[sd.layer("segmentation") == 0] = 1  # a link id on the background
    save_npz(broken / "parts.npz", {"part_index": bad})
    meta = json.loads((broken / "metadata.json").read_text())
    meta["instances"][k]["joint_positions"][1][0] = 5.0  # panda_joint2's limit is 1.76
    (broken / "metadata.json").write_text(json.dumps(meta))
    messages = [p.message for p in check_scene(SceneDir(broken)) if p.check == "parts"]
    assert any("names link 1 of segmentation id 0" in m for m in messages), messages
    assert any("joint 'panda_joint2' is at 5" in m for m in messages), messages


def test_viewer_shows_the_parts_and_the_joint_table(robot_scene, tmp_path, capsys):
    """`kubric-gen view` writes the part layer's frames, and in Chromium the page's joint table lists
    the robot's joints with their positions at the frame shown."""
    from test_view import _shared_browser

    from kubric_gen.cli import main
    from kubric_gen.io import SceneDir

    assert main(["view", str(robot_scene), "--output", str(tmp_path / "page")]) == 0
    assert (tmp_path / "page" / "frames" / "parts_00002.png").exists()
    browser = _shared_browser()
    browser.open(tmp_path / "page" / "index.html", "frame=2")
    text = browser.js("document.getElementById('joints').innerText")
    robot = next(inst for inst in SceneDir(robot_scene).metadata["instances"] if inst["name"] == "robot")
    assert "panda_joint1" in text and f"{robot['joint_positions'][0][2]:.4f}" in text, text


def test_humanoid_links_follow_the_clip():
    """The humanoid world's scene (a motion-capture clip): the base follows the clip's root pose,
    the ball joints hold the clip's rotations (1e-9 in 1 - |q.q'|) and the knees and elbows its
    angles (1e-9) at every frame, and every link's frame is the forward kinematics of those values
    through the URDF's joint origins (computed here, not by PyBullet) to 1e-5 m and 1e-9."""
    from kubric_gen.world import build_scene, load_world, resolve_config

    world = load_world("humanoid")
    scene = build_scene(world, 1, resolve_config(world, {"clip": "walk", "num_frames": 6, "resolution": [16, 16]}))
    body = scene.object("humanoid")
    trajectory = physics.simulate(scene)
    states = trajectory.links["humanoid"]
    robot = body.robot
    scale = body.scale[0]
    i = trajectory.index("humanoid")
    for f in range(scene.num_frames):
        assert np.abs(trajectory.positions[i, f] - body.keyframes[f].position).max() < 1e-6
        assert _same_rotation(trajectory.quaternions[i, f], np.array(body.keyframes[f].quaternion)) < 1e-12
        for b, name in enumerate(states.balls):
            assert _same_rotation(states.joint_rotations[b, f], np.array(body.joint_rotations[name][f])) < 1e-9
        for j, name in enumerate(states.joints):
            assert abs(states.joint_positions[j, f] - body.joint_keyframes[name][f]) < 1e-9
        frames = {robot.base: (trajectory.positions[i, f], trajectory.quaternions[i, f])}
        for joint in robot.joints:  # URDF order: parents before children
            p, q = frames[joint.parent]
            q_origin = geometry.quat_from_euler(joint.rpy)
            if joint.type == "spherical":
                q_joint = np.array(body.joint_rotations[joint.name][f])
            elif joint.type == "revolute":
                q_joint = geometry.quat_from_axis_angle(joint.axis, body.joint_keyframes[joint.name][f])
            else:
                q_joint = np.array([1.0, 0.0, 0.0, 0.0])
            frames[joint.child] = (p + geometry.rotate(q, np.array(joint.xyz) * scale),
                                   geometry.quat_multiply(q, geometry.quat_multiply(q_origin, q_joint)))
        for k, link in enumerate(states.links):
            assert np.abs(states.positions[k, f] - frames[link][0]).max() < 1e-5, (f, link)
            assert _same_rotation(states.quaternions[k, f], frames[link][1]) < 1e-9, (f, link)
