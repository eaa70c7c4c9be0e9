import json
from pathlib import Path

import numpy as np
import png
import pytest
import tifffile
from kubric_png import check_scene_pngs, ihdr_bit_depth, kubric_read_png
from PIL import Image

import kubric_gen.io as kgio
from kubric_gen.errors import KubricGenError
from kubric_gen.io import layers as L
from kubric_gen.truth.result import GroundTruth, PointTracks

REFERENCE = Path(__file__).parents[2] / "shared/reference/kubric_movi_a_128"
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason="needs ../shared/reference")


def make_gt(rng, t=3, h=12, w=10, num_instances=5, tracks=True) -> GroundTruth:
    depth = rng.uniform(0.5, 40.0, (t, h, w)).astype(np.float32)
    depth[rng.random((t, h, w)) < 0.2] = np.inf
    normal = rng.normal(size=(t, h, w, 3))
    normal = (normal / np.linalg.norm(normal, axis=-1, keepdims=True)).astype(np.float32)
    normal[np.isinf(depth)] = 0
    pt = None
    if tracks:
        n = 7
        pt = PointTracks(
            query_points=rng.uniform(0, 10, (n, 3)).astype(np.float32),
            target_points=rng.uniform(-5, 15, (n, t, 2)).astype(np.float32),
            occluded=rng.random((n, t)) < 0.3,
        )
    return GroundTruth(
        depth=depth,
        segmentation=rng.integers(0, num_instances + 1, (t, h, w)).astype(np.int32),
        object_index=rng.integers(-1, num_instances, (t, h, w)).astype(np.int32),
        normal=normal,
        object_coordinates=rng.random((t, h, w, 3)).astype(np.float32),
        forward_flow=rng.uniform(-20.0, 13.0, (t, h, w, 2)).astype(np.float32),
        backward_flow=rng.uniform(-3.0, 25.0, (t, h, w, 2)).astype(np.float32),
        forward_flow_occlusion=rng.random((t, h, w)) < 0.3,
        backward_flow_occlusion=rng.random((t, h, w)) < 0.3,
        instances=[f"obj_{i}" for i in range(num_instances)],
        visibility=np.zeros((num_instances, t), dtype=int),
        bboxes=[],
        bbox_frames=[],
        tracks=pt,
    )


def tolerance(half_step: float, values: np.ndarray) -> float:
    """Half a quantisation step plus the float32 rounding of the decoded value."""
    return half_step + 2 * float(np.spacing(np.float32(np.abs(values).max())))


# --------------------------------------------------------------------------- quantisation


def test_quantize_round_trip_and_edges():
    x = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0, np.inf, -np.inf, np.nan])
    v = L.quantize(x, -1.0, 1.0)
    assert v.dtype == np.uint16
    assert v.tolist() == [0, 0, 32768, 49151, 65535, 65535, 65535, 0, 0]
    y = L.dequantize(v, -1.0, 1.0)
    assert y.dtype == np.float32
    assert abs(y[3] - 0.5) <= 1 / 65535
    assert L.quantize(np.ones(4), 2.0, 2.0).tolist() == [0, 0, 0, 0]
    assert L.dequantize(np.zeros(2, np.uint16), 2.0, 2.0).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError):
        L.quantize(x, 1.0, -1.0)


def test_png16_round_trip(tmp_path, rng):
    for shape in [(9, 7), (9, 7, 3), (9, 7, 4)]:
        a = rng.integers(0, 65536, shape).astype(np.uint16)
        L.write_png16(tmp_path / "a.png", a)
        b = L.read_png16(tmp_path / "a.png")
        assert b.dtype == np.uint16 and b.shape == shape
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        L.write_png16(tmp_path / "b.png", np.zeros((4, 4, 3), np.uint8))
    L.write_mask(tmp_path / "m.png", np.ones((4, 4), bool))
    with pytest.raises(KubricGenError):
        L.read_png16(tmp_path / "m.png")


# --------------------------------------------------------------------------- segmentation, depth


