"""Every built-in world through every stage, with tiny settings: `run` -> `validate` ->
`build-dataset` (run --tfds) -> `tfds.load` decodes every feature, which equals what
`kubric_gen.io` decodes from the scene directories (to the quantisation step).

Besides each world's defaults (2 scenes), every world with asset code of its own that takes
`hdri_dir` or an object `library` also runs (1 scene) with a generated .hdr folder and a
GSO-style folder converted by `kubric-gen assets convert`, and with mirrors of Kubric's own
GSO/KuBasic and HDRI_haven libraries in Kubric's layout (the worlds built on movi_d's objects
are covered by movi_d's runs: see SAME_ASSETS_AS_MOVI_D). Each run happens once
per module, when a test first needs it; each test checks one (world, variant). A multi-camera
world's examples are checked camera by camera against its views.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from assetgen import make_gso_folder, make_hdri_folder, make_kubric_mirror
from conftest import assert_same_samples, assert_same_tree

from kubric_gen.cli import main
from kubric_gen.io import SceneDir
from kubric_gen.world import builtin_world_names, load_world

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
tfds = pytest.importorskip("tensorflow_datasets")

# One worker: one render child per run renders both scenes (the pipeline tests cover several workers);
# with the intrinsic images, so that every world's go through each stage too.
TINY = ["--resolution", "32x32", "--frames", "4", "--samples", "2", "--workers", "1", "--intrinsics"]
WORLDS = builtin_world_names()


def _takes(world: str, key: str) -> bool:
    return key in load_world(world).defaults


# The built-in worlds whose scenes have several cameras (checked against the scenes they write).
MULTI_CAMERA = {"multiview", "stereo"}
# The built-in worlds with articulated objects (their links are parts: parts.npz, link metadata).
ARTICULATED = {"robot_arm", "legged_robot", "humanoid"}
# The built-in worlds with deformable objects (their meshes per frame: deformations.npz).
DEFORMABLE = {"cloth", "soft_toys"}
# Worlds that build their objects, floor and background with movi_d's code (movi_d.build, given a
# camera): the same objects as movi_d's for a seed (test_worlds_sharing_movi_d_assets_build_its_objects),
# so movi_d's asset variants cover their assets and they run with their defaults only (suite time).
SAME_ASSETS_AS_MOVI_D = {"movi_e", "movi_f", "point_tracking", *MULTI_CAMERA}
# Worlds whose asset code movi_d runs itself: movi_d makes its objects with movi_c's add_object and
# its background with the same call, first, from the same seed (test_movi_d_runs_movi_cs_asset_code),
# so movi_d's asset variants run movi_c's asset code too.
ASSET_CODE_IN_MOVI_D = {"movi_c"}
_ASSET_WORLDS = [w for w in WORLDS if (_takes(w, "library") or _takes(w, "hdri_dir"))
                 and w not in SAME_ASSETS_AS_MOVI_D | ASSET_CODE_IN_MOVI_D]
RUNS = [(w, "default") for w in WORLDS]
RUNS += [(w, "hdri+converted") for w in _ASSET_WORLDS]
RUNS += [(w, "kubric_mirror") for w in _ASSET_WORLDS]


def test_worlds_sharing_movi_d_assets_build_its_objects(matrix):
    """What lets those worlds skip the asset variants: with a converted library and HDRIs, seed 0
    gives them movi_d's objects, floor and background exactly."""
    from kubric_gen.world import build_scene, resolve_config

    assets = matrix.assets()
    overrides = {"library": str(assets["converted"]), "hdri_dir": str(assets["hdri"])}

    def parts(world: str) -> list:
        scene = build_scene(load_world(world), 0, resolve_config(load_world(world), overrides))
        return [scene.background, *scene.objects]

    reference = parts("movi_d")
    for world in sorted(SAME_ASSETS_AS_MOVI_D):
        assert parts(world) == reference, world


