"""`kubric-gen render --save-blend` / `render(save_blend=...)`: the Blender scene as a .blend file
that opens in a fresh Blender, without changing the frames or what the next render sees."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from assetgen import write_hdr
from PIL import Image

from kubric_gen.io import format as fmt
from kubric_gen.render import RenderSettings, render
from kubric_gen.scene import ColorBackground, Cube, HdriBackground, MeshObject, PerspectiveCamera, Principled, Scene
from kubric_gen.simulation.trajectory import Trajectory

pytest.importorskip("bpy")
pytestmark = pytest.mark.slow

FAST = RenderSettings(samples=4, adaptive_threshold=0.0, denoise=False, device="cpu", threads=1)

# Runs in a fresh interpreter: opens the .blend and prints what the tests check, as JSON.
INSPECT = r"""
import json, sys
import bpy
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
s = bpy.context.scene
def node_colours(m):
    return [list(n.inputs["Base Color"].default_value)[:3] for n in m.node_tree.nodes
            if n.type == "BSDF_PRINCIPLED"]
info = {
    "frame_current": s.frame_current, "frame_range": [s.frame_start, s.frame_end],
    "resolution": [s.render.resolution_x, s.render.resolution_y, s.render.resolution_percentage],
    "engine": s.render.engine, "camera": s.camera.name if s.camera else None,
    "world_nodes": sorted(n.type for n in s.world.node_tree.nodes) if s.world else [],
    "objects": {o.name: {"type": o.type, "location": list(o.location),
                         "animated": bool(o.animation_data and o.animation_data.action),
                         "materials": [node_colours(sl.material) for sl in o.material_slots if sl.material]}
                for o in s.objects},
    "images": {i.name: {"packed": i.packed_file is not None, "size": list(i.size)}
               for i in bpy.data.images if i.source == "FILE"},
}
frames = {}
for f in range(s.frame_start, s.frame_end + 1):
    s.frame_set(f)
    frames[f] = {o.name: list(o.matrix_world.translation) for o in s.objects}