def test_segmentation_palette_png(tmp_path, rng):
    seg = rng.integers(0, 8, (20, 30)).astype(np.int32)
    L.write_segmentation(tmp_path / "s.png", seg)
    with Image.open(tmp_path / "s.png") as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), seg)
        palette = np.asarray(im.getpalette()[:24]).reshape(8, 3)
    assert palette[0].tolist() == [0, 0, 0]
    assert len({tuple(c) for c in palette}) == 8
    out = L.read_segmentation(tmp_path / "s.png")
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, seg)


@pytest.mark.parametrize("colours", [1, 2, 3, 4, 5, 16, 17, 256])
def test_segmentation_png_is_8bit_for_every_palette_size(tmp_path, rng, colours):
    """Kubric's reader (pypng, bit depth 8 or 16 only) reads our palette PNGs of any size: Pillow
    would store a palette of up to 16 colours at 1, 2 or 4 bits."""
    seg = rng.integers(0, colours, (9, 7)).astype(np.int32)
    L.write_segmentation(tmp_path / "s.png", seg, num_instances=colours - 1)
    assert ihdr_bit_depth(tmp_path / "s.png") == 8
    np.testing.assert_array_equal(kubric_read_png(tmp_path / "s.png")[..., 0], seg)
    info = png.Reader(filename=str(tmp_path / "s.png")).read()[3]
    assert info["palette"] == L.segmentation_palette(colours)  # exactly the instances' colours, as Kubric's
    np.testing.assert_array_equal(L.read_segmentation(tmp_path / "s.png"), seg)


def test_segmentation_palette_is_distinct_and_stable():
    pal = L.segmentation_palette(256)
    assert pal[0] == (0, 0, 0) and len(set(pal)) == 256
    assert L.segmentation_palette(8) == pal[:8]


def test_segmentation_many_instances_is_16bit(tmp_path, rng):
    seg = rng.integers(0, 301, (20, 30)).astype(np.int32)
    seg[0, 0] = 300
    L.write_segmentation(tmp_path / "s.png", seg)
    with Image.open(tmp_path / "s.png") as im:  # Pillow reads 16-bit greyscale correctly
        assert im.mode != "P"
        np.testing.assert_array_equal(np.asarray(im).astype(np.int32), seg)
    assert L.read_png16(tmp_path / "s.png").max() == 300
    np.testing.assert_array_equal(L.read_segmentation(tmp_path / "s.png"), seg)
    # num_instances > 255 forces 16 bits even when the frame's ids are small (same format in every frame)
    L.write_segmentation(tmp_path / "t.png", np.zeros((4, 4), np.int32), num_instances=300)
    assert L.read_png16(tmp_path / "t.png").dtype == np.uint16
    for bad in (np.full((2, 2), 65536), np.full((2, 2), -1)):
        with pytest.raises(ValueError):
            L.write_segmentation(tmp_path / "u.png", bad)


def test_depth_tiff(tmp_path, rng):
    d = rng.uniform(0.1, 100, (16, 12)).astype(np.float32)
    d[3, 4] = np.inf
    L.write_depth(tmp_path / "d.tiff", d)
    with tifffile.TiffFile(tmp_path / "d.tiff") as tif:
        page = tif.pages[0]
        assert page.dtype == np.float32 and page.compression == 1
        raw = tif.asarray()
    assert raw.shape == (16, 12, 1)
    np.testing.assert_array_equal(raw[..., 0], d)
    np.testing.assert_array_equal(L.read_depth(tmp_path / "d.tiff"), d)


# --------------------------------------------------------------------------- scene directory


