"""Pieces shared by the MOVi worlds: materials, lights, cameras, libraries, backgrounds."""

import dataclasses
import functools

import numpy as np

import kubric_gen as kg

MATERIALS = {  # appearance and physics of CLEVR's two materials (as MOVi uses them)
    "metal": {"look": {"metallic": 1.0, "roughness": 0.2, "ior": 2.5},
              "friction": 0.4, "restitution": 0.3, "density": 2.7},
    "rubber": {"look": {"metallic": 0.0, "roughness": 0.7, "ior": 1.25},
               "friction": 0.8, "restitution": 0.7, "density": 1.1},
}
SPAWN_REGION = ((-5.0, -5.0, 1.0), (5.0, 5.0, 5.0))
VELOCITY_RANGE = ((-4.0, -4.0, 0.0), (4.0, 4.0, 0.0))


def base_scene(config, background, metadata):
    return kg.Scene(resolution=tuple(config["resolution"]), num_frames=config["num_frames"],
                    frame_rate=config["frame_rate"], step_rate=config["step_rate"], background=background,
                    metadata=metadata)


def check_count(config, low_key, high_key):
    lo, hi = config[low_key], config[high_key]
    if not 1 <= lo <= hi:
        raise kg.ConfigError(f"config '{low_key}'/'{high_key}': need 1 <= {low_key} <= {high_key} (got {lo}, {hi})")
    return lo, hi


def check_range(config, key, positive=True):
    value = config[key]
    if len(value) != 2 or value[0] > value[1] or (positive and value[0] <= 0):
        raise kg.ConfigError(f"config '{key}': expected [low, high] with 0 < low <= high (got {value})")
    return float(value[0]), float(value[1])


def add_clevr_lights(scene):
    """CLEVR's rig: a key sun, a fill and a back light, and a key area light."""
    scene.add(kg.SunLight(name="sun", direction=(-0.6, 0.3, -1.0), strength=2.5),
              kg.AreaLight(name="fill", position=(-4.67, -4.01, 3.01), look_at=(0, 0, 0), power=150.0, size=2.0),
              kg.AreaLight(name="back", position=(-1.15, 5.85, 4.89), look_at=(0, 0, 0), power=300.0, size=1.0),
              kg.AreaLight(name="key", position=(6.44, -2.91, 4.44), look_at=(0, 0, 0), power=300.0, size=1.0))


def shell_camera(rng, inner, outer, focal_length=35.0, look_at=(0.0, 0.0, 0.0), min_height=0.5):
    """A camera in the upper half-sphere shell, looking at `look_at`."""
    position = kg.point_in_half_sphere_shell(rng, inner, outer)
    while position[2] < min_height:
        position = kg.point_in_half_sphere_shell(rng, inner, outer)
    return kg.PerspectiveCamera(focal_length=focal_length, sensor_width=32.0, position=position, look_at=look_at)


def linear_camera(rng, scene, inner, outer, max_distance, focal_length=35.0, look_at=(0.0, 0.0, 0.0)):
    """A camera moving on a straight line (up to `max_distance` metres over the scene)
    from a start in the half-sphere shell, looking at `look_at` in every frame."""
    start = np.asarray(shell_camera(rng, inner, outer).position)
    for _ in range(1000):  # the end stays in the shell too, so the camera never dives into the scene
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        end = start + direction * rng.uniform(0.0, max_distance)
        if end[2] >= 0.5 and inner <= np.linalg.norm(end - np.asarray(look_at)) <= outer:
            break
    else:  # pragma: no cover - practically unreachable
        end = start
    t = np.linspace(0.0, 1.0, scene.num_frames)
    path = []
    for s in t:
        p = tuple(float(v) for v in (1 - s) * start + s * end)
        path.append(kg.Pose(position=p, quaternion=tuple(kg.geometry.look_at_quaternion(p, look_at))))
    return kg.PerspectiveCamera(focal_length=focal_length, sensor_width=32.0, position=path[0].position,
                                quaternion=path[0].quaternion, path=path)


@functools.lru_cache(maxsize=8)
def library(source):
    """An asset library by built-in name, path or URL (loaded once per process)."""
    from kubric_gen.assets import AssetLibrary

    return AssetLibrary.load(source)


def background(rng, scene, config):
    """An HDRI from config['hdri_dir'] with a dome textured by it, else the procedural sky
    over a grey dome; either way the dome's floor is geometry (physics, ground truth)."""
    from kubric_gen.assets import AssetLibrary, dome

    if config["hdri_dir"]:
        hdris = AssetLibrary.from_hdri_folder(config["hdri_dir"])
        hdri = hdris.sample(rng, kind="background")
        path = hdris.texture(hdri)
        scene.background = kg.HdriBackground(path=path, rotation=float(rng.uniform(0, 2 * np.pi)))
        scene.add(dome.make_dome(path, friction=config["floor_friction"], restitution=config["floor_restitution"]))
        scene.metadata["background"] = hdri
    else:
        scene.background = kg.SkyBackground(sun_elevation=float(rng.uniform(np.radians(20), np.radians(70))),
                                            sun_rotation=float(rng.uniform(0, 2 * np.pi)), strength=0.04)
        scene.add(kg.MeshObject(name="dome", path=dome.dome_mesh(), motion="static", collision="mesh",
                                is_background=True, asset_id="dome", friction=config["floor_friction"],
                                restitution=config["floor_restitution"],
                                material=kg.Principled(color=(0.35, 0.35, 0.35), roughness=0.9)))
        scene.metadata["background"] = "sky"  # the sky texture's own sun lights the scene


def toss(rng, obj, position):
    """A horizontal velocity towards the scene centre, as MOVi throws its objects."""
    vx, vy, _ = rng.uniform(*VELOCITY_RANGE)
    return dataclasses.replace(obj, velocity=(float(vx - position[0]), float(vy - position[1]), 0.0))
