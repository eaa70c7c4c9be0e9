"""The rendering stage: real Blender Cycles (bpy) on tiny images."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from kubric_gen import geometry
from kubric_gen.errors import ConfigError, KubricGenError
from kubric_gen.render import RenderResult, RenderSettings, render
from kubric_gen.scene import (
    AreaLight,
    ColorBackground,
    Cube,
    Cylinder,
    Flat,
    PerspectiveCamera,
    PointLight,
    Pose,
    Principled,
    Scene,
    SkyBackground,
    Sphere,
    SpotLight,
    SunLight,
)
from kubric_gen.simulation.trajectory import Trajectory

pytest.importorskip("bpy")

# plain sRGB output, so that colours can be checked exactly (kubric_gen's default is MOVi's Filmic)
FAST = RenderSettings(samples=8, adaptive_threshold=0.0, denoise=False, device="cpu", view_transform="Standard")
CLEAN = RenderSettings(samples=64, adaptive_threshold=0.0, denoise=False, device="cpu", view_transform="Standard")


def _render(scene: Scene, settings: RenderSettings = FAST, **kwargs) -> RenderResult:
    return render(scene, Trajectory.static(scene), settings, **kwargs)


def _project(scene: Scene, point, frame: int = 0) -> np.ndarray:
    cam = scene.camera
    pose = cam.pose_at(frame)
    return geometry.project(np.asarray(point, dtype=float), pose.position, pose.quaternion,
                            cam.focal_length, cam.sensor_width, scene.resolution)


def _linear(rgba: np.ndarray) -> np.ndarray:
    """Mean linear intensity (H, W) of uint8 sRGB pixels."""
    c = rgba[..., :3].astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin.mean(axis=-1)


def _centroid(weights: np.ndarray) -> np.ndarray:
    """Intensity-weighted centroid in image coordinates: pixel (r, c) centre is (c+0.5, r+0.5)."""
    rows, cols = np.indices(weights.shape)
    total = weights.sum()
    assert total > 0, "nothing bright in the image"
    return np.array([((cols + 0.5) * weights).sum() / total, ((rows + 0.5) * weights).sum() / total])


def _cube_scene(**kwargs) -> Scene:
    scene = Scene(resolution=(32, 32), num_frames=1, background=ColorBackground(color=(0.01, 0.01, 0.01)), **kwargs)
    scene.add(Cube(name="cube", scale=0.5, position=(0.2, 0.1, 0.0), euler=(0.3, 0.2, 0.4),
                   material=Flat(color=(1.0, 1.0, 1.0))))
    scene.camera = PerspectiveCamera(position=(2.5, -2.5, 1.5), look_at=(0.2, 0.1, 0.0))
    return scene


# ---------------------------------------------------------------- basics
def test_bright_cube_on_dark_background():
    scene = _cube_scene()
    result = _render(scene)
    assert isinstance(result, RenderResult)
    assert result.rgba.shape == (1, 32, 32, 4) and result.rgba.dtype == np.uint8
    assert result.device == "CPU"
    assert set(result.timings) >= {"build", "render"}
    img = result.rgba[0]
    assert (img[..., 3] == 255).all()  # film is not transparent
    x, y = _project(scene, scene.object("cube").position)
    r, c = int(y), int(x)
    assert (img[r - 1:r + 2, c - 1:c + 2, :3] > 240).all()
    for corner in (img[0, 0], img[0, -1], img[-1, 0], img[-1, -1]):
        assert (corner[:3] < 40).all()  # linear 0.01 -> sRGB ~25


def test_flat_colours_are_exact_srgb():
    """Standard view transform, no dithering: a Flat colour shows as its sRGB value."""
    scene = Scene(resolution=(16, 16), num_frames=1, background=ColorBackground(color=(0.2, 0.5, 0.0)))
    result = _render(scene, RenderSettings(samples=1, adaptive_threshold=0, denoise=False, view_transform="Standard"))
    expected = [round(255 * (1.055 * v ** (1 / 2.4) - 0.055)) if v > 0.0031308 else round(255 * 12.92 * v)
                for v in (0.2, 0.5, 0.0)]
    assert np.abs(result.rgba[0, ..., :3].astype(int) - expected).max() <= 1


def test_filmic_is_the_default_and_compresses_highlights():
    """MOVi's view transform: scene-linear 0.18 (mid-grey) shows as display 0.5 (sRGB shows 118/255),
    and a linear 4.0 is not yet white."""
    assert RenderSettings().view_transform == "Filmic"
    pixels = {}
    for transform in ("Standard", "Filmic"):
        for value in (0.18, 4.0):
            scene = Scene(resolution=(8, 8), num_frames=1, background=ColorBackground(color=(1, 1, 1), strength=value))
            settings = RenderSettings(samples=1, adaptive_threshold=0, denoise=False, view_transform=transform)
            pixels[transform, value] = int(_render(scene, settings).rgba[0, 4, 4, 0])
    assert pixels["Standard", 4.0] == 255 and pixels["Filmic", 4.0] < 250
    assert 124 <= pixels["Filmic", 0.18] <= 132 and 116 <= pixels["Standard", 0.18] <= 120


def test_background_hidden_from_the_camera_still_lights_the_scene():
    """visible_to_camera=False (Kubric's ambient light): black where nothing is hit, yet a white ball is lit."""
    def ball(visible: bool) -> np.ndarray:
        scene = Scene(resolution=(16, 16), num_frames=1,
                      background=ColorBackground(color=(1, 1, 1), strength=1.0, visible_to_camera=visible))
        scene.add(Sphere(name="ball", scale=0.5, motion="static", material=Principled(color=(1, 1, 1))))
        scene.camera = PerspectiveCamera(position=(0, -5, 0), look_at=(0, 0, 0))
        return _render(scene).rgba[0, ..., :3].astype(int)

    hidden, shown = ball(False), ball(True)
    assert hidden[0, 0].max() == 0 and shown[0, 0].min() == 255  # the corner sees the background
    assert hidden[8, 8].min() > 150 and abs(hidden[8, 8] - shown[8, 8]).max() <= 12  # the ball is lit alike


def test_casts_shadows_decides_whether_a_background_object_blocks_light():
    """By default a background object (a dome) lets the sun through; casts_shadows=True blocks it."""
    def lit(casts: bool | None) -> float:
        scene = Scene(resolution=(16, 16), num_frames=1, background=ColorBackground(color=(0, 0, 0), strength=0))
        scene.add(Cube(name="floor", scale=(5, 5, 0.1), position=(0, 0, -0.1), motion="static",
                       material=Principled(color=(0.8, 0.8, 0.8))),
                  Cube(name="roof", scale=(5, 5, 0.1), position=(0, 0, 3), motion="static", is_background=True,
                       casts_shadows=casts, material=Principled(color=(0.8, 0.8, 0.8))))
        scene.add(SunLight(direction=(0, 0, -1), strength=3.0))
        scene.camera = PerspectiveCamera(position=(0, -2, 1.5), look_at=(0, 0, 0))
        return float(_linear(_render(scene).rgba[0])[12:, 4:12].mean())

    assert lit(None) > 0.2 and lit(False) > 0.2 and lit(True) < 0.01


# ---------------------------------------------------------------- projection agreement
@pytest.mark.parametrize("resolution, position", [
    ((64, 64), (0.45, 0.0, 0.3)),
    ((64, 64), (-0.35, 0.4, -0.5)),
    ((64, 48), (0.5, -0.2, -0.25)),
    ((48, 64), (0.3, 0.1, 0.6)),
])
def test_sphere_centroid_matches_projection(resolution, position):
    scene = Scene(resolution=resolution, num_frames=1, background=ColorBackground(color=(0, 0, 0), strength=0))
    scene.add(Sphere(name="dot", scale=0.08, position=position, material=Flat(color=(1, 1, 1))))
    scene.camera = PerspectiveCamera(focal_length=40, sensor_width=32, position=(0.3, -3.0, 0.6),
                                     look_at=(0.0, 0.0, 0.0))
    result = _render(scene, CLEAN)
    expected = _project(scene, position)
    got = _centroid(_linear(result.rgba[0]))
    # measured ~0.01 px; a half-pixel convention error would show as 0.5
    assert np.abs(got - expected).max() < 0.2, (got, expected)
    # off-centre in both directions, so x and y are both tested
    assert np.abs(expected - np.array(resolution) / 2).min() > 4


# ---------------------------------------------------------------- determinism and isolation
def _lit_scene() -> Scene:
    scene = Scene(resolution=(32, 24), num_frames=1, background=ColorBackground(color=(0.1, 0.1, 0.12)))
    scene.add(Cube(name="floor", scale=(3, 3, 0.1), position=(0, 0, -0.1), motion="static",
                   material=Principled(color=(0.5, 0.5, 0.5))))
    scene.add(Sphere(name="ball", scale=0.4, position=(0, 0, 0.4),
                     material=Principled(color=(0.8, 0.2, 0.1), roughness=0.3)))
    scene.add(SunLight(direction=(-1, 1, -2), strength=3))
    scene.camera = PerspectiveCamera(position=(2, -2, 1.5), look_at=(0, 0, 0.3))
    return scene


def test_rendering_is_deterministic():
    settings = RenderSettings(samples=8, adaptive_threshold=0.05, denoise=True, device="cpu")
    first = _render(_lit_scene(), settings).rgba
    second = _render(_lit_scene(), settings).rgba
    assert np.array_equal(first, second)
    assert first.std() > 5  # a real picture, not a constant


def test_scenes_in_a_row_do_not_affect_each_other():
    b = _lit_scene()
    alone = _render(b).rgba
    a = Scene(resolution=(40, 30), num_frames=2, background=SkyBackground(strength=0.5))
    a.add(Cylinder(name="ball", scale=0.5, material=Principled(color=(0.1, 0.9, 0.1))))  # same name as in b
    a.add(Cube(name="box", scale=0.3, position=(1, 0, 0), material=Flat(color=(1, 0, 1))))
    a.add(PointLight(name="sun", position=(0, -2, 2), power=200))
    a.camera = PerspectiveCamera(position=(0, -4, 1), look_at=(0, 0, 0),
                                 path=[Pose(position=(0, -4, 1)), Pose(position=(0.5, -4, 1))])
    first = _render(a, RenderSettings(samples=4, denoise=True, motion_blur=0.5, device="cpu")).rgba
    assert first.shape == (2, 30, 40, 4)
    after = _render(b).rgba
    assert np.array_equal(alone, after)


# ---------------------------------------------------------------- motion
def _bright_centroid(img: np.ndarray) -> np.ndarray:
    w = _linear(img)
    return _centroid(np.where(w > 0.5, w, 0.0))


def test_moving_object_is_followed():
    poses = [Pose(position=(x, 0.0, z)) for x, z in ((-0.6, -0.3), (0.0, 0.0), (0.6, 0.35))]
    scene = Scene(resolution=(48, 32), num_frames=3, background=ColorBackground(color=(0, 0, 0)))
    scene.add(Cube(name="mover", scale=0.15, motion="kinematic", keyframes=poses, material=Flat(color=(1, 1, 1))))
    scene.camera = PerspectiveCamera(position=(0, -4, 0), look_at=(0, 0, 0))
    seen: list[int] = []
    result = _render(scene, progress=seen.append)
    assert seen == [0, 1, 2]
    for f, pose in enumerate(poses):
        got = _bright_centroid(result.rgba[f])
        assert np.abs(got - _project(scene, pose.position)).max() < 1.0, (f, got)
    # a subset of frames renders the same pixels as the full run
    subset = _render(scene, frames=[2, 0])
    assert subset.frames == [2, 0]
    assert np.array_equal(subset.rgba, result.rgba[[2, 0]])


def test_camera_path_moves_the_image():
    path = [Pose(position=(x, -4.0, 0.0), quaternion=tuple(geometry.look_at_quaternion((x, -4, 0), (x, 0, 0))))
            for x in (-0.5, 0.5)]
    scene = Scene(resolution=(32, 32), num_frames=2, background=ColorBackground(color=(0, 0, 0)))
    scene.add(Cube(name="box", scale=0.2, motion="static", material=Flat(color=(1, 1, 1))))
    scene.camera = PerspectiveCamera(position=path[0].position, path=path)
    result = _render(scene)
    xs = []
    for f in range(2):
        expected = _project(scene, (0, 0, 0), frame=f)
        got = _bright_centroid(result.rgba[f])
        assert np.abs(got - expected).max() < 1.0, (f, got, expected)
        xs.append(got[0])
    assert xs[0] - xs[1] > 5  # camera moves right: the box moves left in the image


def test_motion_blur_smears_a_moving_object():
    poses = [Pose(position=(x, 0.0, 0.0)) for x in (-0.4, 0.4)]
    scene = Scene(resolution=(32, 16), num_frames=2, background=ColorBackground(color=(0, 0, 0)))
    scene.add(Cube(name="mover", scale=0.1, motion="kinematic", keyframes=poses, material=Flat(color=(1, 1, 1))))
    scene.camera = PerspectiveCamera(position=(0, -3, 0), look_at=(0, 0, 0))
    sharp = _render(scene, frames=[1]).rgba[0]
    blurred = _render(scene, RenderSettings(samples=8, adaptive_threshold=0, denoise=False, motion_blur=1.0),
                      frames=[1]).rgba[0]
    lit = lambda img: int((_linear(img) > 0.05).sum())
    assert lit(blurred) > lit(sharp) + 4



def test_motion_blur_of_the_first_and_last_frames_sees_motion_on_both_sides():
    """Frames -1 and T are keyframed too, so the blur of frame 0 and of the last frame is as
    wide as that of a middle frame (a constant-velocity mover)."""
    poses = [Pose(position=(x, 0.0, 0.0)) for x in (-0.5, 0.0, 0.5)]
    scene = Scene(resolution=(96, 16), num_frames=3, background=ColorBackground(color=(0, 0, 0)))
    scene.add(Cube(name="mover", scale=0.08, motion="kinematic", keyframes=poses, material=Flat(color=(1, 1, 1))))
    scene.camera = PerspectiveCamera(position=(0, -3, 0), look_at=(0, 0, 0))
    blurred = _render(scene, RenderSettings(samples=16, adaptive_threshold=0, denoise=False, motion_blur=1.0))
    widths = [int(((_linear(img) > 0.02).any(axis=0)).sum()) for img in blurred.rgba]
    assert abs(widths[0] - widths[1]) <= 3 and abs(widths[2] - widths[1]) <= 3, widths  # half-blurred: -8 px


# ---------------------------------------------------------------- everything the scene offers
def test_all_lights_materials_and_sky_render():
    scene = Scene(resolution=(32, 24), num_frames=1, background=SkyBackground(sun_elevation=0.4, strength=0.2))
    scene.add(Cube(name="floor", scale=(3, 3, 0.1), position=(0, 0, -0.1), motion="static"))
    scene.add(Sphere(name="metal", scale=0.3, position=(-0.6, 0, 0.3),
                     material=Principled(color=(0.9, 0.8, 0.2), metallic=1.0, roughness=0.2)))
    scene.add(Cylinder(name="glass", scale=(0.25, 0.25, 0.4), position=(0.6, 0, 0.4),
                       material=Principled(transmission=1.0, ior=1.5, roughness=0.0)))
    scene.add(Cube(name="lamp", scale=0.1, position=(0, 0.8, 0.3),
                   material=Principled(emission=(1, 0.5, 0.2), emission_strength=5.0)))
    scene.add(SunLight(direction=(1, 1, -2), strength=1, angle=0.1),
              PointLight(position=(0, -1.5, 1.5), power=50, radius=0.2, color=(1, 0.9, 0.8)),
              AreaLight(position=(1.5, -1, 2), look_at=(0, 0, 0), power=100, size=0.5),
              SpotLight(position=(-1.5, -1, 2), look_at=(0, 0, 0), power=200, spot_size=0.6, blend=0.3))
    scene.camera = PerspectiveCamera(position=(0, -3, 1.2), look_at=(0, 0, 0.3))
    img = _render(scene, RenderSettings(samples=4, denoise=True, device="auto")).rgba[0]
    assert img[..., :3].std() > 10
    assert (img[..., 3] == 255).all()


# One light of each type and the floor quadrant it alone should light (the quadrant's centre,
# world x, y): the spot and the area light aim at theirs from outside the camera's view, the point
# light hangs low over its own, and the slanted sun reaches only its quadrant past two roofs.
SUN_SLANT = 0.25  # the sun travels along (SUN_SLANT, SUN_SLANT, -1)
ROOF_HEIGHT = 4.0  # above the camera (2.5 m): the roofs block the sun but are never seen
REGION_LIGHTS = {
    "spot": ((-0.8, 0.8), SpotLight(position=(-1.8, 1.8, 2.0), look_at=(-0.8, 0.8, 0.0), power=150,
                                    radius=0.02, spot_size=0.35, blend=0.1)),
    "point": ((-0.8, -0.8), PointLight(position=(-0.8, -0.8, 0.5), power=6, radius=0.02)),
    "area": ((0.8, -0.8), AreaLight(position=(1.7, -0.8, 0.4), look_at=(0.8, -0.8, 0.0), power=10, size=0.4)),
    "sun": ((0.8, 0.8), SunLight(direction=(SUN_SLANT, SUN_SLANT, -1), strength=2.4, angle=0.01)),
}


def _region_light_scene(names) -> Scene:
    """A grey diffuse floor ([-2, 2]^2) seen from straight above, lit by the lights `names` of
    REGION_LIGHTS, on a black world that gives no light."""
    scene = Scene(resolution=(32, 32), num_frames=1, background=ColorBackground(color=(0, 0, 0), strength=0.0))
    scene.add(Cube(name="floor", scale=(2, 2, 0.1), position=(0, 0, -0.1), motion="static",
                   material=Principled(color=(0.8, 0.8, 0.8), roughness=1.0)))
    # black roofs over every floor point but x > 0, y > 0 as the slanted sun sees them: the
    # floor point (x, y) looks up the sun's ray to (x - s h, y - s h) at the roofs' height h
    black, shift = Principled(color=(0, 0, 0), roughness=1.0), SUN_SLANT * ROOF_HEIGHT
    scene.add(Cube(name="roof_y_below_0", scale=(4, 1.5, 0.05), position=(-shift, -shift - 1.5, ROOF_HEIGHT),
                   motion="static", material=black),
              Cube(name="roof_x_below_0", scale=(2, 2, 0.05), position=(-shift - 2, 2 - shift, ROOF_HEIGHT),
                   motion="static", material=black))
    scene.add(*(REGION_LIGHTS[n][1] for n in names))
    scene.camera = PerspectiveCamera(position=(0, 0, 2.5), focal_length=25.0)  # looking down -Z: 3.2 m wide
    return scene


def test_each_light_type_lights_its_own_region():
    """Each light type lights its own quadrant of a diffuse floor: the quadrant is lit with all
    the lights and much darker without its own light, and taking a light away leaves the other
    quadrants about as they were. A light type that renders nothing, or lights another place
    (wrong position or orientation), fails. Five 32x32 renders of 8 samples."""
    names = list(REGION_LIGHTS)

    def quadrants(lights) -> dict[str, float]:
        scene = _region_light_scene(lights)
        lum = _linear(_render(scene).rgba[0])
        out = {}
        for name, ((x, y), _) in REGION_LIGHTS.items():
            col, row = np.floor(_project(scene, (x, y, 0.0))).astype(int)  # a 6x6 window at the centre
            out[name] = float(np.median(lum[row - 3:row + 3, col - 3:col + 3]))
        return out

    everything = quadrants(names)
    without = {name: quadrants([n for n in names if n != name]) for name in names}
    table = "\n".join(f"without {n:5}: " + ", ".join(f"{q} {v:.3f}" for q, v in without[n].items())
                      for n in names)
    table = "all lights   : " + ", ".join(f"{q} {v:.3f}" for q, v in everything.items()) + "\n" + table
    for name in names:
        assert everything[name] > 0.15, f"the {name} light's quadrant is not lit\n{table}"
    for name in names:
        assert without[name][name] < 0.1 * everything[name], \
            f"the {name} light's quadrant stays lit without it\n{table}"
    for name in names:
        for other in names:
            if other != name:
                assert without[name][other] > 0.8 * everything[other], \
                    f"the {name} light lights the {other} light's quadrant\n{table}"


def test_blender_meshes_keep_the_triangles_and_shade_by_angle():
    import bpy

    from kubric_gen import meshes
    from kubric_gen.render import blender
    from kubric_gen.scene import Scene
    from kubric_gen.simulation.parts import scene_parts

    try:
        blender._reset()
        for obj, sharp in ((Cube(name="c"), 12), (Sphere(name="s"), 0), (Cylinder(name="y"), 128)):
            tm = meshes.object_mesh(obj)
            [part] = scene_parts(Scene(objects=[obj]))
            me = blender._new_mesh(part.key, part)
            co = np.empty(len(me.vertices) * 3, dtype=np.float32)
            me.vertices.foreach_get("co", co)
            tri = np.empty(len(me.loops), dtype=np.int32)
            me.loops.foreach_get("vertex_index", tri)
            assert len(me.polygons) == len(tm.faces)
            np.testing.assert_allclose(co.reshape(-1, 3)[tri.reshape(-1, 3)], tm.vertices[tm.faces], atol=1e-6)
            assert all(p.use_smooth for p in me.polygons)
            assert sum(e.use_edge_sharp for e in me.edges) == sharp
            assert not bpy.data.objects  # nothing else created
    finally:
        blender._reset()


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, field", [
    ({"samples": 0}, "samples"),
    ({"samples": 2.5}, "samples"),
    ({"device": "tpu"}, "device"),
    ({"adaptive_threshold": -1}, "adaptive_threshold"),
    ({"threads": -2}, "threads"),
    ({"motion_blur": float("nan")}, "motion_blur"),
    ({"denoise": "yes"}, "denoise"),
    ({"adaptive_min_samples": -1}, "adaptive_min_samples"),
    ({"adaptive_min_samples": 1.5}, "adaptive_min_samples"),
    ({"light_tree": "yes"}, "light_tree"),
])
def test_settings_validation(kwargs, field):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        RenderSettings(**kwargs)


