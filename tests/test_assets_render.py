"""A converted Google-Scanned-Objects-style model renders with its own UV-mapped texture."""

import numpy as np
import trimesh
from PIL import Image

import kubric_gen as kg
from kubric_gen import geometry
from kubric_gen.assets import AssetLibrary, convert_folder
from kubric_gen.render import RenderSettings, render
from kubric_gen.simulation import physics


def _gso_panel(root):
    """<model>/meshes/model.obj + materials/textures/texture.png: a flat box whose front
    face (towards -y) shows the texture: red on the left half, blue on the right."""
    model = root / "gso" / "panel"
    (model / "meshes").mkdir(parents=True)
    (model / "materials" / "textures").mkdir(parents=True)
    texture = np.zeros((8, 16, 3), dtype=np.uint8)
    texture[:, :8] = (220, 20, 20)
    texture[:, 8:] = (20, 20, 220)
    Image.fromarray(texture).save(model / "materials" / "textures" / "texture.png")
    box = trimesh.creation.box(extents=(1.0, 0.2, 1.0))
    uv = np.stack([box.vertices[:, 0] + 0.5, box.vertices[:, 2] + 0.5], -1)  # u along x, v along z
    lines = ["mtllib model.mtl", "usemtl material_0"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in box.vertices]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
    lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in face) for face in box.faces]
    (model / "meshes" / "model.obj").write_text("\n".join(lines) + "\n")
    (model / "meshes" / "model.mtl").write_text("newmtl material_0\nmap_Kd texture.png\n")
    return root / "gso"


def test_converted_textured_model_renders_its_texture(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBRIC_GEN_CACHE", str(tmp_path / "cache"))
    result = convert_folder(_gso_panel(tmp_path), tmp_path / "library", collision="convex_hull", progress=False)
    assert result.converted == ["panel"] and not result.failed
    library = AssetLibrary.load(tmp_path / "library")
    panel = library.make("panel", name="panel", scale=0.5, motion="static")  # back to 1 m wide
    assert panel.material.texture and panel.material.texture.endswith(".png")
    scene = kg.Scene(resolution=(32, 32), num_frames=1, objects=[panel],
                     background=kg.ColorBackground(color=(0, 0, 0)),
                     camera=kg.PerspectiveCamera(position=(0, -4, 0), look_at=(0, 0, 0)),
                     lights=[kg.SunLight(direction=(0.6, 1, -0.6), strength=2.0)])  # no mirror glint
    rgba = render(scene, physics.simulate(scene), RenderSettings(samples=16, denoise=False)).rgba[0]
    cam = scene.camera
    for x, channel in ((-0.25, 0), (0.25, 2)):  # left half red, right half blue
        col, row = geometry.project((x, -0.1, 0.0), cam.position, cam.quaternion, cam.focal_length,
                                    cam.sensor_width, scene.resolution).astype(int)
        pixel = rgba[row, col, :3].astype(int)
        assert pixel[channel] > 80 and pixel[channel] > 2 * pixel[2 - channel], (x, pixel)