def test_movi_d_runs_movi_cs_asset_code(matrix):
    """What lets movi_c skip the asset variants: movi_d places its objects with movi_c's own
    function, and with a converted library and HDRIs seed 0 gives both the same background (an
    HDRI dome) and objects of the same library."""
    from kubric_gen.world import build_scene, resolve_config
    from kubric_gen.worlds import movi_c, movi_d

    assert movi_d.add_object is movi_c.add_object
    assets = matrix.assets()
    overrides = {"library": str(assets["converted"]), "hdri_dir": str(assets["hdri"])}
    scenes = {w: build_scene(load_world(w), 0, resolve_config(load_world(w), overrides)) for w in ASSET_CODE_IN_MOVI_D
              | {"movi_d"}}
    assert scenes["movi_d"].background.kind == "hdri", scenes["movi_d"].background
    library = {p.name for p in assets["converted"].iterdir()}
    for world, scene in scenes.items():
        assert scene.background == scenes["movi_d"].background, world
        assert {o.asset_id for o in scene.objects if not o.is_background} <= library, world


def _make_assets(root: Path) -> dict:
    """The asset folders of the asset variants: generated .hdr files and a converted GSO-style
    library, and mirrors of Kubric's GSO, KuBasic and HDRI_haven."""
    converted = root / "converted"
    assert main(["assets", "convert", str(make_gso_folder(root)), "--output", str(converted),
                 "--collision", "convex_hull"]) == 0
    return {"hdri": make_hdri_folder(root), "converted": converted,
            "gso_mirror": make_kubric_mirror(root, "GSO"), "kubasic_mirror": make_kubric_mirror(root, "KuBasic"),
            "hdri_mirror": make_kubric_mirror(root, "HDRI_haven")}


def _overrides(world: str, variant: str, assets: dict) -> list[str]:
    out = []
    if variant == "hdri+converted":
        out += [f"hdri_dir={assets['hdri']}"] if _takes(world, "hdri_dir") else []
        out += [f"library={assets['converted']}"] if _takes(world, "library") else []
    elif variant == "kubric_mirror":
        out += [f"hdri_dir={assets['hdri_mirror']}"] if _takes(world, "hdri_dir") else []
        if _takes(world, "library"):
            kubasic = load_world(world).defaults["library"] == "kubasic"
            out += [f"library={assets['kubasic_mirror' if kubasic else 'gso_mirror']}"]
    return [arg for o in out for arg in ("--set", o)]


class _Runs(dict):
    """{(world, variant): (scenes folder, dataset name, data_dir, exit status)}, each rendered and
    packaged once, when a test first asks for it (so `-k WORLD` renders that world alone)."""

    def __init__(self, root: Path, assets) -> None:
        super().__init__()
        self.root, self.assets = root, assets

    def __missing__(self, key: tuple[str, str]) -> tuple:
        world, variant = key
        scenes = self.root / world / variant
        name = f"matrix_{world}_{variant.replace('+', '_')}"
        count = "2" if variant == "default" else "1"
        previews = [] if variant == "default" else ["--no-preview"]  # previews and the viewer: per world
        overrides = _overrides(world, variant, self.assets()) if variant != "default" else []
        argv = ["run", world, "--num-scenes", count, "--output", str(scenes), *TINY, *previews,
                *overrides, "--tfds", name, "--tfds-data-dir", str(self.root / "tfds")]
        self[key] = (scenes, name, self.root / "tfds", main(argv))
        return self[key]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """The runs of RUNS, made on first use (the asset folders too: only the asset variants need them)."""
    made: dict = {}

    def assets() -> dict:
        if not made:
            made.update(_make_assets(tmp_path_factory.mktemp("matrix_assets")))
        return made

    return _Runs(tmp_path_factory.mktemp("matrix"), assets)