def test_settings_defaults():
    s = RenderSettings()
    assert (s.samples, s.adaptive_threshold, s.adaptive_min_samples, s.light_tree, s.denoise, s.device, s.threads,
            s.motion_blur) == (256, 0.05, 16, "auto", True, "auto", 0, 0.0)
    assert RenderSettings(device="OPTIX").device == "optix"


def test_bad_arguments_raise_config_errors():
    scene = _cube_scene()
    with pytest.raises(ConfigError, match="frames"):
        _render(scene, frames=[1])
    other = _cube_scene()
    other.add(Sphere(name="extra"))
    with pytest.raises(ConfigError, match="trajectory"):
        render(scene, Trajectory.static(other), FAST)
    broken = Trajectory.static(scene)
    broken.positions[0, 0, 0] = math.nan
    with pytest.raises(ConfigError, match="finite"):
        render(scene, broken, FAST)


def test_unavailable_gpu_is_a_config_error():
    import bpy

    prefs = bpy.context.preferences.addons["cycles"].preferences
    if prefs.get_devices_for_type("CUDA") and [d for d in prefs.get_devices_for_type("CUDA") if d.type == "CUDA"]:
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(KubricGenError, match="device: no CUDA device"):
        _render(_cube_scene(), RenderSettings(samples=1, device="cuda"))


def test_importing_does_not_import_bpy():
    code = "import sys, kubric_gen, kubric_gen.render; assert 'bpy' not in sys.modules, 'bpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_light_tree_is_on_for_more_than_8_emitters_unless_asked():
    from kubric_gen.render import blender

    scene = _cube_scene()  # one Flat (emitting) cube
    for k in range(7):
        scene.add(SunLight(name=f"sun{k}", direction=(0, 0, -1)))
    assert not blender._light_tree(scene, RenderSettings())  # 8 emitters: off
    scene.add(Cube(name="glowing", position=(3, 0, 0), material=Principled(emission_strength=2.0)))
    assert blender._light_tree(scene, RenderSettings())  # 9
    assert not blender._light_tree(scene, RenderSettings(light_tree="off"))
    assert blender._light_tree(Scene(resolution=(8, 8), num_frames=1), RenderSettings(light_tree="on"))
