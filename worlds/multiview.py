"""Multi-view: MOVi-E-like scenes seen by several cameras at once (one simulation).

The objects are MOVi-D's (a settled crowd of library objects, 1-3 tossed in). `num_cameras`
cameras (cam0, cam1, ...) stand on a hemisphere around the centre at one radius drawn from
`camera_radius`, spread in azimuth with elevations in `camera_elevation`; all look at the
centre. The last one moves on a straight line (up to `camera_motion` metres, as MOVi-E's
camera), the others stand still. Each camera's view is a MOVi scene directory
(view_cam0/, ...), with correspondences and multi-view point tracks in cross_view.npz.

Config: as movi_d, plus
  num_cameras        cameras (4; 1-8)
  camera_radius      distance range of the cameras from the centre, metres ([8, 12])
  camera_elevation   elevation range above the horizon, degrees ([15, 60])
  camera_motion      largest distance the last camera travels, metres (4.0; 0 = all still)
"""

import kubric_gen as kg
from kubric_gen.worlds import _common as common
from kubric_gen.worlds import movi_d

CONFIG = {**movi_d.CONFIG, "num_cameras": 4, "camera_radius": [8.0, 12.0], "camera_elevation": [15.0, 60.0],
          "camera_motion": 4.0}
MAX_CAMERAS = 8


def labels(config):
    return movi_d.labels(config, "multiview")


def build(rng, config):
    n = config["num_cameras"]
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_CAMERAS:
        raise kg.ConfigError(f"config 'num_cameras': must be an integer in 1..{MAX_CAMERAS} (got {n!r})")
    inner, outer = common.check_range(config, "camera_radius")
    elevation = common.check_range(config, "camera_elevation", positive=False)
    if not 0 <= elevation[0] <= elevation[1] <= 89:
        raise kg.ConfigError(f"config 'camera_elevation': must be within [0, 89] degrees (got {list(elevation)})")
    motion = float(config["camera_motion"])
    if motion < 0:
        raise kg.ConfigError(f"config 'camera_motion': must be >= 0 (got {motion})")
    rig = []

    def cameras(r, scene):
        rig.extend(kg.hemisphere(r, n, radius=r.uniform(inner, outer), elevation=elevation,
                                 names=[f"cam{i}" for i in range(n)]))
        if motion > 0:
            rig[-1] = common.linear_camera(r, scene, inner, outer, motion, start=rig[-1].position, name=rig[-1].name)
        return rig[0]

    scene = movi_d.build(rng, config, camera=cameras)
    scene.cameras = rig
    return scene.validate()