@pytest.mark.parametrize("world,variant", RUNS, ids=[f"{w}-{v}" for w, v in RUNS])
def test_world_runs_validates_packages_and_loads(world, variant, matrix, capsys):
    scenes, name, data_dir, status = matrix[(world, variant)]
    assert status == 0, f"kubric-gen run {world} ({variant}) failed"
    capsys.readouterr()  # the run's own output, when this test made it
    assert main(["validate", str(scenes), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checked"] == (2 if variant == "default" else 1) and report["errors"] == 0, report
    if world != "helloworld":  # no MOVi world shows the sky (a depth of +inf is a warning)
        assert report["warnings"] == 0, report

    for scene in scenes.glob("scene_*"):
        sd = SceneDir(scene)
        assert sd.is_multiview == (world in MULTI_CAMERA), scene
        if variant == "default":  # the asset variants run with --no-preview
            assert (scene / "contact_sheet.png").stat().st_size > 0
            for view in sd.views:  # a multi-camera scene's previews are its views' ([sd] for one camera)
                assert (Path(view.path) / "preview.mp4").stat().st_size > 0

    builder = tfds.builder(name, data_dir=str(data_dir))
    examples = list(tfds.as_numpy(builder.as_dataset(split="all")))
    assert len(examples) == report["checked"]
    for ex in examples:
        _check_example(ex, scenes / ex["metadata"]["video_name"].decode(), builder.info.features)


@pytest.mark.parametrize("world,variant", RUNS, ids=[f"{w}-{v}" for w, v in RUNS])
def test_world_pngs_read_as_kubric_reads_them(world, variant, matrix):
    """Every PNG of every scene (every layer, frame and view, the contact sheet) is 8- or 16-bit
    in its IHDR and Kubric's own `read_png` rules (pypng) read it to what our reader decodes:
    Kubric's `load_scene_directory` and MOVi builders read our scenes (bit depths 1/2/4 they refuse)."""
    from kubric_png import check_scene_pngs

    scenes, _, _, status = matrix[(world, variant)]
    assert status == 0, f"kubric-gen run {world} ({variant}) failed"
    for scene in sorted(scenes.glob("scene_*")):
        layers = len([layer for layer in SceneDir(scene).views[0].frame_files if layer != "depth"])
        assert check_scene_pngs(scene) >= layers * 4, scene  # 4 frames of each PNG layer, at least


# The per-instance fields Kubric's MOVi builders read from metadata.json (facts from their published code):
# every builder's common ones; MOVi-C adds category, scale and asset_id, MOVi-D/E/F is_dynamic too,
# and MOVi-E looks its asset ids up by nr_faces, category and description. kubric_gen records nr_faces and
# nr_vertices (Kubric's asset metadata) for every object.
MOVI_COMMON = ("mass", "friction", "restitution", "positions", "quaternions", "velocities", "angular_velocities",
               "bboxes_3d", "image_positions", "bboxes", "bbox_frames", "visibility")
MOVI_BUILDER_FIELDS = {"movi_c": ("asset_id", "category", "scale"),
                       "movi_d": ("asset_id", "category", "scale", "is_dynamic"),
                       "movi_e": ("asset_id", "category", "scale", "is_dynamic", "nr_faces", "description"),
                       "movi_f": ("asset_id", "category", "scale", "is_dynamic")}


def _rotation(q) -> np.ndarray:
    """The rotation matrix of a unit quaternion (w, x, y, z)."""
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


@pytest.mark.parametrize("world,variant", RUNS, ids=[f"{w}-{v}" for w, v in RUNS])
def test_world_instances_have_movi_builder_fields(world, variant, matrix):
    """Every instance has the fields Kubric's MOVi builder of its world reads; nr_faces and nr_vertices
    are those of its mesh file loaded by trimesh itself; `bounds` scaled by `scale_xyz` (the rendered
    scale; MOVi's `scale` label may replace `scale`), rotated and moved, are `bboxes_3d`; with Kubric's
    own GSO library the categories are the manifest's (GSO's)."""
    import trimesh

    scenes, _, _, status = matrix[(world, variant)]
    assert status == 0, f"kubric-gen run {world} ({variant}) failed"
    cylinder = trimesh.creation.cylinder(radius=1.0, height=2.0, sections=64)
    primitives = {"cube": (12, 8), "sphere": (5120, 2562), "cylinder": (len(cylinder.faces), len(cylinder.vertices))}
    gso_categories = None
    if variant == "kubric_mirror" and _takes(world, "library") and load_world(world).defaults["library"] != "kubasic":
        manifest = json.loads(matrix.assets()["gso_mirror"].read_text())  # the mirror's GSO.json
        gso_categories = {k: v["metadata"]["category"] for k, v in manifest["assets"].items()}
        gso_descriptions = {k: v["metadata"].get("description", "") for k, v in manifest["assets"].items()}
    checked = 0
    for scene in sorted(scenes.glob("scene_*")):
        objects = {o["name"]: o for o in json.loads((scene / "scene.json").read_text())["objects"]}
        for inst in json.loads((scene / "metadata.json").read_text())["instances"]:
            obj = objects[inst["name"]]
            fields = (*MOVI_COMMON, *MOVI_BUILDER_FIELDS.get(world, ("asset_id",)), "nr_faces", "nr_vertices")
            per_view = ("image_positions", "bboxes", "bbox_frames", "visibility")  # in each view's metadata.json
            missing = [f for f in fields if f not in inst and not (world in MULTI_CAMERA and f in per_view)]
            assert not missing, (scene, inst["name"], missing)
            if obj["type"] == "articulated":
                _check_articulated_boxes(inst, obj)
                checked += 1
                continue
            if obj["type"] == "deformable":
                _check_deformable_boxes(inst, obj, SceneDir(scene))
                checked += 1
                continue
            if "path" in obj:
                mesh = trimesh.load(obj["path"], force="mesh")
                assert (inst["nr_faces"], inst["nr_vertices"]) == (len(mesh.faces), len(mesh.vertices)), obj["path"]
            elif obj["type"] in primitives:
                assert (inst["nr_faces"], inst["nr_vertices"]) == primitives[obj["type"]], obj["type"]
            scale_xyz = np.asarray(inst["scale_xyz"])
            np.testing.assert_allclose(scale_xyz, obj["scale"], rtol=1e-6)
            lo, hi = np.asarray(inst["bounds"])
            corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
            for f, (p, q) in enumerate(zip(inst["positions"], inst["quaternions"], strict=True)):
                rebuilt = (corners * scale_xyz) @ _rotation(q).T + np.asarray(p)
                stored = np.asarray(inst["bboxes_3d"][f])
                gap = np.linalg.norm(rebuilt[:, None] - stored[None], axis=-1)
                assert gap.min(axis=0).max() < 1e-4 and gap.min(axis=1).max() < 1e-4, (scene, inst["name"], f)
            if gso_categories is not None:
                assert inst["category"] == gso_categories[inst["asset_id"]], inst["asset_id"]
                assert inst["description"] == gso_descriptions[inst["asset_id"]], inst["asset_id"]
            checked += 1
    assert checked > 0


def _check_articulated_boxes(inst: dict, obj: dict) -> None:
    """An articulated instance's bboxes_3d: in its base link's frame, the tight box around every
    link's triangles at that frame's link poses (1e-4 m); its links are its URDF's."""
    from kubric_gen import geometry, meshes
    from kubric_gen.scene import ArticulatedObject
    from kubric_gen.scene.urdf import read_urdf

    assert inst["links"] == list(read_urdf(obj["path"]).links)
    body = ArticulatedObject(name=obj["name"], path=obj["path"], scale=tuple(obj["scale"]))
    for f, (p, q) in enumerate(zip(inst["positions"], inst["quaternions"], strict=True)):
        points = np.concatenate([geometry.transform_points(mesh.vertices, inst["link_positions"][k][f],
                                                           inst["link_quaternions"][k][f])
                                 for k, (link, mesh) in enumerate((n, meshes.link_meshes(body).get(n))
                                                                  for n in inst["links"]) if mesh is not None])
        local = geometry.world_to_local(points, p, q)
        box = geometry.world_to_local(np.asarray(inst["bboxes_3d"][f]), p, q)
        np.testing.assert_allclose([box.min(axis=0), box.max(axis=0)], [local.min(axis=0), local.max(axis=0)],
                                   atol=1e-4)


def _check_deformable_boxes(inst: dict, obj: dict, sd: SceneDir) -> None:
    """A deformable instance: its mesh sizes are its rest shape's, its bboxes_3d each frame's box of
    its stored vertices, its position their mean."""
    from kubric_gen.scene import DeformableObject
    from kubric_gen.scene.serialize import from_data

    rest = from_data(obj, "test", (DeformableObject,)).rest_mesh()
    mesh = sd.deformations()[obj["name"]]
    assert inst["deformation_index"] == list(sd.deformations()).index(obj["name"])
    assert (inst["nr_faces"], inst["nr_vertices"]) == (len(rest.faces), len(rest.vertices))
    np.testing.assert_array_equal(mesh["faces"], rest.faces)
    np.testing.assert_allclose(mesh["rest_vertices"], rest.vertices, atol=1e-6)
    for f, points in enumerate(mesh["vertices"]):
        box = np.asarray(inst["bboxes_3d"][f])
        np.testing.assert_allclose([box.min(axis=0), box.max(axis=0)], [points.min(axis=0), points.max(axis=0)],
                                   atol=1e-5)
        np.testing.assert_allclose(inst["positions"][f], points.mean(axis=0), atol=1e-5)


def _check_example(ex: dict, scene_dir: Path, features) -> None:
    """Every decoded feature agrees with the scene directory as kubric_gen.io reads it; a
    multi-camera example camera by camera against the views (`loading.view_examples`), its
    shared instances against the scene's metadata.json and its cross-view tracks against
    `SceneDir.cross_view()`."""
    from kubric_gen.datasets.loading import is_multiview, view_examples

    sd = SceneDir(scene_dir)
    if not is_multiview(ex):
        assert not sd.is_multiview
        _check_view(ex, sd, features)
        return
    assert sd.is_multiview and list(view_examples(ex)) == sd.camera_names
    for camera, view in view_examples(ex).items():
        _check_view(view, sd.view(camera), features)
    for k, inst in enumerate(sd.metadata["instances"]):  # the scene's own: shared ids, no per-view fields
        np.testing.assert_allclose(ex["instances"]["positions"][k], inst["positions"], rtol=1e-6, atol=1e-6)
    cross = sd.cross_view()
    if cross.target_points is not None:
        np.testing.assert_array_equal(ex["multiview_tracks"]["target_points"], cross.target_points)
        np.testing.assert_array_equal(ex["multiview_tracks"]["occluded"], cross.occluded)
        np.testing.assert_array_equal(ex["multiview_tracks"]["query_camera"], cross.query_camera)


def _check_view(ex: dict, sd: SceneDir, features) -> None:
    """One camera's features against its one-camera scene directory."""
    from kubric_gen.datasets import decode_depth, decode_flow

    np.testing.assert_array_equal(ex["video"], sd.stored("rgba")[..., :3])
    np.testing.assert_array_equal(ex["segmentations"][..., 0], sd.layer("segmentation"))
    depth = sd.layer("depth")
    lo, hi = ex["metadata"]["depth_range"]
    seen = np.isfinite(depth)  # +inf (the sky, only helloworld shows it) is stored as the range's max
    # Encoding rounds (x - lo) / (hi - lo) * 65535 to the nearest integer in float64, with exactly
    # the float32 range stored in depth_range; decoding is float64 too, then one float32 rounding of
    # a value <= hi: at most half an ulp of hi on top of the half step (measured: <= 0.5 ulp). One
    # ulp of hi covers that and float64's own rounding; truncating instead of rounding does not fit.
    error = np.abs(decode_depth(ex)[..., 0][seen].astype(np.float64) - depth[seen]).max(initial=0.0)
    assert error <= (float(hi) - float(lo)) / 65535 / 2 + float(np.spacing(np.float32(hi))), (error, lo, hi)
    assert (decode_depth(ex)[..., 0][~seen] == np.float32(hi)).all()
    for direction in ("forward", "backward"):
        flow = sd.layer(f"{direction}_flow")
        lo, hi = ex["metadata"][f"{direction}_flow_range"]
        assert np.abs(decode_flow(ex, direction) - flow).max() <= (hi - lo) / 65535 / 2 + 1e-5
        np.testing.assert_array_equal(ex[f"{direction}_flow_occlusion"][..., 0],
                                      sd.layer(f"{direction}_flow_occlusion"))
    np.testing.assert_array_equal(ex["normal"], sd.stored("normal"))
    np.testing.assert_array_equal(ex["object_coordinates"], sd.stored("object_coordinates"))
    meta = sd.metadata
    schema = sd.label_schema
    instances = features["instances"].feature
    for k, inst in enumerate(meta["instances"]):
        for label, value in schema.instance_values(inst).items():
            got = ex["instances"][label][k]
            if hasattr(instances[label], "int2str"):
                got = instances[label].int2str(int(got))
            elif isinstance(got, bytes):
                got = got.decode()
            if isinstance(value, str):
                assert got == value, (label, got, value)
            else:
                np.testing.assert_allclose(got, value, rtol=1e-6, err_msg=label)
        np.testing.assert_allclose(ex["instances"]["positions"][k], inst["positions"], rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(ex["instances"]["visibility"][k], inst["visibility"])
    tracks = sd.tracks()
    if tracks is not None:
        np.testing.assert_allclose(ex["tracks"]["target_points"], tracks.target_points)
    np.testing.assert_allclose(ex["camera"]["positions"], meta["camera"]["positions"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("world,variant", RUNS, ids=[f"{w}-{v}" for w, v in RUNS])
def test_world_array_record_and_torch_read_the_same(world, variant, matrix, tmp_path):
    """The same scenes as an ArrayRecord build: tfds.data_source gives what tfds.load gives for the
    TFRecord build, and PyTorch samples from the build equal those from the scene directories."""
    kt = pytest.importorskip("kubric_gen.datasets.torch")
    from kubric_gen.datasets import build_dataset
    from kubric_gen.datasets.loading import numpy_examples

    scenes, name, data_dir, status = matrix[(world, variant)]
    assert status == 0, f"kubric-gen run {world} ({variant}) failed"
    records = build_dataset(scenes, name, tmp_path, file_format="array_record", splits="train=1.0")
    loaded = {ex["metadata"]["video_name"].decode(): ex
              for ex in tfds.as_numpy(tfds.builder(name, data_dir=str(data_dir)).as_dataset(split="all"))}
    read = list(numpy_examples(tfds.builder_from_directory(records.path), "train"))
    assert sorted(ex["metadata"]["video_name"].decode() for ex in read) == sorted(loaded)
    for ex in read:
        assert_same_tree(ex, loaded[ex["metadata"]["video_name"].decode()])
    from_dirs = kt.SceneDirDataset(scenes)
    by_name = {from_dirs[i]["video_name"]: from_dirs[i] for i in range(len(from_dirs))}
    from_records = kt.TFDSDataset(name, tmp_path)
    for i in range(len(from_records)):
        sample = from_records[i]
        assert_same_samples(sample, by_name[sample["video_name"]])
        assert sample["video"].shape[-3:] == (3, 32, 32) and 0 <= sample["video"].min() <= sample["video"].max() <= 1
        assert sample["video"].ndim == (5 if world in MULTI_CAMERA else 4)


@pytest.mark.parametrize("world", WORLDS)
def test_world_extras_package_and_load(world, matrix, tmp_path):
    """Every world's scenes with `--extras` (amodal masks, scene flow, occlusion boundaries, intrinsic
    images, parts): tfds.load gives each view's own arrays, and each instance's pixels in
    `segmentations` lie in its amodal mask; the part layer (zeros without articulated objects) and
    each instance's link and joint states are the scene directory's."""
    from kubric_gen.datasets import build_dataset
    from kubric_gen.io import format as fmt

    scenes, _, _, status = matrix[(world, "default")]
    assert status == 0, f"kubric-gen run {world} failed"
    build_dataset(scenes, f"extras_{world}", tmp_path, splits="train=1.0",
                  extras="amodal,scene_flow,occlusion_boundaries,intrinsics,parts,deformations")
    examples = list(tfds.as_numpy(tfds.builder(f"extras_{world}", data_dir=str(tmp_path)).as_dataset(split="train")))
    assert len(examples) == 2
    multi = world in MULTI_CAMERA
    for ex in examples:
        sd = SceneDir(scenes / ex["metadata"]["video_name"].decode())
        for c, view in enumerate(sd.views):
            def of_view(a, c=c):
                return a[c] if multi else a
            masks = ex["instances"]["amodal_masks"][:, c] if multi else ex["instances"]["amodal_masks"]
            np.testing.assert_array_equal(masks, view.amodal())
            seg = of_view(ex["segmentations"])[..., 0]
            for k in range(len(masks)):
                assert not ((seg == k + 1) & ~masks[k]).any(), (world, view.name, k)
            flow = view.scene_flow()
            for name in fmt.SCENE_FLOW_ARRAYS:
                np.testing.assert_array_equal(of_view(ex[name]), flow[name])
            np.testing.assert_array_equal(of_view(ex["occlusion_boundaries"])[..., 0], view.occlusion_boundaries())
            images = view.intrinsics()
            for name in (*fmt.INTRINSIC_IMAGES, fmt.INTRINSIC_MASK):
                np.testing.assert_array_equal(of_view(ex[name]), images[name])
            parts = view.part_index()
            assert (parts is not None) == (world in ARTICULATED)
            np.testing.assert_array_equal(of_view(ex["part_index"])[..., 0], parts if parts is not None else 0)
            counts = {"link_positions": "num_links", "link_quaternions": "num_links", "joint_positions": "num_joints",
                      "joint_velocities": "num_joints", "joint_rotations": "num_ball_joints"}
            for k, inst in enumerate(view.metadata["instances"]):
                assert ex["num_links"][k] == len(inst.get("links", []))
                assert ex["num_joints"][k] == len(inst.get("joint_names", []))
                assert ex["num_ball_joints"][k] == len(inst.get("ball_joint_names", []))
                for key, count_key in counts.items():
                    count = ex[count_key][k]
                    stored = np.asarray(inst.get(key, []), dtype=np.float32).reshape(ex[key][k, :count].shape)
                    np.testing.assert_array_equal(ex[key][k, :count], stored)
                    assert not ex[key][k, count:].any()  # the padding
        _check_deformations(ex, sd, world)


def _check_deformations(ex: dict, sd: SceneDir, world: str) -> None:
    """The extra "deformations": each deformable instance's meshes are deformations.npz's, zero-padded."""
    stored = sd.deformations() or {}
    assert bool(stored) == (world in DEFORMABLE)
    for k, inst in enumerate(sd.metadata["instances"]):
        mesh = stored.get(inst["name"]) if "deformation_index" in inst else None
        nv, nf = (len(mesh["rest_vertices"]), len(mesh["faces"])) if mesh is not None else (0, 0)
        assert (ex["num_vertices"][k], ex["num_faces"][k]) == (nv, nf)
        if mesh is not None:
            np.testing.assert_array_equal(ex["deformed_vertices"][k, :, :nv], mesh["vertices"])
            np.testing.assert_array_equal(ex["rest_vertices"][k, :nv], mesh["rest_vertices"])
            np.testing.assert_array_equal(ex["deformed_faces"][k, :nf], mesh["faces"])
        assert not ex["deformed_vertices"][k, :, nv:].any() and not ex["deformed_faces"][k, nf:].any()


def test_deformable_worlds_meshes_reach_pytorch(matrix):
    """SceneDirDataset(extras=["deformations"]) gives each scene's meshes, and `collate` pads them."""
    from kubric_gen.datasets.torch import SceneDirDataset, collate

    for world in sorted(DEFORMABLE):
        scenes, _, _, status = matrix[(world, "default")]
        assert status == 0, f"kubric-gen run {world} failed"
        data = SceneDirDataset(str(scenes), extras=["deformations"])
        samples = [data[i] for i in range(len(data))]
        for sample in samples:
            sd = SceneDir(scenes / sample["video_name"])
            _check_deformations({k: v.numpy() for k, v in sample["deformations"].items()}, sd, world)
        batch = collate(samples)["deformations"]
        n = max(s["deformations"]["num_vertices"].shape[0] for s in samples)
        v = max(s["deformations"]["rest_vertices"].shape[1] for s in samples)
        t = samples[0]["deformations"]["deformed_vertices"].shape[1]
        assert tuple(batch["deformed_vertices"].shape) == (len(samples), n, t, v, 3)
        assert tuple(batch["rest_vertices"].shape) == (len(samples), n, v, 3)


@pytest.mark.parametrize("world", WORLDS)
def test_world_view_of_its_scenes_and_dataset(world, matrix, tmp_path, capsys):
    """`kubric-gen view` of each world's scenes (a gallery) and of its dataset, and the segmentation
    overlay of a scene page in headless Chromium (the asset variants render the same layers)."""
    from test_view import _check_segmentation_overlay

    variant = "default"
    scenes, name, data_dir, status = matrix[(world, variant)]
    assert status == 0, f"kubric-gen run {world} ({variant}) failed"
    assert main(["view", str(scenes), "--output", str(tmp_path / "scenes")]) == 0
    pages = sorted((tmp_path / "scenes").glob("scene_*/index.html"))
    assert (tmp_path / "scenes" / "index.html").exists() and len(pages) == 2
    assert main(["view", str(data_dir / name), "--output", str(tmp_path / "dataset")]) == 0
    sd = SceneDir(scenes / pages[0].parent.name)
    cameras = len(sd.views)  # a dataset of multi-camera scenes: a page per camera of each example
    assert len(list((tmp_path / "dataset").glob("*/index.html"))) == len(pages) * cameras
    capsys.readouterr()
    if sd.is_multiview:  # each camera's own page shows that view as a one-camera page does
        view = sd.views[0]
        _check_segmentation_overlay(pages[0].parent / view.name / "index.html", view, 2, tmp_path)
    else:
        _check_segmentation_overlay(pages[0], sd, 2, tmp_path)


@pytest.mark.parametrize("world", WORLDS)
def test_world_exports_read_back(world, matrix, tmp_path):
    """Every export format over each world's scenes (per camera for multi-camera scenes; stereo for
    the worlds with two cameras), read back by its community's reader (test_export's checks)."""
    from test_export import CHECKS

    from kubric_gen.export import export

    scenes, _, _, status = matrix[(world, "default")]
    assert status == 0, f"kubric-gen run {world} failed"
    from kubric_gen.io.reader import list_scene_dirs

    cameras = len(SceneDir(list_scene_dirs(scenes)[0]).camera_names)
    for name, check in CHECKS.items():
        if name == "stereo" and cameras != 2:
            continue
        if name == "bop" and world in ARTICULATED | DEFORMABLE:  # refused in one line: BOP's models are rigid
            result = export(name, scenes, tmp_path / name, workers=1)
            assert len(result.failed) == 2 and "BOP's models are rigid" in str(result.failed), result.failed
            continue
        result = export(name, scenes, tmp_path / name, workers=1)
        assert not result.failed, (name, result.failed)
        check(tmp_path / name, scenes)
    # the world's dataset (run --tfds): its examples, a camera's view each, export to COCO as its scenes do
    _, dataset, data_dir, _ = matrix[(world, "default")]
    result = export("coco", data_dir / dataset, tmp_path / "coco_from_dataset")
    assert not result.failed and len(result.exported) == 2 * cameras, result
    CHECKS["coco"](tmp_path / "coco_from_dataset", scenes, ours=lambda name: name.split("_", 1)[1])