def test_write_read_layers_round_trip(tmp_path, rng):
    gt = make_gt(rng)
    ranges = L.write_layers(tmp_path, gt)
    t = gt.depth.shape[0]

    with open(tmp_path / "data_ranges.json") as f:
        text = f.read()
    assert json.loads(text) == ranges
    assert text.startswith('{\n  "backward_flow"')
    assert sorted(ranges) == ["backward_flow", "depth", "forward_flow"]
    finite = gt.depth[np.isfinite(gt.depth)]
    assert ranges["depth"] == {"min": float(finite.min()), "max": float(finite.max())}
    assert ranges["forward_flow"] == {"min": float(gt.forward_flow.min()), "max": float(gt.forward_flow.max())}
    for name in ["depth_%05d.tiff", "segmentation_%05d.png", "normal_%05d.png", "object_coordinates_%05d.png",
                 "forward_flow_%05d.png", "backward_flow_%05d.png", "occlusion_forward_%05d.png",
                 "occlusion_backward_%05d.png"]:
        assert [(tmp_path / (name % i)).is_file() for i in range(t + 1)] == [True] * t + [False]
    assert not (tmp_path / "layers.npz").exists()
    # 6 segmentation ids (a palette Pillow would store at 4 bits): every PNG 8- or 16-bit, read by Kubric's rules
    assert check_scene_pngs(tmp_path) == 7 * t

    out = kgio.read_layers(tmp_path)
    assert sorted(out) == sorted(L.FLOAT_LAYERS)
    np.testing.assert_array_equal(out["depth"], gt.depth)
    assert out["depth"].dtype == np.float32
    np.testing.assert_array_equal(out["segmentation"], gt.segmentation)
    assert out["segmentation"].dtype == np.int32
    for name in L.OCCLUSION_LAYERS:
        assert out[name].dtype == bool
        np.testing.assert_array_equal(out[name], getattr(gt, name))
    assert np.abs(out["normal"] - gt.normal).max() <= tolerance(1 / 65535, gt.normal)
    assert np.abs(out["object_coordinates"] - gt.object_coordinates).max() <= tolerance(0.5 / 65535, 1.0)
    for name in L.FLOW_LAYERS:
        flow = getattr(gt, name)
        assert out[name].shape == flow.shape and out[name].dtype == np.float32
        half = (ranges[name]["max"] - ranges[name]["min"]) / 65535 / 2
        assert np.abs(out[name] - flow).max() <= tolerance(half, flow)
        assert (L.read_png16(tmp_path / f"{name}_00001.png")[..., 2] == 0).all()

    tracks = kgio.read_tracks(tmp_path)
    for field in ("query_points", "target_points", "occluded"):
        a, b = getattr(tracks, field), getattr(gt.tracks, field)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_occlusion_png_holds_zero_and_one(tmp_path, rng):
    gt = make_gt(rng, tracks=False)
    L.write_layers(tmp_path, gt)
    with Image.open(tmp_path / "occlusion_forward_00000.png") as im:
        assert im.mode == "L"
        a = np.asarray(im)
    assert set(np.unique(a).tolist()) == {0, 1}
    np.testing.assert_array_equal(a == 1, gt.forward_flow_occlusion[0])
    assert kgio.read_tracks(tmp_path) is None


def test_independent_readers(tmp_path, rng):
    gt = make_gt(rng, tracks=False)
    L.write_layers(tmp_path, gt)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "depth_00002.tiff")[..., 0], gt.depth[2])
    with Image.open(tmp_path / "segmentation_00001.png") as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), gt.segmentation[1])


def test_float_layers_bit_exact(tmp_path, rng):
    gt = make_gt(rng)
    L.write_layers(tmp_path, gt, float_layers=True)
    exact = kgio.read_float_layers(tmp_path)
    assert sorted(exact) == sorted(L.FLOAT_LAYERS)
    for name, a in exact.items():
        b = getattr(gt, name)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()


def test_all_equal_layers_and_no_hits(tmp_path, rng):
    gt = make_gt(rng, tracks=False)
    gt.depth[:] = np.inf
    gt.forward_flow[:] = 0.0
    gt.backward_flow[:] = 1.5
    ranges = L.write_layers(tmp_path, gt)
    assert ranges["depth"] == {"min": 0.0, "max": 0.0}
    assert ranges["backward_flow"] == {"min": 1.5, "max": 1.5}
    out = kgio.read_layers(tmp_path)
    assert np.isinf(out["depth"]).all()
    assert (out["forward_flow"] == 0).all() and (out["backward_flow"] == 1.5).all()


def test_write_layers_rejects_bad_input(tmp_path, rng):
    gt = make_gt(rng, tracks=False)
    gt.normal = gt.normal[:, :-1]
    with pytest.raises(ValueError, match="normal"):
        L.write_layers(tmp_path, gt)
    gt = make_gt(rng, tracks=False)
    gt.forward_flow[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="forward_flow"):
        L.write_layers(tmp_path, gt)


