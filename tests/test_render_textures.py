"""UV-mapped textures, HDRI backgrounds and the scene's motion blur, rendered with real Cycles."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import trimesh
from assetgen import write_hdr
from PIL import Image

from kubric_gen import geometry, meshes
from kubric_gen.errors import ConfigError
from kubric_gen.render import RenderSettings, render
from kubric_gen.scene import (
    ColorBackground,
    Cube,
    Flat,
    HdriBackground,
    MeshObject,
    PerspectiveCamera,
    Pose,
    Principled,
    Scene,
    Sphere,
)
from kubric_gen.simulation.trajectory import Trajectory

pytest.importorskip("bpy")

FAST = RenderSettings(samples=4, adaptive_threshold=0.0, denoise=False, device="cpu", view_transform="Standard")
# sRGB texels (row 0 is the top of the image): top-left, top-right / bottom-left, bottom-right
CHECKER = np.array([[[200, 30, 30], [30, 200, 30]], [[30, 30, 200], [220, 220, 40]]], dtype=np.uint8)
RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)


# ---------------------------------------------------------------- fixtures: files written here
@pytest.fixture(scope="module")
def textured_plane(tmp_path_factory) -> tuple[str, str]:
    """A square of two triangles in the XZ plane (x, z in [-1, 1], facing -Y) with UVs (0, 0) at
    the bottom-left and (1, 1) at the top-right, as OBJ + MTL + PNG; and the checker PNG."""
    folder = tmp_path_factory.mktemp("plane")
    vertices = np.array([[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1]], dtype=float)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.fromarray(CHECKER))
    mesh = trimesh.Trimesh(vertices, faces, visual=visual, process=False)
    path = str(folder / "plane.obj")
    mesh.export(path)
    texture = str(folder / "checker.png")
    # 2x2 colour blocks of 8x8 texels: (bilinear) texture filtering leaves the blocks' insides exact
    Image.fromarray(CHECKER.repeat(8, axis=0).repeat(8, axis=1)).save(texture)
    return path, texture


def _seam_cube_obj(path: str) -> None:
    """A cube whose six faces each take their own (separate) tile of a 3x2 atlas: 24 distinct
    (vertex, uv) corners on 8 positions."""
    corners = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    lines = [f"v {x} {y} {z}" for x, y, z in corners]
    for k in range(6):
        u0, v0 = (k % 3) / 3, (k // 3) / 2
        lines += [f"vt {u0 + (0.1 + 0.8 * du) / 3:.6f} {v0 + (0.1 + 0.8 * dv) / 2:.6f}"
                  for du, dv in ((0, 0), (1, 0), (1, 1), (0, 1))]
    for k, quad in enumerate(quads):
        a, b, c, d = (f"{v + 1}/{4 * k + j + 1}" for j, v in enumerate(quad))
        lines += [f"f {a} {b} {c}", f"f {a} {c} {d}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def hdri(tmp_path_factory) -> str:
    """16x8 equirectangular: left half red, right half blue. In Blender's mapping the image centre
    column looks along +X and u grows clockwise seen from above, so red lies towards +Y, blue towards -Y."""
    rgb = np.zeros((8, 16, 3))
    rgb[:, :8] = RED
    rgb[:, 8:] = BLUE
    path = str(tmp_path_factory.mktemp("hdri") / "halves.hdr")
    write_hdr(Path(path), rgb)
    return path


def _render(scene: Scene, settings: RenderSettings = FAST, **kwargs) -> np.ndarray:
    return render(scene, Trajectory.static(scene), settings, **kwargs).rgba


def _pixel(scene: Scene, point) -> tuple[int, int]:
    """(row, col) of the pixel containing the projection of a world point."""
    cam = scene.camera
    x, y = geometry.project(np.asarray(point, dtype=float), cam.position, cam.quaternion, cam.focal_length,
                            cam.sensor_width, scene.resolution)
    return int(math.floor(y)), int(math.floor(x))


# ---------------------------------------------------------------- meshes: UVs survive loading
def test_object_uv_of_obj_with_texture(textured_plane):
    path, _ = textured_plane
    obj = MeshObject(name="plane", path=path)
    mesh, uv = meshes.object_mesh(obj), meshes.object_uv(obj)
    assert len(mesh.faces) == 2
    assert uv is not None and uv.shape == (len(mesh.vertices), 2) and not uv.flags.writeable
    # every vertex keeps the UV it has in the file
    expected = {(-1.0, -1.0): (0, 0), (1.0, -1.0): (1, 0), (1.0, 1.0): (1, 1), (-1.0, 1.0): (0, 1)}
    for v, t in zip(mesh.vertices, uv, strict=True):
        np.testing.assert_allclose(t, expected[(v[0], v[2])])
    assert meshes.object_uv(Cube(name="c")) is None and meshes.object_uv(Sphere(name="s")) is None


def test_uv_seams_are_kept(tmp_path):
    path = str(tmp_path / "cube.obj")
    _seam_cube_obj(path)
    obj = MeshObject(name="cube", path=path)
    mesh, uv = meshes.object_mesh(obj), meshes.object_uv(obj)
    assert len(mesh.faces) == 12 and len(mesh.vertices) == 24
    assert len(np.unique(np.round(mesh.vertices, 6), axis=0)) == 8  # 8 positions, split at the seams
    assert len(np.unique(np.c_[mesh.vertices, uv].round(6), axis=0)) == 24
    # the geometry is that of the cube: every triangle corner lies on it, each face's UVs inside its tile
    np.testing.assert_allclose(np.abs(mesh.vertices), 1.0)
    tiles = np.floor(uv[mesh.faces].mean(axis=1) * (3, 2))
    assert len(np.unique(tiles, axis=0)) == 6


def test_glb_keeps_uvs_with_v_up(textured_plane, tmp_path):
    path, _ = textured_plane
    glb = str(tmp_path / "plane.glb")
    trimesh.load(path, force="mesh", process=False).export(glb)  # glTF stores V down; trimesh flips it
    a, b = MeshObject(name="a", path=path), MeshObject(name="b", path=glb)
    ka = {tuple(v): tuple(t) for v, t in zip(meshes.object_mesh(a).vertices, meshes.object_uv(a), strict=True)}
    kb = {tuple(v): tuple(t) for v, t in zip(meshes.object_mesh(b).vertices, meshes.object_uv(b), strict=True)}
    assert ka.keys() == kb.keys()
    for key in ka:
        np.testing.assert_allclose(kb[key], ka[key], atol=1e-6)


# ---------------------------------------------------------------- textures in Blender
def test_checker_texture_quadrants(textured_plane):
    path, texture = textured_plane
    scene = Scene(resolution=(32, 32), num_frames=1, background=ColorBackground(color=(0, 0, 0)))
    scene.add(MeshObject(name="plane", path=path, motion="static", material=Flat(texture=texture)))
    scene.camera = PerspectiveCamera(position=(0, -4, 0), look_at=(0, 0, 0))
    img = _render(scene)[0].astype(int)
    for (row, col), (x, z) in (((0, 0), (-0.5, 0.5)), ((0, 1), (0.5, 0.5)), ((1, 0), (-0.5, -0.5)),
                               ((1, 1), (0.5, -0.5))):
        r, c = _pixel(scene, (x, 0, z))
        patch = img[r - 1:r + 2, c - 1:c + 2, :3].reshape(-1, 3)
        assert np.abs(patch - CHECKER[row, col]).max() <= 3, ((row, col), patch)


def test_principled_texture_is_the_base_colour(textured_plane):
    path, texture = textured_plane
    scene = Scene(resolution=(16, 16), num_frames=1, background=ColorBackground(color=(1, 1, 1), strength=1.0))
    scene.add(MeshObject(name="plane", path=path, motion="static",
                         material=Principled(texture=texture, color=(1, 1, 1), roughness=1.0)))
    scene.camera = PerspectiveCamera(position=(0, -4, 0), look_at=(0, 0, 0))
    img = _render(scene)[0].astype(int)
    r, c = _pixel(scene, (-0.5, 0, 0.5))  # the red texel, lit by a white world
    assert img[r, c, 0] > 2 * max(img[r, c, 1], img[r, c, 2]), img[r, c]
    r, c = _pixel(scene, (0.5, 0, -0.5))  # the yellow one
    assert min(img[r, c, 0], img[r, c, 1]) > 2 * img[r, c, 2], img[r, c]


def test_texture_without_uvs_is_a_config_error(textured_plane, tmp_path):
    _, texture = textured_plane
    bare = str(tmp_path / "bare.obj")
    trimesh.creation.box().export(bare)
    for obj in (MeshObject(name="bare_mesh", path=bare, material=Flat(texture=texture)),
                Cube(name="bare_cube", material=Principled(texture=texture))):
        scene = Scene(resolution=(8, 8), num_frames=1)
        scene.add(obj)
        with pytest.raises(ConfigError, match=obj.name):
            _render(scene)


def test_unreadable_image_is_a_config_error(textured_plane, tmp_path):
    path, _ = textured_plane
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    scene = Scene(resolution=(8, 8), num_frames=1)
    scene.add(MeshObject(name="plane", path=path, material=Flat(texture=str(junk))))
    with pytest.raises(ConfigError, match="junk.png"):
        _render(scene)
    scene = Scene(resolution=(8, 8), num_frames=1, background=HdriBackground(path=str(junk)))
    with pytest.raises(ConfigError, match="junk.png"):
        _render(scene)


# ---------------------------------------------------------------- HDRI background
@pytest.mark.parametrize("rotation, towards_red", [(0.0, (0, 1, 0)), (math.pi, (0, -1, 0)),
                                                   (math.pi / 2, (-1, 0, 0))])
def test_hdri_background_direction_and_rotation(hdri, rotation, towards_red):
    scene = Scene(resolution=(8, 8), num_frames=1, background=HdriBackground(path=hdri, rotation=rotation))
    red = np.asarray(towards_red, dtype=float)
    for target, expected in ((red, (255, 0, 0)), (-red, (0, 0, 255))):
        scene.camera = PerspectiveCamera(position=(0, 0, 0), look_at=tuple(target))
        img = _render(scene)[0].astype(int)
        assert np.abs(img[..., :3] - expected).max() <= 2, (rotation, target, img[4, 4])


def test_hdri_lights_the_scene(hdri):
    scene = Scene(resolution=(16, 16), num_frames=1, background=HdriBackground(path=hdri, strength=2.0))
    scene.add(Sphere(name="ball", motion="static", material=Principled(color=(1, 1, 1), roughness=1.0)))
    scene.camera = PerspectiveCamera(position=(0, -5, 0), look_at=(0, 0, 0))
    img = _render(scene)[0].astype(int)
    assert tuple(img[0, 0, :3]) == (255, 0, 0)  # behind the ball (+Y): the red half
    ball = img[8, 8, :3]  # its front faces -Y: lit mostly by the blue half
    assert ball[2] > 60 and ball[2] > ball[0] + 20 and ball[1] < 10, ball


# ---------------------------------------------------------------- motion blur
def test_scene_motion_blur_smears_a_moving_object():
    def width(motion_blur: float, settings: RenderSettings = FAST) -> int:
        """How many image columns the cube (0.2 m wide, 0.8 m per frame) touches at frame 1."""
        scene = Scene(resolution=(64, 16), num_frames=3, motion_blur=motion_blur,
                      background=ColorBackground(color=(0, 0, 0)))
        scene.add(Cube(name="mover", scale=0.1, motion="kinematic", material=Flat(color=(1, 1, 1)),
                       keyframes=[Pose(position=(x, 0.0, 0.0)) for x in (-0.8, 0.0, 0.8)]))
        scene.camera = PerspectiveCamera(position=(0, -3, 0), look_at=(0, 0, 0))
        img = _render(scene, settings, frames=[1])[0]  # the shutter is centred on frame 1
        return int((img[..., :3].max(axis=(0, 2)) > 40).sum())

    sharp, blurred = width(0.0), width(0.5)  # 0.4 m of motion within the shutter: ~9 px
    assert blurred >= sharp + 6, (sharp, blurred)
    # the longer shutter of scene and settings wins
    longer = RenderSettings(samples=4, adaptive_threshold=0.0, denoise=False, device="cpu", motion_blur=1.0,
                            view_transform="Standard")
    longest = width(0.5, longer)
    assert longest >= blurred + 6, (blurred, longest)
    assert width(0.0, longer) == longest


def test_image_files_are_loaded_once(textured_plane):
    import bpy

    from kubric_gen.render import blender

    path, texture = textured_plane
    scene = Scene(resolution=(8, 8), num_frames=1)
    for i, material in enumerate((Flat(texture=texture), Principled(texture=texture), Flat(texture=texture,
                                                                                          strength=2.0))):
        scene.add(MeshObject(name=f"p{i}", path=path, motion="static", material=material))
    motion = blender.check_trajectory(scene, Trajectory.static(scene))
    try:
        blender._reset()
        blender.build(bpy.context.scene, scene, motion)
        assert [os.path.basename(im.filepath) for im in bpy.data.images] == ["checker.png"]
        assert bpy.data.images[0].colorspace_settings.name == "sRGB"
        assert len(bpy.data.meshes) == 1 and len(bpy.data.meshes[0].uv_layers) == 1
    finally:
        blender._reset()
