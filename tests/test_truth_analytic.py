"""Ground truth against independent analytic computations, with stated tolerances.

Everything the expectations need is computed here from first principles, never with
`kubric_gen.geometry` or the truth module: a quaternion-to-matrix formula, a pinhole camera
built from the focal length and sensor width (Blender's model: the camera looks down its
local -Z with +Y up, the sensor width spans the image width, pixel centres at +0.5) and a
ray/oriented-box slab test. Scenes are built of boxes (`kg.Cube`: [-1, 1]^3 scaled, so
`scale` is the half-extent) whose poses are closed-form functions of the frame, so the
first hit of every pixel, where a surface point moves and whether anything hides it are
known exactly, at any frame, including the frames -1 and T just outside the clip.
"""

import json

import numpy as np
import pytest
import tifffile
from conftest import REFERENCE
from kubric_png import kubric_read_png

import kubric_gen as kg
from kubric_gen.io import SceneDir
from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth

# ------------------------------------------------------------------ first principles


def _rot(q):
    """Rotation matrix of a quaternion (w, x, y, z), written out here (not geometry's)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([[w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z]])


def _quat(axis, angle):
    """Quaternion (w, x, y, z) of a rotation by `angle` about `axis`."""
    a = np.asarray(axis, dtype=np.float64)
    return np.r_[np.cos(angle / 2), np.sin(angle / 2) * a / np.linalg.norm(a)]


def _qmul(a, b):
    """Hamilton product a*b."""
    (aw, av), (bw, bv) = (a[0], np.asarray(a[1:])), (b[0], np.asarray(b[1:]))
    return np.r_[aw * bw - av @ bv, aw * bv + bw * av + np.cross(av, bv)]


class _Pinhole:
    """Blender's pinhole: camera-to-world rotation R (camera looks down -Z, +Y up), focal
    length in pixels f = focal_mm / sensor_mm * width, principal point at the image centre."""

    def __init__(self, position, quaternion, focal_mm, sensor_mm, width, height):
        self.c = np.asarray(position, dtype=np.float64)
        self.r = _rot(quaternion)
        self.f = focal_mm / sensor_mm * width
        self.w, self.h = width, height

    def rays(self):
        """Unit world directions (H, W, 3) through the pixel centres."""
        cols, rows = np.meshgrid(np.arange(self.w) + 0.5, np.arange(self.h) + 0.5)
        d = np.stack([(cols - self.w / 2) / self.f, -(rows - self.h / 2) / self.f, -np.ones_like(cols)], -1) @ self.r.T
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def project(self, points):
        """Image (x, y) in pixels of world points (..., 3) (all in front of the camera here)."""
        p = (np.asarray(points) - self.c) @ self.r  # camera frame
        z = -p[..., 2]
        assert (z > 0).all()
        return np.stack([self.w / 2 + self.f * p[..., 0] / z, self.h / 2 - self.f * p[..., 1] / z], -1)

    def project_direction(self, directions):
        """Image (x, y) of points at infinity along world directions."""
        p = np.asarray(directions) @ self.r
        return np.stack([self.w / 2 + self.f * p[..., 0] / -p[..., 2], self.h / 2 - self.f * p[..., 1] / -p[..., 2]],
                        -1)


def _slab(origin, directions, centre, rot, half):
    """Entry and exit ray parameters (lo, hi) of rays origin + s * directions through the
    box {centre + rot @ u : |u_i| <= half_i} (Kay-Kajiya slabs); lo > hi: missed."""
    o = (np.asarray(origin) - centre) @ rot
    d = np.asarray(directions) @ rot
    o = np.broadcast_to(o, d.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-half - o) / d, (half - o) / d
    inside = np.abs(o) <= half  # a ray parallel to a slab is in it for all s, or never
    near = np.where(d == 0, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    far = np.where(d == 0, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    return near.max(-1), far.min(-1)


class _Box:
    """A box whose pose is a closed-form function of the (real) frame: position p0 + v*f,
    rotation by (angle0 + spin*f) about `axis`. Constant velocity and constant angular
    velocity, so its poses at frames -1 and T are what the docs say the truth extrapolates."""

    def __init__(self, name, half, p0, v=(0, 0, 0), axis=(0, 0, 1), angle0=0.0, spin=0.0, background=False):
        self.name, self.half = name, np.asarray(half, dtype=np.float64)
        self.p0, self.v = np.asarray(p0, dtype=np.float64), np.asarray(v, dtype=np.float64)
        self.axis, self.angle0, self.spin, self.background = axis, angle0, spin, background

    def quaternion(self, f):
        return _quat(self.axis, self.angle0 + self.spin * f)

    def pose(self, f):
        return self.p0 + self.v * f, _rot(self.quaternion(f))

    def cube(self, num_frames):
        moving = self.v.any() or self.spin
        keys = [kg.Pose(position=tuple(self.pose(f)[0]), quaternion=tuple(self.quaternion(f)))
                for f in range(num_frames)] if moving else None
        return kg.Cube(name=self.name, scale=tuple(self.half), position=tuple(self.p0),
                       quaternion=tuple(self.quaternion(0)), motion="kinematic" if moving else "static",
                       keyframes=keys, is_background=self.background)


def _first_hit(boxes, f, origin, directions, grow=0.0):
    """Index of the first box each ray hits at frame f (-1: none) and the distance to it."""
    best = np.full(directions.shape[:-1], np.inf)
    which = np.full(directions.shape[:-1], -1)
    for k, box in enumerate(boxes):
        lo, hi = _slab(origin, directions, *box.pose(f), box.half + grow)
        closer = (lo <= hi) & (lo > 0) & (lo < best)
        best[closer], which[closer] = lo[closer], k
    return which, best


def _move(boxes, own, points, f, g):
    """World points (n, 3) on boxes `own` (n,) at frame f, carried rigidly to frame g."""
    out = np.empty_like(points)
    for k, box in enumerate(boxes):
        sel = own == k
        (pf, rf), (pg, rg) = box.pose(f), box.pose(g)
        out[sel] = ((points[sel] - pf) @ rf) @ rg.T + pg
    return out


# EPS_GROW: every box other than the point's own grows or shrinks by this much (m); a pixel
# whose answer changes is within ~1e-3 px of an edge (f ~ 70 px at 6-9 m), where the float32
# BVH traversal (errors ~1e-7 m) may rightly go either way. The hiding test counts surfaces
# more than MARGIN in front of the point; the truth's own tolerance (1e-4 d + 1e-5 ~ 1e-3 m)
# lies inside [MARGIN_LO, MARGIN_HI], so a pixel whose answer differs between the two has a
# surface within that band in front of its point (a point on a face seen almost edge-on, or
# a hair from the silhouette of its own box): that is where the tolerance decides. Pixels
# whose moved point lands within EPS_PX of the image border are left out too.
EPS_GROW, MARGIN_LO, MARGIN_HI, EPS_PX = 1e-4, 1e-6, 1e-2, 1e-6


def _hidden(boxes, g, camera, points, own, margin, grow):
    """Whether a box (any, the point's own included) lies more than `margin` in front of
    each world point along the ray from the camera at frame g."""
    delta = points - camera.c
    dist = np.linalg.norm(delta, axis=-1)
    directions = delta / dist[:, None]
    hidden = np.zeros(len(points), dtype=bool)
    for k, box in enumerate(boxes):
        lo, hi = _slab(camera.c, directions, *box.pose(g), box.half + np.where(own[:, None] == k, 0.0, grow))
        hidden |= (lo <= hi) & (hi > 0) & (lo < dist - margin)
    return hidden


def _self_hidden(boxes, g, camera, points, own):
    """Hidden by the point's own box alone (a face turned away from the camera)."""
    out = np.zeros(len(points), dtype=bool)
    for k, box in enumerate(boxes):
        sel = own == k
        out[sel] = _hidden([box], g, camera, points[sel], np.zeros(sel.sum(), int), MARGIN_HI, 0.0)
    return out


def _occlusion(boxes, g, camera, points, own):
    """(occluded, ambiguous) of world points (n, 3) on boxes `own` seen by `camera` at frame
    g: off-screen or hidden; ambiguous within the margins above."""
    xy = camera.project(points)
    offscreen = (xy[:, 0] < 0) | (xy[:, 0] >= camera.w) | (xy[:, 1] < 0) | (xy[:, 1] >= camera.h)
    border = np.minimum.reduce([np.abs(xy[:, 0]), np.abs(xy[:, 0] - camera.w), np.abs(xy[:, 1]),
                                np.abs(xy[:, 1] - camera.h)]) < EPS_PX
    strict = _hidden(boxes, g, camera, points, own, MARGIN_HI, -EPS_GROW)
    loose = _hidden(boxes, g, camera, points, own, MARGIN_LO, EPS_GROW)
    return offscreen | strict, border | (~offscreen & (strict != loose))


def _scene(boxes, camera, num_frames, resolution):
    cam = kg.PerspectiveCamera(position=tuple(camera.c), quaternion=tuple(camera.q), focal_length=camera.focal,
                               sensor_width=camera.sensor)
    return kg.Scene(resolution=resolution, num_frames=num_frames, gravity=(0, 0, 0),
                    objects=[b.cube(num_frames) for b in boxes], camera=cam)


class _StaticCamera:
    def __init__(self, position, quaternion, focal=35.0, sensor=32.0):
        self.c, self.q, self.focal, self.sensor = position, quaternion, focal, sensor

    def at(self, resolution):
        return _Pinhole(self.c, self.q, self.focal, self.sensor, *resolution)


# Looking along +Y with +Z up: the camera's -Z turned onto +Y by +90 degrees about X.
LOOK_ALONG_Y = _quat((1, 0, 0), np.pi / 2)
OCC_RES, OCC_FRAMES = (64, 48), 5


@pytest.fixture(scope="module")
def occluder_scene():
    """A wall, a box sliding and spinning behind a thin rotating slab, and a box leaving the
    image at its right edge; static camera. Truth with 400 point tracks."""
    boxes = [_Box("wall", (10, 0.1, 10), (0, 3, 0), background=True),
             _Box("mover", (0.5, 0.5, 0.5), (-1.5, 0.5, 0.1), v=(0.55, 0, 0.02), axis=(0.2, 0.1, 1), spin=0.3),
             _Box("slab", (0.3, 0.05, 1.5), (0.4, -2.0, 0), v=(-0.107, 0, 0), angle0=0.4, spin=0.08),
             _Box("leaver", (0.4, 0.4, 0.4), (3.2, 1.0, -1.2), v=(0.35, 0, 0))]
    camera = _StaticCamera((0.0, -8.0, 0.3), LOOK_ALONG_Y)
    scene = _scene(boxes, camera, OCC_FRAMES, OCC_RES)
    gt = compute_ground_truth(scene, physics.simulate(scene), num_tracks=400)
    return boxes, camera.at(OCC_RES), gt


def test_flow_occlusion_masks_equal_an_analytic_slab_classification(occluder_scene):
    """Every pixel's forward (backward) occlusion flag is exactly whether the surface point it
    sees at t, carried with its box to t+1 (t-1), is off-screen, behind another box or on a face
    of its own box turned away from the camera, by a slab test written here; first and last
    frames included (poses at -1 and T: the constant motion continued). The only pixels left
    out are those within the margins of EPS_GROW etc. (a hair from an edge); they must be few."""
    boxes, cam, gt = occluder_scene
    directions = cam.rays().reshape(-1, 3)
    kinds = {"other": 0, "self": 0, "offscreen": 0}
    for t in range(OCC_FRAMES):
        which, dist = _first_hit(boxes, t, cam.c, directions)
        assert (which >= 0).all()  # the wall fills the view: no ray sees infinity
        edge = np.zeros(len(which), dtype=bool)  # pixels a hair from an edge at t
        for grow in (EPS_GROW, -EPS_GROW):
            edge |= _first_hit(boxes, t, cam.c, directions, grow)[0] != which
        np.testing.assert_array_equal(gt.object_index[t].reshape(-1)[~edge], which[~edge])
        points = cam.c + dist[:, None] * directions
        for layer, other in ((gt.forward_flow_occlusion, t + 1), (gt.backward_flow_occlusion, t - 1)):
            moved = _move(boxes, which, points, t, other)
            expected, ambiguous = _occlusion(boxes, other, cam, moved, which)
            ambiguous |= edge
            assert ambiguous.mean() < 0.005, ambiguous.sum()
            got = layer[t].reshape(-1)
            wrong = np.flatnonzero((got != expected) & ~ambiguous)
            assert len(wrong) == 0, (f"frame {t} -> {other}: {len(wrong)} pixels differ, e.g. (row, col) "
                                     f"{[divmod(int(i), cam.w) for i in wrong[:5]]}: ours {got[wrong[:5]]}")
            # what kinds of occlusion the scene exercises (counted on the analytic side)
            xy = cam.project(moved)
            off = (xy[:, 0] < 0) | (xy[:, 0] >= cam.w) | (xy[:, 1] < 0) | (xy[:, 1] >= cam.h)
            self_hidden = _self_hidden(boxes, other, cam, moved, which)
            kinds["offscreen"] += int((off & ~ambiguous).sum())
            kinds["self"] += int((self_hidden & ~off & ~ambiguous).sum())
            kinds["other"] += int((expected & ~off & ~self_hidden & ~ambiguous).sum())
    assert min(kinds.values()) > 20, kinds


def test_point_tracks_follow_the_posed_material_point_in_every_frame(occluder_scene):
    """Each track is the material point under its query pixel (first box hit, by the slab
    test, at the query frame), carried with that box's closed-form pose to every frame and
    projected with the pinhole written here: within 1e-3 px in every frame (the truth is
    float64; float32 storage of ~64 px coordinates rounds by ~4e-6 px). Its occluded flags
    equal the analytic off-screen/hidden test in every frame except within the margins above."""
    boxes, cam, gt = occluder_scene
    tracks = gt.tracks
    t_q = tracks.query_points[:, 0].astype(int)
    rows, cols = tracks.query_points[:, 1].astype(int), tracks.query_points[:, 2].astype(int)
    directions = cam.rays()[rows, cols]
    which, points = np.full(len(t_q), -1), np.zeros((len(t_q), 3))
    edge = np.zeros(len(t_q), dtype=bool)
    for t in range(OCC_FRAMES):  # the material point under each query pixel, at its query frame
        sel = t_q == t
        which[sel], dist = _first_hit(boxes, t, cam.c, directions[sel])
        points[sel] = cam.c + dist[:, None] * directions[sel]
        for grow in (EPS_GROW, -EPS_GROW):  # leave out queries a hair from an edge
            edge[sel] |= _first_hit(boxes, t, cam.c, directions[sel], grow)[0] != which[sel]
    assert edge.sum() <= 2 and (which >= 0).all()
    occluded, ambiguous = np.zeros((2, len(t_q), OCC_FRAMES), dtype=bool)
    for f in range(OCC_FRAMES):
        world = np.empty_like(points)
        for t in range(OCC_FRAMES):
            sel = t_q == t
            world[sel] = _move(boxes, which[sel], points[sel], t, f)
        expected = cam.project(world)
        err = np.abs(tracks.target_points[:, f] - expected).max(axis=1)
        bad = np.flatnonzero(~edge & (err >= 1e-3))
        assert len(bad) == 0, (f"frame {f}: tracks {bad[:5]} on {[boxes[which[n]].name for n in bad[:5]]} at "
                               f"{tracks.target_points[bad[:5], f]}, expected {expected[bad[:5]]}")
        occluded[:, f], ambiguous[:, f] = _occlusion(boxes, f, cam, world, which)
    keep = ~ambiguous & ~edge[:, None]
    wrong = np.argwhere((tracks.occluded != occluded) & keep)
    assert len(wrong) == 0, (f"(track, frame) {wrong[:5].tolist()}: ours {tracks.occluded[tuple(wrong[:5].T)]}, "
                             f"on {[boxes[which[n]].name for n in wrong[:5, 0]]}")
    assert not tracks.occluded[np.arange(len(t_q)), t_q].any()
    moving = np.array([bool(b.v.any() or b.spin) for b in boxes])[which]
    changes = occluded.any(axis=1) & ~occluded.all(axis=1)
    assert keep.mean() > 0.99 and moving.sum() > 150 and changes.sum() > 50, (keep.mean(), moving.sum(),
                                                                              changes.sum())


def _camera_pose(f):
    """A camera moving at constant velocity and yawing at a constant rate (so frames -1 and T
    are the documented constant-velocity extrapolation of its path)."""
    return np.array([-0.2 + 0.15 * f, -7.0 + 0.1 * f, 0.5]), _qmul(_quat((0, 0, 1), 0.04 + 0.05 * f), LOOK_ALONG_Y)


def test_flow_of_the_first_and_last_frames_continues_the_constant_motion():
    """docs/ground_truth.md: the forward flow of the last frame and the backward flow of the
    first are not zero but use the poses one frame beyond the clip, extrapolated at constant
    velocity (kinematic objects, the camera), simulated (dynamic objects after the last frame),
    moved back at the initial velocity (dynamic objects before the first), kept (static ones).
    With every motion steady here, those are the closed-form poses at frames T and -1: every
    frame's forward (backward) flow must be the analytic projection at t+1 (t-1) minus the
    pixel centre (backward: the pixel centre minus it, MOVi's sign), within 1e-4 px. That covers
    float32 storage (~2e-6 px), the sphere's points (taken from our float32 depth: ~1e-5 px)
    and PyBullet's integration of a free body in zero gravity (measured ~1e-6 px). Pixels
    that see nothing: the motion of their direction under the camera's rotation alone."""
    frames, res, fps = 3, (64, 48), 12
    boxes = [_Box("spinner", (0.4, 0.3, 0.35), (0.1, 0.0, 0.2), v=(0.12, -0.1, 0.05), axis=(1, 2, 0.5),
                  angle0=0.3, spin=0.2),
             _Box("post", (0.3, 0.3, 0.6), (-1.3, 1.0, -0.3))]
    ball_p0, ball_v, ball_w = np.array([1.9, 1.5, 0.8]), np.array([0.6, 0.6, 0.3]), np.array([2.0, -1.0, 3.0])
    ball = kg.Sphere(name="ball", scale=0.5, position=tuple(ball_p0), velocity=tuple(ball_v),
                     angular_velocity=tuple(ball_w), motion="dynamic")
    path = [kg.Pose(position=tuple(_camera_pose(f)[0]), quaternion=tuple(_camera_pose(f)[1])) for f in range(frames)]
    scene = kg.Scene(resolution=res, num_frames=frames, frame_rate=fps, gravity=(0, 0, 0),
                     objects=[b.cube(frames) for b in boxes] + [ball], camera=kg.PerspectiveCamera(path=path))
    gt = compute_ground_truth(scene, physics.simulate(scene), num_tracks=0)

    def ball_pose(f):  # constant velocity and angular velocity (world axes) from the identity
        return ball_p0 + ball_v * f / fps, _rot(_quat(ball_w, np.linalg.norm(ball_w) * f / fps))

    def camera(f):
        return _Pinhole(*_camera_pose(f), 35.0, 32.0, *res)

    cols, rows = np.meshgrid(np.arange(res[0]) + 0.5, np.arange(res[1]) + 0.5)
    centres = np.stack([cols, rows], -1).reshape(-1, 2)
    counts = {"box": 0, "ball": 0, "nothing": 0}
    for t in range(frames):
        cam = camera(t)
        directions = cam.rays().reshape(-1, 3)
        which, dist = _first_hit(boxes, t, cam.c, directions)
        edge = np.zeros(len(which), dtype=bool)
        for grow in (EPS_GROW, -EPS_GROW):
            edge |= _first_hit(boxes, t, cam.c, directions, grow)[0] != which
        # the exact sphere, 1 cm larger than the icosphere's circumsphere: rays clear of it see no ball
        oc = cam.c - ball_pose(t)[0]
        b = directions @ oc
        near_ball = b * b - (oc @ oc - 0.51**2) > 0
        ours = gt.object_index[t].reshape(-1)
        box_px = (which >= 0) & ~edge & ~near_ball
        np.testing.assert_array_equal(ours[box_px], which[box_px])
        ball_px = ours == 2
        nothing_px = (ours == -1) & (which == -1) & ~edge & ~near_ball
        points = cam.c + gt.depth[t].reshape(-1, 1).astype(np.float64) * directions
        for layer, other, sign in ((gt.forward_flow, t + 1, 1), (gt.backward_flow, t - 1, -1)):
            xy = np.full((len(ours), 2), np.nan)
            on_box = cam.c + dist[box_px, None] * directions[box_px]  # the slab test's point, not our depth
            xy[box_px] = camera(other).project(_move(boxes, which[box_px], on_box, t, other))
            (pt, rt), (po, ro) = ball_pose(t), ball_pose(other)
            xy[ball_px] = camera(other).project(((points[ball_px] - pt) @ rt) @ ro.T + po)
            xy[nothing_px] = camera(other).project_direction(directions[nothing_px])
            expected = sign * (xy - centres)[:, ::-1]  # (d_row, d_col)
            got = layer[t].reshape(-1, 2)
            for name, sel in (("box", box_px), ("ball", ball_px), ("nothing", nothing_px)):
                err = np.abs(got[sel] - expected[sel]).max()
                assert err < 1e-4, (f"frame {t} -> {other}, {name} pixels: max error {err:.2e} px",
                                    got[sel][:3], expected[sel][:3])
                assert np.abs(expected[sel]).max() > 0.5  # it really moves
                counts[name] += int(sel.sum())
    assert min(counts.values()) > 100, counts


def _check_metadata(meta, depth, segmentation, look_at):
    """metadata.json's camera and instances against the pinhole, quaternion formula and box
    corners written here, and against the pixels (depth, segmentation) they describe."""
    width, height = meta["metadata"]["resolution"]
    cam = meta["camera"]
    f, sw = cam["focal_length"], cam["sensor_width"]
    sh = sw * height / width  # the sensor height: pixels are square, the width spans the sensor
    k = np.array(cam["K"])
    # Kubric's normalised K (MOVI_FORMAT.md); exact up to JSON's shortest round-trip floats
    np.testing.assert_allclose(k, [[f / sw, 0, -0.5], [0, -f / sh, -0.5], [0, 0, -1]], rtol=0, atol=1e-12,
                               err_msg="camera K")
    assert abs(cam["field_of_view"] - 2 * np.arctan(sw / 2 / f)) < 1e-12
    r0 = np.array(cam["R"])
    np.testing.assert_allclose(r0[:3, :3], _rot(cam["quaternions"][0]), atol=1e-9, err_msg="R vs quaternions[0]")
    np.testing.assert_allclose(r0[:3, 3], cam["positions"][0], atol=1e-12)
    np.testing.assert_array_equal(r0[3], [0, 0, 0, 1])
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    inside = 0
    for t in range(meta["metadata"]["num_frames"]):
        c, r = np.array(cam["positions"][t]), _rot(cam["quaternions"][t])
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-9)
        # the camera looks at `look_at` down its -Z, its x axis level (Blender's track-to with Z up)
        forward = (np.asarray(look_at) - c) / np.linalg.norm(np.asarray(look_at) - c)
        assert -r[:, 2] @ forward > 1 - 1e-9 and abs(r[2, 0]) < 1e-9 and r[2, 1] > 0
        pin = _Pinhole(c, cam["quaternions"][t], f, sw, width, height)
        seen = np.isfinite(depth[t])
        world = c + depth[t][..., None].astype(np.float64) * pin.rays()
        # K maps a point in Blender's camera frame to (u, v) in [0, 1]: the pixel centre / (W, H)
        uvw = ((world[seen] - c) @ r) @ k.T
        np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], np.stack([cols[seen] / width, rows[seen] / height], -1),
                                   rtol=0, atol=1e-9, err_msg=f"K maps frame {t}'s pixels off their centres")
        for i, inst in enumerate(meta["instances"]):
            pos, q = np.array(inst["positions"][t]), inst["quaternions"][t]
            rot, scale, (lo, hi) = _rot(q), np.array(inst["scale_xyz"]), np.array(inst["bounds"])
            # image_positions: the projected origin, normalised (x / W, y / H); and the same by Kubric's K
            xy = pin.project(pos[None])[0] / (width, height)
            np.testing.assert_allclose(inst["image_positions"][t], xy, rtol=0, atol=1e-9, err_msg=inst["name"])
            uvw = k @ ((pos - c) @ r)
            np.testing.assert_allclose(inst["image_positions"][t], uvw[:2] / uvw[2], rtol=0, atol=1e-9,
                                       err_msg=f"{inst['name']}: image_positions vs K")
            # bboxes_3d: the 8 corners of the scaled local bounds, posed (compared as a set)
            corners = np.array([[(lo, hi)[a][0], (lo, hi)[b][1], (lo, hi)[cc][2]]
                                for a in (0, 1) for b in (0, 1) for cc in (0, 1)])
            expected = (corners * scale) @ rot.T + pos
            got = np.array(inst["bboxes_3d"][t])
            gap = np.linalg.norm(got[:, None] - expected[None], axis=-1)
            assert gap.min(axis=0).max() < 1e-9 and gap.min(axis=1).max() < 1e-9, (inst["name"], t, got, expected)
            # every pixel of the instance sees a point inside its posed box (float32 depth: 1e-4 of the size)
            sel = segmentation[t] == i + 1
            local = ((world[sel] - pos) @ rot) / scale
            slack = 1e-4 * (hi - lo)
            assert ((local >= lo - slack) & (local <= hi + slack)).all(), (inst["name"], t)
            inside += int(sel.sum())
    assert inside > 50


