"""Stereo: MOVi-E-like scenes seen by a parallel (rectified) stereo pair.

The objects are MOVi-D's. The rig's centre stands in the half-sphere shell `camera_radius`
around the centre and faces it; its two cameras, `left` and `right`, are `baseline` metres
apart along the image's x axis and parallel, so a surface point's disparity (cross_view.npz,
`CrossViewTruth.disparity`) is focal_px * baseline / z. Each camera's view is a MOVi scene
directory (view_left/, view_right/).

Config: as movi_d, plus
  camera_radius   distance range of the rig from the centre, metres ([8, 12])
  baseline        distance between the two cameras, metres (0.3)
"""

import kubric_gen as kg
from kubric_gen.worlds import _common as common
from kubric_gen.worlds import movi_d

CONFIG = {**movi_d.CONFIG, "camera_radius": [8.0, 12.0], "baseline": 0.3}


def labels(config):
    return movi_d.labels(config, "stereo")


def build(rng, config):
    inner, outer = common.check_range(config, "camera_radius")
    baseline = config["baseline"]
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float)) or not 0 < baseline <= 10:
        raise kg.ConfigError(f"config 'baseline': must be a number in (0, 10] metres (got {baseline!r})")
    rig = []

    def cameras(r, scene):
        centre = common.shell_camera(r, inner, outer).position
        rig.extend(kg.stereo_rig(centre, (0.0, 0.0, 0.0), baseline=float(baseline)))
        return rig[0]

    scene = movi_d.build(rng, config, camera=cameras)
    scene.cameras = rig
    return scene.validate()
