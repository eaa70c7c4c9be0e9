"""Intrinsic images (albedo, shading, glossy colour, residual) from Cycles' passes, against
closed forms: a grey floor and two cubes under a sun of angular size 0 in a black world,
seen by a camera above them. Each surface's albedo is its material's base colour; a face
lit straight by the sun and facing only the black sky has shading = strength * cos(angle) / pi;
albedo * shading + residual is Cycles' linear image, and with the Standard view transform
and no denoiser its sRGB encoding is the PNG frame."""

import dataclasses
import math

import numpy as np
import pytest

import kubric_gen as kg
from kubric_gen.io.scene_dir import intrinsics_mask
from kubric_gen.render import RenderSettings, render
from kubric_gen.simulation import physics
from kubric_gen.truth import compute_ground_truth

SUN_STRENGTH = 2.0
SUN_TILT = math.radians(35.0)  # from the zenith, towards -x
SUN_DIRECTION = (math.sin(SUN_TILT), 0.0, -math.cos(SUN_TILT))  # the light's travel direction
FLOOR, MATTE, METAL, GLASS = (0.5, 0.5, 0.5), (0.7, 0.2, 0.1), (0.9, 0.8, 0.3), (0.95, 0.95, 0.95)
SETTINGS = RenderSettings(samples=4, adaptive_threshold=0.0, denoise=False, view_transform="Standard",
                          device="cpu", threads=2, intrinsics=True)
# float32 passes summed in another order than Cycles' film: 1e-5 of the value (measured 3e-7)
IDENTITY_RTOL = 1e-5


def _scene(objects):
    floor = kg.Cube(name="floor", scale=(4.0, 4.0, 0.1), position=(0.0, 0.0, -0.1), is_background=True,
                    material=kg.Principled(color=FLOOR, specular=0.0))
    camera = kg.PerspectiveCamera(position=(0.0, -5.0, 6.0), look_at=(0.0, 0.0, 0.3), focal_length=35.0)
    return kg.Scene(resolution=(96, 72), num_frames=1, gravity=(0, 0, 0), objects=[floor, *objects], camera=camera,
                    lights=[kg.SunLight(name="sun", strength=SUN_STRENGTH, angle=0.0, direction=SUN_DIRECTION)],
                    background=kg.ColorBackground(color=(0.0, 0.0, 0.0), strength=0.0))


def _cube(name, x, material):
    return kg.Cube(name=name, scale=(0.5, 0.5, 0.5), position=(x, 0.0, 0.5), material=material)


@pytest.fixture(scope="module")
def matte():
    """The floor and a matte cube (no specular), rendered with the intrinsic passes."""
    scene = _scene([_cube("matte", 0.0, kg.Principled(color=MATTE, specular=0.0, roughness=1.0))])
    trajectory = physics.simulate(scene)
    truth = compute_ground_truth(scene, trajectory, num_tracks=0)
    return scene, truth, render(scene, trajectory, SETTINGS)


def _top_face(truth, index):
    """Pixels of object `index` whose normal points up, two pixels in from any edge (Cycles'
    pixel filter reaches 0.75 px from the centre)."""
    inner = (truth.object_index[0] == index) & (truth.normal[0, ..., 2] > 0.999)
    for _ in range(2):
        inner = inner & np.roll(inner, 1, 0) & np.roll(inner, -1, 0) & np.roll(inner, 1, 1) & np.roll(inner, -1, 1)
    return inner


def test_albedo_is_the_base_colour_and_a_sunlit_face_has_the_cosine_shading(matte):
    scene, truth, result = matte
    images = result.intrinsics
    top = _top_face(truth, 1)
    floor = _top_face(truth, 0)
    assert top.sum() > 50 and floor.sum() > 500
    np.testing.assert_allclose(images["albedo"][0][top], np.broadcast_to(MATTE, (top.sum(), 3)), atol=1e-6)
    np.testing.assert_allclose(images["albedo"][0][floor], np.broadcast_to(FLOOR, (floor.sum(), 3)), atol=1e-6)
    # the cube's top sees only the black sky: no indirect light, the sun's direct light alone,
    # as the radiance of a white Lambertian surface under the sun's irradiance E cos(angle): / pi
    expected = SUN_STRENGTH * math.cos(SUN_TILT) / math.pi
    np.testing.assert_allclose(images["shading"][0][top], expected, rtol=1e-5)
    # no speculars, no emission, a black world: nothing but the diffuse term anywhere
    assert np.abs(images["residual"]).max() == 0.0 and np.abs(images["glossy_color"]).max() == 0.0


def test_albedo_times_shading_is_the_linear_image_and_encodes_to_the_frame(matte):
    scene, truth, result = matte
    images = result.intrinsics
    linear = images["albedo"] * images["shading"] + images["residual"]
    np.testing.assert_allclose(linear, images["combined"], rtol=IDENTITY_RTOL, atol=1e-7)
    # Standard is the sRGB curve on [0, 1]; the frame is that rounded to 8 bits
    clipped = np.clip(linear, 0.0, 1.0)
    srgb = np.where(clipped <= 0.0031308, 12.92 * clipped, 1.055 * clipped ** (1 / 2.4) - 0.055)
    assert np.abs(srgb * 255 - result.rgba[..., :3]).max() <= 0.5 + 1e-3
    # the passes do not change the frame: the same bytes without them
    plain = render(scene, physics.simulate(scene), dataclasses.replace(SETTINGS, intrinsics=False))
    assert plain.intrinsics is None and np.array_equal(plain.rgba, result.rgba)