info["frames"] = frames
print("INFO " + json.dumps(info))
"""


def inspect_blend(path: Path) -> dict:
    """What a fresh bpy process sees in the .blend file."""
    proc = subprocess.run([sys.executable, "-c", INSPECT, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("INFO "))
    return json.loads(line[5:])


def kubric_gen(*args):
    exe = Path(sys.executable).parent / "kubric-gen"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def blend_scene(tmp_path_factory) -> Path:
    """`render --save-blend` with the options of conftest's movi_a_scene (TINY, 32x32, 3 frames,
    40 tracks, float layers, intrinsic images)."""
    out = tmp_path_factory.mktemp("blend") / "seed_00005"
    result = kubric_gen("render", "movi_a", "--seed", "5", "--output", str(out), "--resolution", "32x32",
                        "--frames", "3", "--samples", "4", "--no-denoise", "--threads", "1", "--tracks", "40",
                        "--float-layers", "--intrinsics", "--save-blend")
    assert result.returncode == 0, result.stderr
    assert f"blender scene: {out / fmt.BLEND}" in result.stdout
    return out


def test_cli_writes_scene_blend_unhashed_without_changing_the_scene(blend_scene, movi_a_scene):
    assert (blend_scene / fmt.BLEND).is_file()
    assert not (movi_a_scene / fmt.BLEND).exists()  # only when asked for
    marker = json.loads((blend_scene / fmt.COMPLETE).read_text())
    assert fmt.BLEND in marker["files"] and marker["files"][fmt.BLEND] is None  # listed, not hashed
    # the frames (and every other hashed file) are those of the same scene rendered without it
    frames = sorted(p.name for p in movi_a_scene.glob("rgba_*.png"))
    assert frames == sorted(p.name for p in blend_scene.glob("rgba_*.png")) and len(frames) == 3
    assert [_sha(blend_scene / n) for n in frames] == [_sha(movi_a_scene / n) for n in frames]
    reference = json.loads((movi_a_scene / fmt.COMPLETE).read_text())
    assert marker["content_sha256"] == reference["content_sha256"]
    provenance = json.loads((blend_scene / fmt.PROVENANCE).read_text())
    assert provenance["timings"]["save_blend"] < 5.0

    from kubric_gen.io import SceneDir
    from kubric_gen.io.validate import errors_of

    assert errors_of(SceneDir(blend_scene)) == []


def test_blend_opens_with_the_scene_at_frame_0(blend_scene):
    scene = json.loads((blend_scene / fmt.SCENE).read_text())
    metadata = json.loads((blend_scene / fmt.METADATA).read_text())
    info = inspect_blend(blend_scene / fmt.BLEND)

    assert info["engine"] == "CYCLES"
    assert info["resolution"] == [32, 32, 100]
    assert info["frame_current"] == 0 and info["frame_range"] == [0, 2]
    names = [o["name"] for o in scene["objects"]] + [x["name"] for x in scene["lights"]] + [scene["camera"]["name"]]
    assert set(info["objects"]) == set(names)
    assert info["camera"] == scene["camera"]["name"]
    np.testing.assert_allclose(info["objects"]["camera"]["location"], metadata["camera"]["positions"][0], atol=1e-4)
    np.testing.assert_allclose(info["objects"]["camera"]["location"], scene["camera"]["position"], atol=1e-4)
    assert info["world_nodes"]
    for obj in scene["objects"]:  # each object with its own material, the scene's colour
        colours = info["objects"][obj["name"]]["materials"]
        assert len(colours) == 1 and len(colours[0]) == 1, obj["name"]
        np.testing.assert_allclose(colours[0][0], obj["material"]["color"], atol=1e-6)
    # the keyframes are kept: scrubbing to frame t poses the objects as the trajectory does
    instances = {x["name"]: x for x in metadata["instances"]}
    assert any(info["objects"][n]["animated"] for n in instances)
    for t in range(3):
        for name, inst in instances.items():
            np.testing.assert_allclose(info["frames"][str(t)][name], inst["positions"][t], atol=1e-4)


def _textured_scene(folder: Path, hdri: bool = False) -> Scene:
    """A UV-mapped plane with a PNG texture (and, with `hdri`, under an HDRI sky): the images a
    .blend must carry."""
    obj = folder / "plane.obj"
    obj.write_text("v -1 0 -1\nv 1 0 -1\nv 1 0 1\nv -1 0 1\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
                   "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n")
    texels = np.zeros((16, 16, 3), dtype=np.uint8)
    texels[:8, :8], texels[8:, 8:] = (200, 30, 30), (30, 30, 200)
    Image.fromarray(texels).save(folder / "checker.png")
    background = ColorBackground(color=(0.5, 0.5, 0.5))
    if hdri:
        sky = np.ones((8, 16, 3)) * 0.5
        sky[:, :8] = (1.0, 0.2, 0.2)
        write_hdr(folder / "sky.hdr", sky)
        background = HdriBackground(path=str(folder / "sky.hdr"))
    scene = Scene(resolution=(16, 16), num_frames=1, background=background)
    scene.add(MeshObject(name="plane", path=str(obj), motion="static",
                         material=Principled(texture=str(folder / "checker.png"), roughness=1.0)))
    scene.camera = PerspectiveCamera(position=(0, -4, 0), look_at=(0, 0, 0))
    return scene


def test_saving_changes_no_pixels_and_leaves_no_state_behind(tmp_path):
    import bpy

    scene = _textured_scene(tmp_path)
    static = Trajectory.static(scene)
    before = render(scene, static, FAST).rgba
    t0 = time.perf_counter()
    saved = render(scene, static, FAST, save_blend=tmp_path / "textured.blend")
    elapsed = time.perf_counter() - t0
    after = render(scene, static, FAST).rgba
    np.testing.assert_array_equal(saved.rgba, before)  # saving does not change the frames
    np.testing.assert_array_equal(after, before)  # nor what the next render in this process sees
    assert 0 < saved.timings["save_blend"] < elapsed
    assert bpy.data.filepath == "" and len(bpy.data.objects) == 0  # back to the empty factory state


def test_images_are_packed_into_the_blend(tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    scene = _textured_scene(assets, hdri=True)
    render(scene, Trajectory.static(scene), FAST, save_blend=tmp_path / "textured.blend")
    for p in assets.iterdir():  # the .blend opens without the files it was made from
        p.unlink()
    info = inspect_blend(tmp_path / "textured.blend")
    assert sorted(info["images"]) == ["checker.png", "sky.hdr"]
    assert all(i["packed"] and i["size"][0] > 0 for i in info["images"].values()), info["images"]
    assert "TEX_ENVIRONMENT" in info["world_nodes"]
    assert len(info["objects"]["plane"]["materials"]) == 1


def test_unwritable_blend_is_an_os_error_and_the_next_render_works(tmp_path):
    scene = Scene(resolution=(8, 8), num_frames=1, background=ColorBackground(color=(0.2, 0.3, 0.4)))
    scene.add(Cube(name="cube", motion="static"))
    scene.camera = PerspectiveCamera(position=(0, -6, 2), look_at=(0, 0, 0))
    static = Trajectory.static(scene)
    with pytest.raises(OSError, match="could not save the .blend file") as error:
        render(scene, static, FAST, save_blend=tmp_path / "missing" / "scene.blend")
    assert "\n" not in str(error.value)
    assert render(scene, static, FAST).rgba.shape == (1, 8, 8, 4)
