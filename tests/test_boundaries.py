"""Occlusion boundaries against the slab test's first hits, and the depth-discontinuity rule
within one object."""

import numpy as np
from test_truth_analytic import EPS_GROW, LOOK_ALONG_Y, _Box, _first_hit, _scene, _StaticCamera

from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth
from kubric_gen.truth.boundaries import BEHIND, FRONT, NEIGHBOURS, occlusion_boundaries

RES = (64, 48)


def test_boundaries_are_where_the_first_hit_changes_with_the_nearer_side_in_front():
    """A rotated cube before a wall, a grazing floor below: bit k of a pixel is set exactly where
    the slab test's first-hit box differs from its neighbour k's (both away from edges), on the
    nearer side (bit k) or the farther (bit k + 4); the floor seen at a grazing angle and the
    wall are free of boundaries inside."""
    camera = _StaticCamera((0.0, 0.0, 0.3), LOOK_ALONG_Y)
    boxes = [_Box("cube", (0.6, 0.5, 0.55), (0.3, 6.0, 0.4), axis=(0.3, 0.2, 1.0), angle0=0.7),
             _Box("wall", (6.0, 0.2, 4.0), (0.0, 12.0, 2.0)),
             _Box("floor", (8.0, 8.0, 0.1), (0.0, 6.0, -0.1))]
    scene = _scene(boxes, camera, 1, RES)
    gt = compute_ground_truth(scene, physics.simulate(scene), num_tracks=0)
    pinhole = camera.at(RES)
    d = pinhole.rays()
    which, dist = _first_hit(boxes, 0, pinhole.c, d)
    sure = np.ones(which.shape, dtype=bool)
    for grow in (EPS_GROW, -EPS_GROW):
        sure &= _first_hit(boxes, 0, pinhole.c, d, grow)[0] == which
    bits = gt.occlusion_boundaries[0]
    h, w = which.shape
    checked = 0
    for k, (dr, dc) in enumerate(NEIGHBOURS):
        for r in range(max(0, -dr), h - max(0, dr)):
            for c in range(max(0, -dc), w - max(0, dc)):
                r2, c2 = r + dr, c + dc
                if not (sure[r, c] and sure[r2, c2]):
                    continue
                checked += 1
                differs = which[r, c] != which[r2, c2]
                front, behind = bool(bits[r, c] >> (FRONT + k) & 1), bool(bits[r, c] >> (BEHIND + k) & 1)
                assert (front or behind) == differs, (r, c, k)
                if differs:
                    assert front == (dist[r, c] < dist[r2, c2]) and behind == (dist[r, c] > dist[r2, c2]), (r, c, k)
    assert checked > 4 * h * w * 0.9
    assert (bits != 0).sum() > 50 and (bits[which == 2] == 0).mean() > 0.9


def test_a_fold_of_one_surface_is_a_boundary_and_a_grazing_plane_is_not():
    """One object: a step in depth (a near and a far plane facing the camera) is a boundary on
    both sides; a plane seen at 3 degrees from grazing, whose depth grows ~20 % a pixel, is not."""
    h, w = 4, 6
    origins = np.zeros((1, 3))
    cols = np.arange(w) - w / 2 + 0.5
    rows = np.arange(h) - h / 2 + 0.5
    dirs = np.stack(np.broadcast_arrays(cols[None, :] * 0.01, rows[:, None] * 0.01, np.ones((h, w))), -1)[None]
    dirs = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    objects = np.zeros((1, h, w), dtype=np.int32)
    # a step: columns 0-2 on the plane z = 2, columns 3-5 on z = 4 (normals towards the camera)
    z = np.where(np.arange(w) < 3, 2.0, 4.0)[None, None, :].repeat(h, axis=1)
    depth = z / dirs[..., 2]
    normal = np.broadcast_to([0.0, 0.0, -1.0], (1, h, w, 3))
    bits = occlusion_boundaries(objects, depth, normal, origins, dirs)
    assert (bits[0, :, 2] == 1 << (FRONT + 0)).all() and (bits[0, :, 3] == 1 << (BEHIND + 2)).all()
    assert (np.delete(bits[0], [2, 3], axis=1) == 0).all()
    # a plane through (0, 0, 3) whose normal is 87 degrees from the view axis
    n = np.array([0.0, -np.sin(np.radians(87)), -np.cos(np.radians(87))])
    p0 = np.array([0.0, 0.0, 3.0])
    t = (n @ p0) / (dirs @ n)
    assert (np.abs(np.diff(t[0], axis=0)) / t[0, 1:] > 0.1).all()  # depth changes 10-30 % from row to row
    bits = occlusion_boundaries(objects, t, np.broadcast_to(n, (1, h, w, 3)), origins, dirs)
    assert (bits == 0).all()


def test_a_torus_folds_in_front_of_itself_and_a_sphere_does_not(tmp_path):
    """Seen from 10 degrees above its plane, a torus's near tube hides part of its far tube: pixels that
    both see the torus across that depth jump are boundaries (one object, no object change); a
    finely tessellated sphere seen at every angle up to grazing has none but its silhouette."""
    import trimesh

    import kubric_gen as kg

    path = tmp_path / "torus.obj"
    trimesh.creation.torus(major_radius=1.0, minor_radius=0.3, major_sections=96, minor_sections=48).export(path)
    camera = kg.PerspectiveCamera(position=(0.0, -4.0, 0.7), look_at=(0.0, 0.0, 0.0))  # 10 degrees up
    objects = [kg.MeshObject(name="torus", path=str(path), motion="static"),
               kg.Sphere(name="ball", scale=0.45, position=(2.6, 1.5, 0.0), motion="static")]
    scene = kg.Scene(resolution=(96, 64), num_frames=1, gravity=(0, 0, 0), objects=objects, camera=camera)
    gt = compute_ground_truth(scene, physics.simulate(scene), num_tracks=0)
    bits, seen, depth = gt.occlusion_boundaries[0], gt.object_index[0], gt.depth[0]
    fold_pairs = {0: 0, 1: 0}
    for k, (dr, dc) in enumerate(NEIGHBOURS[:2]):  # right and below: every edge once
        a = (slice(0, 64 - dr), slice(0, 96 - dc))
        b = (slice(dr, 64), slice(dc, 96))
        same = (seen[a] == seen[b]) & (seen[a] >= 0)
        marked = ((bits[a] >> (FRONT + k)) | (bits[a] >> (BEHIND + k))) & 1 == 1
        for obj in (0, 1):
            fold_pairs[obj] += int((marked & same & (seen[a] == obj)).sum())
        pairs = marked & same
        jumps = np.abs(depth[a][pairs] - depth[b][pairs]) / np.minimum(depth[a][pairs], depth[b][pairs])
        assert (jumps > 0.1).all()  # a fold is a real jump in depth
    assert fold_pairs[0] >= 20 and fold_pairs[1] == 0, fold_pairs
