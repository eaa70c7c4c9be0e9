"""Pieces shared by the MOVi worlds: config checks, floors, cameras, libraries, backgrounds.

The look follows Kubric's MOVi workers (facts from Kubric's paper and published code):
Blender's Filmic view transform (kubric_gen's default), CLEVR's light rig (`_clevr.py`)
with each light jittered upwards by up to 1 m, an ambient light of 0.05 that the camera
never sees, a dome floor, and colours given to the renderer as linear values.
"""

import functools
from pathlib import Path

import numpy as np

import kubric_gen as kg

SPAWN_REGION = ((-5.0, -5.0, 1.0), (5.0, 5.0, 5.0))
VELOCITY_RANGE = ((-4.0, -4.0, 0.0), (4.0, 4.0, 0.0))
AMBIENT = kg.ColorBackground(color=(0.05, 0.05, 0.05), strength=1.0, visible_to_camera=False)


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
        bound = "0 < low <= high" if positive else "low <= high"
        raise kg.ConfigError(f"config '{key}': expected [low, high] with {bound} (got {value})")
    return float(value[0]), float(value[1])


def floor_dome(color, friction, restitution, name="floor"):
    """MOVi-A/B's floor: a dome (flat floor at z = 0 rising into a hemisphere) of one matte
    colour without specular reflection; static, colliding with its exact triangles. As in
    MOVi, the dome is closed: it keeps out the sun and the ambient light, so the scene is
    lit by the area lights (soft shadows, no sharp sun shadow)."""
    from kubric_gen.assets import dome

    return kg.MeshObject(name=name, path=dome.dome_mesh(), motion="static", collision="mesh", is_background=True,
                         casts_shadows=True, asset_id="dome", friction=friction, restitution=restitution,
                         material=kg.Principled(color=tuple(color), roughness=1.0, specular=0.0))


def shell_camera(rng, inner, outer, focal_length=35.0, look_at=(0.0, 0.0, 0.0), min_height=0.5):
    """A camera in the upper half-sphere shell, looking at `look_at`."""
    position = kg.point_in_half_sphere_shell(rng, inner, outer)
    while position[2] < min_height:
        position = kg.point_in_half_sphere_shell(rng, inner, outer)
    return kg.PerspectiveCamera(focal_length=focal_length, sensor_width=32.0, position=position, look_at=look_at)


def linear_camera(rng, scene, inner, outer, max_distance, focal_length=35.0, look_at=(0.0, 0.0, 0.0), start=None,
                  name="camera"):
    """A camera `name` moving on a straight line (up to `max_distance` metres over the scene)
    from `start` (default: a point in the half-sphere shell), looking at `look_at` in every frame."""
    start = np.asarray(shell_camera(rng, inner, outer).position if start is None else start, dtype=float)
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
    return kg.PerspectiveCamera(name=name, focal_length=focal_length, sensor_width=32.0, position=path[0].position,
                                quaternion=path[0].quaternion, path=path)


@functools.lru_cache(maxsize=8)
def library(source):
    """An asset library by built-in name, path or URL (loaded once per process)."""
    from kubric_gen.assets import AssetLibrary

    return AssetLibrary.load(source)


def hdri_library(source):
    """HDRIs from a folder of .hdr/.exr files, or from an asset library with background
    assets: a manifest (ours, or Kubric's HDRI_haven.json in a mirror), its folder, or a URL."""
    from kubric_gen.assets import AssetLibrary, remote

    text = str(source)
    if remote.is_url(text) or text.lower().endswith((".json", ".zip", ".tar", ".tar.gz", ".tgz")) \
            or (Path(text) / "manifest.json").is_file():
        return library(text)
    return AssetLibrary.from_hdri_folder(text)


def background(rng, scene, config):
    """MOVi-C..F's background: an HDRI from config['hdri_dir'] projected onto a dome that
    is floor, background and light at once (an emitting, closed dome, as in MOVi); without
    `hdri_dir`, a grey dome under Blender's procedural sky, which lights the scene through
    the dome. Either way the dome's floor is geometry (physics, ground truth) and the
    camera never sees past it."""
    from kubric_gen.assets import dome

    if config["hdri_dir"]:
        hdris = hdri_library(config["hdri_dir"])
        hdri = hdris.sample(rng, kind="background")
        path = hdris.texture(hdri)
        scene.background = kg.HdriBackground(path=path, visible_to_camera=False)
        scene.add(dome.make_dome(path, material=kg.Flat(texture=path), casts_shadows=True,
                                 friction=config["floor_friction"], restitution=config["floor_restitution"]))
        scene.metadata["background"] = hdri
    else:
        scene.background = kg.SkyBackground(sun_elevation=float(rng.uniform(np.radians(20), np.radians(70))),
                                            sun_rotation=float(rng.uniform(0, 2 * np.pi)), strength=0.04,
                                            visible_to_camera=False)
        scene.add(kg.MeshObject(name="dome", path=dome.dome_mesh(), motion="static", collision="mesh",
                                is_background=True, asset_id="dome", friction=config["floor_friction"],
                                restitution=config["floor_restitution"],
                                material=kg.Principled(color=(0.35, 0.35, 0.35), roughness=0.9)))
        scene.metadata["background"] = "sky"  # the sky texture's own sun lights the scene


def toss(rng, position):
    """The velocity of an object thrown from `position`: horizontal, towards the scene centre, as in MOVi."""
    vx, vy, _ = rng.uniform(*VELOCITY_RANGE)
    return float(vx - position[0]), float(vy - position[1]), 0.0


def flat_floor(color, friction, restitution, half_size=20.0, name="floor"):
    """A flat floor (a static box whose top is z = 0) of one matte colour, for worlds with
    deformable bodies: PyBullet's deformable world collides them with convex shapes only, so a
    dome floor (triangles) would let them fall through."""
    return kg.Cube(name=name, scale=(half_size, half_size, 0.1), position=(0.0, 0.0, -0.1), motion="static",
                   is_background=True, casts_shadows=True, asset_id="floor", friction=friction,
                   restitution=restitution, material=kg.Principled(color=tuple(color), roughness=1.0, specular=0.0))