def test_metadata_of_a_rendered_scene_matches_independent_projections(movi_a_scene):
    """A real MOVi-A scene directory (camera looking at the origin, as the world places it)."""
    meta = json.loads((movi_a_scene / "metadata.json").read_text())
    with np.load(movi_a_scene / "layers.npz") as layers:
        depth, segmentation = layers["depth"], layers["segmentation"]
    assert len(meta["instances"]) >= 2
    _check_metadata(meta, depth, segmentation, look_at=(0, 0, 0))


def test_metadata_of_a_non_square_moving_camera_scene_matches_independent_projections(tmp_path):
    """The same checks on a 48x32 image (a width/height mix-up shows only where they differ)
    with a camera moving round a point, written by the scene-directory writer's own
    metadata function and read back from JSON."""
    from kubric_gen.io.scene_dir import scene_metadata, write_json

    frames, target = 3, (0.2, 0.1, 0.3)
    path = [kg.PerspectiveCamera(position=(4 - 0.5 * f, -5 + 0.3 * f, 2.5 + 0.2 * f), look_at=target)
            for f in range(frames)]
    boxes = [_Box("spinner", (0.5, 0.3, 0.4), (0.3, 0.2, 0.4), v=(0.1, 0.05, 0), axis=(1, 1, 2), angle0=0.5,
                  spin=0.3),
             _Box("brick", (0.3, 0.6, 0.2), (-0.8, 0.6, 0.2), angle0=-0.7)]
    scene = kg.Scene(resolution=(48, 32), num_frames=frames, gravity=(0, 0, 0),
                     objects=[b.cube(frames) for b in boxes],
                     camera=kg.PerspectiveCamera(focal_length=28.0, sensor_width=36.0, path=[
                         kg.Pose(position=c.position, quaternion=c.quaternion) for c in path]))
    trajectory = physics.simulate(scene)
    gt = compute_ground_truth(scene, trajectory, num_tracks=0)
    write_json(tmp_path / "metadata.json", scene_metadata(scene, trajectory, {}, gt))
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert sorted(i["name"] for i in meta["instances"]) == ["brick", "spinner"]
    _check_metadata(meta, gt.depth, gt.segmentation, look_at=target)