def test_a_mirror_and_a_glass_cube_follow_the_first_surface_rule():
    """Metal: no diffuse albedo, its colour in the glossy colour; glass: no diffuse albedo
    either (not the floor's, seen through it); both in the mask, and the identity holds
    through the residual."""
    scene = _scene([_cube("metal", -0.8, kg.Principled(color=METAL, metallic=1.0, roughness=0.05)),
                    _cube("glass", 0.8, kg.Principled(color=GLASS, transmission=1.0, roughness=0.0))])
    trajectory = physics.simulate(scene)
    truth = compute_ground_truth(scene, trajectory, num_tracks=0)
    result = render(scene, trajectory, SETTINGS)
    images = result.intrinsics
    metal, glass = _top_face(truth, 1), _top_face(truth, 2)
    assert metal.sum() > 30 and glass.sum() > 30
    assert images["albedo"][0][metal].max() == 0.0 and images["albedo"][0][glass].max() == 0.0
    assert np.abs(images["glossy_color"][0][metal] - METAL).max() < 0.05  # F82 tint: near the colour
    linear = images["albedo"] * images["shading"] + images["residual"]
    np.testing.assert_allclose(linear, images["combined"], rtol=IDENTITY_RTOL, atol=1e-7)
    mask = intrinsics_mask(scene, truth.object_index)
    assert mask[0][metal].all() and mask[0][glass].all()
    assert not mask[truth.object_index == 0].any() and not mask[truth.object_index < 0].any()


def test_render_intrinsics_writes_the_file_validate_checks_it_and_resume_knows_older_scenes(tmp_path, capsys):
    """`kubric-gen render --intrinsics` with Standard and no denoiser: intrinsic_images.npz holds the
    float16 images, whose sRGB encoding is the frame (validate's check, which an edited shading
    fails); movi_a's metal objects are in the mask. A scene recorded before the setting existed
    is one rendered without it, for resume."""
    from kubric_gen.cli import main
    from kubric_gen.io import SceneDir
    from kubric_gen.io import format as fmt
    from kubric_gen.io.layers import save_npz
    from kubric_gen.pipeline import resume
    from kubric_gen.pipeline.outputs import scene_name

    out = tmp_path / "scene"
    assert main(["render", "movi_a", "--seed", "4", "--output", str(out), "--resolution", "48x48", "--frames", "2",
                 "--samples", "4", "--no-denoise", "--view-transform", "Standard", "--intrinsics",
                 "--tracks", "0", "--device", "cpu"]) == 0
    sd = SceneDir(out)
    assert sd.provenance["render_settings"]["intrinsics"] is True
    images = sd.intrinsics()
    metal = [k for k, inst in enumerate(sd.metadata["instances"]) if inst["material"] == "metal"]
    seg = sd.layer("segmentation")
    for k in range(sd.num_instances):
        assert images[fmt.INTRINSIC_MASK][seg == k + 1].all() == (k in metal)
    assert main(["validate", str(out)]) == 0
    with np.load(out / fmt.INTRINSICS) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["shading"] *= np.float16(1.1)
    save_npz(out / fmt.INTRINSICS, arrays)
    capsys.readouterr()
    assert main(["validate", str(out)]) == 1
    assert "encodes to" in capsys.readouterr().out

    provenance = dict(sd.provenance, render_settings={k: v for k, v in sd.provenance["render_settings"].items()
                                                      if k != "intrinsics"})
    want = {"world": provenance["world"], "config": provenance["config"], "outputs": provenance["outputs"],
            "versions": provenance["versions"], "render_settings": dict(provenance["render_settings"],
                                                                          intrinsics=False)}
    want["render_settings"].pop("threads", None)
    assert resume.difference(provenance, scene_name(4), want) is None
    want["render_settings"]["intrinsics"] = True
    assert "intrinsics" in resume.difference(provenance, scene_name(4), want)


def test_preflight_counts_the_intrinsic_images(tmp_path, monkeypatch):
    """The disk and memory estimates grow by the intrinsic images' share when they are asked for:
    a folder with room for the scene alone refuses it with them, in one line naming --output."""
    import collections
    import shutil as shutil_module

    from kubric_gen import preflight
    from kubric_gen.errors import ConfigError

    pixels_frames = 100 * 100 * 10
    free = pixels_frames * (preflight.DISK_BYTES_PER_PIXEL_FRAME + 5)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda path: usage(free, 0, free))
    preflight.check_free_space(tmp_path, (100, 100), 10)
    with pytest.raises(ConfigError, match=r"^--output: 1 scene\(s\) of 100x100x10 need about"):
        preflight.check_free_space(tmp_path, (100, 100), 10, intrinsics=True)
    extra = preflight.scene_memory((100, 100), 10, intrinsics=True) - preflight.scene_memory((100, 100), 10)
    assert extra == pixels_frames * preflight.INTRINSICS_BYTES_PER_PIXEL_FRAME