def test_read_layers_rejects_gaps(tmp_path, rng):
    L.write_layers(tmp_path, make_gt(rng, tracks=False))
    (tmp_path / "normal_00001.png").unlink()
    with pytest.raises(KubricGenError, match="normal"):
        kgio.read_layers(tmp_path)
    with pytest.raises(KubricGenError):
        kgio.read_layers(tmp_path / "missing")


# --------------------------------------------------------------------------- Kubric's reference directory


@needs_reference
def test_reads_kubric_reference():
    out = kgio.read_layers(REFERENCE)
    assert "forward_flow_occlusion" not in out
    meta = json.loads((REFERENCE / "metadata.json").read_text())
    ranges = json.loads((REFERENCE / "data_ranges.json").read_text())

    seg = out["segmentation"]
    assert seg.shape == (8, 128, 128) and seg.dtype == np.int32
    assert meta["metadata"]["num_instances"] == 7
    assert set(np.unique(seg).tolist()) <= set(range(8)) and seg.max() == 7

    depth = out["depth"]
    assert depth.shape == (8, 128, 128) and depth.dtype == np.float32
    assert 6.6 <= depth.min() and depth.max() <= 55

    for name in L.FLOW_LAYERS:
        flow = out[name]
        assert flow.shape == (8, 128, 128, 2)
        assert ranges[name]["min"] - 1e-5 <= flow.min() and flow.max() <= ranges[name]["max"] + 1e-5
        assert np.abs(flow).max() > 0
        raw = L.read_png16(REFERENCE / f"{name}_00000.png")
        assert raw.dtype == np.uint16 and raw.shape == (128, 128, 3)
        assert len(np.unique(raw[..., :2])) > 256

    length = np.linalg.norm(out["normal"], axis=-1)
    assert np.mean((length > 0.95) & (length < 1.05)) > 0.9
    assert out["object_coordinates"].shape == (8, 128, 128, 3)
    assert 0 <= out["object_coordinates"].min() and out["object_coordinates"].max() <= 1


@needs_reference
def test_rewriting_kubric_reference_keeps_its_layers(tmp_path):
    """Kubric's layers, written with our writer and read back: same kind of files, same values."""
    ref = kgio.read_layers(REFERENCE)
    for t in range(2):
        L.write_segmentation(tmp_path / f"segmentation_{t:05d}.png", ref["segmentation"][t], num_instances=7)
        L.write_depth(tmp_path / f"depth_{t:05d}.tiff", ref["depth"][t])
        with Image.open(tmp_path / f"segmentation_{t:05d}.png") as ours, \
                Image.open(REFERENCE / f"segmentation_{t:05d}.png") as theirs:
            assert ours.mode == theirs.mode == "P"
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
        # the same kind of file in its header: bit depth, one plane of palette indices (pypng's view: Kubric's reader)
        ours, theirs = (png.Reader(filename=str(d / f"segmentation_{t:05d}.png")).read()[3]
                        for d in (tmp_path, REFERENCE))
        assert (ours["bitdepth"], ours["planes"]) == (theirs["bitdepth"], theirs["planes"]) == (8, 1)
        assert ours["palette"] == L.segmentation_palette(8)  # background and the 7 instances
        assert ihdr_bit_depth(tmp_path / f"segmentation_{t:05d}.png") == 8
        np.testing.assert_array_equal(kubric_read_png(tmp_path / f"segmentation_{t:05d}.png"),
                                      kubric_read_png(REFERENCE / f"segmentation_{t:05d}.png"))
        with tifffile.TiffFile(tmp_path / f"depth_{t:05d}.tiff") as ours, \
                tifffile.TiffFile(REFERENCE / f"depth_{t:05d}.tiff") as theirs:
            for attr in ("shape", "dtype", "compression", "photometric", "samplesperpixel"):
                assert getattr(ours.pages[0], attr) == getattr(theirs.pages[0], attr)
            np.testing.assert_array_equal(ours.asarray(), theirs.asarray())
    for name in ("normal", "forward_flow"):
        raw = L.read_png16(REFERENCE / f"{name}_00000.png")
        L.write_png16(tmp_path / "x.png", raw)
        np.testing.assert_array_equal(L.read_png16(tmp_path / "x.png"), raw)