# Kubric's flow comes from Blender's vector pass: measured against the reprojection below on
# its reference directory, interior pixels, every frame: max 6.2e-4 px (half a 16-bit
# quantisation step of its range is 2.4e-4 px). Ours is exact before quantisation. 2e-3 px
# passes both with room, while a swapped axis or sign is wrong by pixels (median motion here
# is several pixels; asserted).
FLOW_TOL = 2e-3


def _decoded_flow(directory, name, t):
    """(d_row, d_col) of a flow PNG decoded here: pypng's 16-bit samples (Kubric's own reader),
    v / 65535 * (max - min) + min with data_ranges.json; channel 2 must be 0."""
    ranges = json.loads((directory / "data_ranges.json").read_text())[name]
    v = kubric_read_png(directory / f"{name}_{t:05d}.png").astype(np.float64)
    assert v.shape[2] == 3 and (v[..., 2] == 0).all()
    return v[..., :2] / 65535 * (ranges["max"] - ranges["min"]) + ranges["min"]


def _flow_vs_motion(directory):
    """For every frame that has a neighbour inside the clip, the decoded forward (backward)
    flow against the motion to t+1 (from t-1) of the surface point seen at the pixel: depth
    TIFF and camera give the world point, the segmentation's instance and its poses (metadata)
    carry it, the pinhole projects it. Pixels whose 8 neighbours share their instance
    (Blender's vector pass mixes objects at their edges). Returns (max error, median |flow|)."""
    meta = json.loads((directory / "metadata.json").read_text())
    width, height = meta["metadata"]["resolution"]
    cam, n = meta["camera"], meta["metadata"]["num_frames"]
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)

    def pinhole(t):
        return _Pinhole(cam["positions"][t], cam["quaternions"][t], cam["focal_length"], cam["sensor_width"],
                        width, height)

    worst, sizes = 0.0, []
    for t in range(n):
        depth = tifffile.imread(directory / f"depth_{t:05d}.tiff").reshape(height, width).astype(np.float64)
        seg = kubric_read_png(directory / f"segmentation_{t:05d}.png")[..., 0].astype(int)
        padded = np.pad(seg, 1, mode="edge")
        interior = np.ones(seg.shape, dtype=bool)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                interior &= padded[dy:dy + height, dx:dx + width] == seg
        world = pinhole(t).c + depth[..., None] * pinhole(t).rays()
        for name, other in (("forward_flow", t + 1), ("backward_flow", t - 1)):
            if not 0 <= other < n:
                continue
            flow = _decoded_flow(directory, name, t)
            for i, inst in enumerate(meta["instances"]):
                sel = interior & (seg == i + 1)
                if not sel.any():
                    continue
                (p, r), (p2, r2) = ((np.array(inst["positions"][f]), _rot(inst["quaternions"][f])) for f in (t, other))
                xy = pinhole(other).project(((world[sel] - p) @ r) @ r2.T + p2)
                motion = np.stack([xy[:, 1] - rows[sel], xy[:, 0] - cols[sel]], -1)  # (d_row, d_col) t -> other
                expected = motion if other > t else -motion  # backward: the motion from t-1 to t
                worst = max(worst, float(np.abs(flow[sel] - expected).max()))
                sizes.append(np.linalg.norm(expected, axis=1))
    return worst, float(np.median(np.concatenate(sizes)))


def _reader_agrees(directory):
    """Our reader (`SceneDir`) decodes each flow PNG to the same (d_row, d_col) as above."""
    sd = SceneDir(directory)
    for name in ("forward_flow", "backward_flow"):
        ours = sd.layer(name)
        for t in range(sd.num_frames):
            np.testing.assert_allclose(ours[t], _decoded_flow(directory, name, t), rtol=0, atol=1e-5,
                                       err_msg=f"{directory.name}/{name}_{t:05d}.png")


def test_kubric_reference_flow_is_the_motion_in_our_convention():
    """Kubric's own MOVi-A directory: forward flow at t is the (d_row, d_col) motion t -> t+1
    of the point seen at the pixel, backward flow the motion t-1 -> t (docs/ground_truth.md's
    sign), within FLOW_TOL at every interior pixel of every instance; our reader returns those
    numbers unchanged. (Its first backward and last forward flow are Kubric's own affair.)"""
    if not REFERENCE.exists():
        pytest.skip(f"needs ../shared/reference ({REFERENCE} is missing)")
    worst, median = _flow_vs_motion(REFERENCE)
    assert worst < FLOW_TOL and median > 2.0, (worst, median)
    _reader_agrees(REFERENCE)


def test_our_written_flow_has_kubrics_convention(movi_a_scene):
    """The same check on a scene directory we rendered: the convention Kubric's data was just
    seen to follow, decoded by Kubric's rules, holds for ours within FLOW_TOL; our reader
    decodes it as Kubric's reader does, and the PNGs hold the exact layers (layers.npz) to
    half a quantisation step."""
    worst, median = _flow_vs_motion(movi_a_scene)
    assert worst < FLOW_TOL and median > 0.2, (worst, median)
    _reader_agrees(movi_a_scene)
    ranges = json.loads((movi_a_scene / "data_ranges.json").read_text())
    with np.load(movi_a_scene / "layers.npz") as exact:
        for name in ("forward_flow", "backward_flow"):
            step = (ranges[name]["max"] - ranges[name]["min"]) / 65535
            decoded = np.stack([_decoded_flow(movi_a_scene, name, t) for t in range(len(exact[name]))])
            assert np.abs(decoded - exact[name]).max() <= step / 2 * 1.001 + 1e-6, name
