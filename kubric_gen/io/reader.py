"""`SceneDir`: the one reader of scene directories (ours and Kubric's), local or remote.

    sd = SceneDir("out/movi_a/scene_00000003")        # or gs://..., memory://... (fsspec)
    sd.check_complete()                                 # SceneDirError naming what is missing
    depth = sd.layer("depth")                           # (T, H, W) float32 metres
    left = sd.view("left")                              # several cameras: each view is a SceneDir
    flow = sd.layer("forward_flow")                     # (T, H, W, 2) float32 pixels (d_row, d_col)
    stored = sd.stored("forward_flow")                  # (T, H, W, 2) uint16 as in the files

The directory is listed once; JSON files and decoded layers are cached on the object, so
`validate` and dataset packaging decode each file once. Every problem is a
`SceneDirError` whose message names the file. File names and encodings come from
`kubric_gen.io.format`; the per-file codecs from `kubric_gen.io.layers`.
"""

from __future__ import annotations

import io
import json
import os
from functools import cached_property
from typing import Any

import numpy as np

from kubric_gen import geometry
from kubric_gen.errors import KubricGenError
from kubric_gen.io import format as fmt
from kubric_gen.io import layers as codecs
from kubric_gen.labels import GENERIC, LabelSchema
from kubric_gen.truth.result import CrossViewTruth, PointTracks, disparity_of


class SceneDirError(KubricGenError):
    """A scene directory is incomplete, inconsistent or unreadable."""


class NotRegularFileError(KubricGenError):
    """A scene directory holds something that is neither a regular file nor a folder (a named pipe
    posing as a frame would block every reader forever). Not a `SceneDirError`: the command stops
    with one line naming it instead of reporting a damaged scene and going on."""


def _kind_of(path: str) -> str:
    """What a local path that is no regular file or folder is, in words."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "unreadable"
    for test, words in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                        (stat.S_ISBLK, "a device")):
        if test(mode):
            return words
    return "not a regular file"


def _refuse_irregular(fs: Any, root: str) -> None:
    """Raise NotRegularFileError for the first entry of a local scene directory (and of its views'
    folders) that is neither a regular file nor a folder, before anything is opened. One
    `os.scandir` per folder, no stat but for symbolic links; object stores hold only objects."""
    if "file" not in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        return
    try:
        entries = list(os.scandir(root))
    except OSError:
        return  # the reader says what is wrong with the folder itself
    for entry in entries:
        if entry.is_dir():
            if entry.name.startswith(fmt.VIEW_PREFIX):
                _refuse_irregular(fs, entry.path)
        elif not entry.is_file() and (not entry.is_symlink() or os.path.exists(entry.path)):  # dangling: reported later
            raise NotRegularFileError(f"{entry.path}: {_kind_of(entry.path)}, not a regular file; refusing to read it")


def _filesystem(path: str | os.PathLike) -> tuple[Any, str]:
    import fsspec

    fs, root = fsspec.core.url_to_fs(os.fspath(path))
    return fs, root.rstrip("/") or root


class SceneDir:
    """A scene directory: its listing, JSON files, and decoded layers (all cached)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._fs, self._root = _filesystem(self.path)
        self._cache: dict[str, np.ndarray] = {}
        self._deformations: dict[str, dict[str, np.ndarray]] | None = None  # deformations.npz, read once
        self._bytes: dict[str, bytes] = {}  # files read once: hashed by `validate`, then decoded
        self._types: dict[str, str | None] = {}  # the listing's type of each entry (set by `files`)

    def __repr__(self) -> str:
        return f"SceneDir({self.path!r})"

    @property
    def name(self) -> str:
        return self._root.rstrip("/").rsplit("/", 1)[-1]

    # ------------------------------------------------------------ listing
    @cached_property
    def files(self) -> frozenset[str]:
        try:
            if not self._fs.isdir(self._root):
                raise SceneDirError(f"{self.path}: not a directory")
            entries = self._fs.ls(self._root, detail=True)
        except (OSError, ValueError) as e:
            raise SceneDirError(f"{self.path}: cannot list ({e})") from None
        # each entry's type, so that `read_bytes` refuses what is not a regular file before opening it:
        # "file", "directory", or "other" (fsspec's local filesystem: a named pipe, socket or device);
        # None for a symbolic link, whose target's type `read_bytes` asks for
        self._types = {str(e["name"]).rstrip("/").rsplit("/", 1)[-1]: None if e.get("islink") else e.get("type")
                       for e in entries}
        for name, kind in self._types.items():
            if kind not in ("file", "directory", None):
                self._refuse(name, kind)
        return frozenset(self._types)

    def _refuse(self, name: str, kind: str | None) -> None:
        path = f"{self.path.rstrip('/')}/{name}"
        words = _kind_of(path) if "file" in str(self._fs.protocol) else str(kind)
        raise NotRegularFileError(f"{path}: {words}, not a regular file; refusing to read it")

    @cached_property
    def frame_files(self) -> dict[str, dict[int, str]]:
        """{layer: {frame: file name}} of the frame files present."""
        out: dict[str, dict[int, str]] = {}
        for name in sorted(self.files):
            found = fmt.layer_of_file(name)
            if found is not None:
                layer, frame = found
                out.setdefault(layer, {}).setdefault(frame, name)
        return out

    def has(self, layer: str) -> bool:
        return bool(self.frame_files.get(layer))

    def read_bytes(self, name: str) -> bytes:
        """The bytes of the file `name`; a SceneDirError naming it when it is missing or unreadable,
        a NotRegularFileError before opening it when it is not a regular file (see `files`)."""
        if name in self._bytes:
            return self._bytes[name]
        if name in self.files and self._types.get(name) is None:  # a symbolic link: what it points to
            try:
                kind = self._fs.info(f"{self._root}/{name}").get("type")
            except (OSError, ValueError):
                kind = "file"  # a dangling link: opening it says what is wrong
            if kind not in ("file", "directory"):
                self._refuse(name, kind)
        try:
            self._bytes[name] = self._fs.cat_file(f"{self._root}/{name}")
            return self._bytes[name]
        except FileNotFoundError:
            raise SceneDirError(f"{name} is missing") from None
        except OSError as e:
            raise SceneDirError(f"{name}: cannot read ({e})") from None

    def _json(self, name: str, required: bool = True) -> Any:
        if name not in self.files:
            if required:
                raise SceneDirError(f"{name} is missing")
            return {}
        try:
            return json.loads(self.read_bytes(name))
        except (ValueError, UnicodeDecodeError) as e:
            raise SceneDirError(f"{name} is not valid JSON ({e})") from None

    # ------------------------------------------------------------ JSON files
    @cached_property
    def metadata(self) -> dict:
        meta = self._json(fmt.METADATA)
        try:
            m = meta["metadata"]
            width, height = (int(v) for v in m["resolution"])
            num_frames = int(m["num_frames"])
            if not isinstance(meta["instances"], list) or not isinstance(meta["camera"], dict):
                raise TypeError("instances must be a list and camera an object")
            if width <= 0 or height <= 0 or num_frames <= 0:
                raise ValueError(f"resolution {width}x{height} and num_frames {num_frames} must be positive")
        except (KeyError, TypeError, ValueError) as e:
            raise SceneDirError(f"{fmt.METADATA} lacks MOVi's metadata/camera/instances "
                                f"({type(e).__name__}: {e})") from None
        return meta

    @cached_property
    def data_ranges(self) -> dict:
        return self._json(fmt.DATA_RANGES, required=False)

    @cached_property
    def events(self) -> dict:
        return self._json(fmt.EVENTS, required=False)

    @cached_property
    def provenance(self) -> dict:
        return self._json(fmt.PROVENANCE, required=False)

    @cached_property
    def marker(self) -> dict | None:
        """The `_COMPLETE` record (every file's SHA-256 and the content hash) our writer puts
        last into every scene directory; None where there is none (e.g. Kubric's)."""
        return self._json(fmt.COMPLETE) if fmt.COMPLETE in self.files else None

    def file_sha256(self, name: str) -> str:
        import hashlib

        return hashlib.sha256(self.read_bytes(name)).hexdigest()

    @cached_property
    def content_hash(self) -> str:
        """A hash of what the scene holds: the marker's, else computed over every file
        (provenance.json, which records timings, left out)."""
        marker = self.marker
        if isinstance(marker, dict) and isinstance(marker.get("content_sha256"), str):
            return marker["content_sha256"]
        return fmt.content_hash({n: self.file_sha256(n) for n in sorted(self.files)
                             if n not in fmt.UNHASHED and n != fmt.COMPLETE and "." in n})

    @property
    def preview(self) -> str | None:
        """The name of the scene's preview animation (preview.mp4, or preview.gif where ffmpeg
        was missing and in older directories), or None (Kubric's directories have none)."""
        return next((name for name in fmt.PREVIEWS if name in self.files), None)

    @property
    def num_frames(self) -> int:
        return int(self.metadata["metadata"]["num_frames"])

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        width, height = (int(v) for v in self.metadata["metadata"]["resolution"])
        return width, height

    @property
    def num_instances(self) -> int:
        return len(self.metadata["instances"])

    @property
    def world(self) -> str:
        """The world that made the scene (``flags.world``; for Kubric's directories, inferred
        from its ``objects_set`` flag: clevr = movi_a, kubasic = movi_b), else ""."""
        flags = self.metadata.get("flags", {})
        flags = flags if isinstance(flags, dict) else {}
        if flags.get("world"):
            return str(flags["world"])
        objects_set = flags.get("objects_set")
        return {"clevr": "movi_a", "kubasic": "movi_b"}.get(objects_set, "") if isinstance(objects_set, str) else ""

    @cached_property
    def label_schema(self) -> LabelSchema:
        """The labels the scene declares (metadata.json ``label_schema``). A directory without
        one (Kubric's, or older ones) gets the declaration of the built-in world that made it,
        with that world's default config, else the generic schema."""
        declared = self.metadata.get("label_schema")
        if declared is not None:
            try:
                return LabelSchema.from_dict(declared, f"{fmt.METADATA}: label_schema")
            except KubricGenError as e:
                raise SceneDirError(str(e)) from None
        from kubric_gen.world import builtin_world_names, load_world

        if self.world in builtin_world_names():
            return load_world(self.world).label_schema()
        return GENERIC

    def range(self, key: str) -> tuple[float, float]:
        """(min, max) of a quantised layer from data_ranges.json."""
        try:
            lo, hi = float(self.data_ranges[key]["min"]), float(self.data_ranges[key]["max"])
        except (KeyError, TypeError, ValueError):
            raise SceneDirError(f"{fmt.DATA_RANGES} has no {key} min/max") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise SceneDirError(f"{fmt.DATA_RANGES}: bad {key} range [{lo}, {hi}]")
        return lo, hi

    # ------------------------------------------------------------ several cameras
    @cached_property
    def is_multiview(self) -> bool:
        """A scene with several cameras: a folder of views (metadata.json lists ``views``)."""
        return fmt.METADATA in self.files and isinstance(self._json(fmt.METADATA).get("views"), list)

    @cached_property
    def views(self) -> list[SceneDir]:
        """Each camera's view, a one-camera scene directory (in camera order); [self] for a
        one-camera scene, so code that loops over views reads both kinds."""
        if not self.is_multiview:
            return [self]
        names = self.metadata["views"]
        if not all(isinstance(n, str) and n.startswith(fmt.VIEW_PREFIX) and "/" not in n for n in names):
            raise SceneDirError(f"{fmt.METADATA}: views must be {fmt.VIEW_PREFIX}<camera> folders (got {names})")
        return [SceneDir(f"{self.path.rstrip('/')}/{n}") for n in names]

    @property
    def camera_names(self) -> list[str]:
        """The cameras' names (["camera"]-like one name for a one-camera scene)."""
        if not self.is_multiview:
            return [str(self.metadata.get("camera", {}).get("name", "camera"))]
        return [v.name[len(fmt.VIEW_PREFIX):] for v in self.views]

    def view(self, camera: str) -> SceneDir:
        """The view of camera `camera`."""
        for name, view in zip(self.camera_names, self.views, strict=True):
            if name == camera:
                return view
        raise SceneDirError(f"no camera {camera!r} (cameras: {', '.join(self.camera_names)})")

    def cross_view(self) -> CrossViewTruth:
        """The ground truth across cameras (cross_view.npz), with the correspondences
        computed from the views' depth as the writer did (`geometry.correspondences`)."""
        if not self.is_multiview:
            raise SceneDirError(f"{self.path}: one camera, so no cross-view ground truth")
        d = self._npz(fmt.CROSS_VIEW)
        names = [str(n) for n in d.pop("cameras", [])]
        if names != self.camera_names:
            raise SceneDirError(f"{fmt.CROSS_VIEW}: cameras {names} are not the views' {self.camera_names}")
        c, t, (w, h) = len(names), self.num_frames, self.resolution
        occluded = d.get("correspondence_occluded")
        if occluded is None or occluded.shape != (c, c, t, h, w):
            raise SceneDirError(f"{fmt.CROSS_VIEW}: correspondence_occluded must be ({c}, {c}, {t}, {h}, {w}) "
                                f"(got {None if occluded is None else occluded.shape})")
        xy = np.stack([self.correspondences(a, b) for a in names for b in names])
        xy = xy.reshape((len(names), len(names)) + xy.shape[1:])
        try:
            return CrossViewTruth(cameras=names, correspondences=xy, **d)
        except TypeError as e:
            raise SceneDirError(f"{fmt.CROSS_VIEW}: unexpected arrays ({e})") from None

    def correspondences(self, source: str, target: str) -> np.ndarray:
        """(T, H, W, 2) float32: where the point seen at each pixel of camera `source` lies in
        camera `target`'s image (x, y), from source's stored depth and both cameras' metadata,
        as the ground truth computed it (`geometry.correspondences`); its occlusion mask is
        `cross_view().correspondence_occluded`."""
        depth = self.view(source).layer("depth")
        lenses = []
        for name in (source, target):
            cam = self.view(name).metadata["camera"]
            lenses.append((np.asarray(cam["positions"], dtype=np.float64),
                           np.asarray(cam["quaternions"], dtype=np.float64),
                           float(cam["focal_length"]), float(cam["sensor_width"])))
        (pa, qa, fa, sa), (pb, qb, fb, sb) = lenses
        return np.stack([geometry.correspondences(depth[t], (pa[t], qa[t], fa, sa), (pb[t], qb[t], fb, sb),
                                                  self.resolution)[0] for t in range(len(depth))]).astype(np.float32)

    def disparity(self) -> np.ndarray:
        """(T, H, W) float32 for a scene with two cameras: x_0 - x_1 of each pixel of the first
        camera (NaN where it sees nothing); see `cross_view().disparity_occluded`."""
        names = self.camera_names
        if len(names) != 2 or not self.is_multiview:
            raise SceneDirError(f"{self.path}: disparity needs two cameras (has {len(names)})")
        return disparity_of(self.correspondences(names[0], names[1]))

    # ------------------------------------------------------------ completeness
    def missing(self) -> list[str]:
        """What keeps the directory from being a complete MOVi scene directory (from the
        listing and metadata.json only; empty when complete). For a scene with several
        cameras: its own files and each view's (named view_<camera>/...)."""
        if fmt.METADATA in self.files and self.is_multiview:
            return self._missing_views()
        problems = []
        for name in fmt.MOVI_FILES:
            if name not in self.files:
                problems.append(f"{name} is missing")
        if fmt.METADATA not in self.files:
            return problems
        try:
            t = self.num_frames
        except SceneDirError as e:
            return [*problems, str(e)]
        for layer in fmt.LAYERS:
            frames = sorted(self.frame_files.get(layer.name, {}))
            if not frames and not layer.movi:
                continue
            if frames != list(range(t)):
                absent = sorted(set(range(t)) - set(frames))
                extra = sorted(set(frames) - set(range(t)))
                detail = f"missing frames {absent[:5]}" if absent else f"extra frames {extra[:5]}"
                problems.append(f"{layer.prefix}_%05d.{layer.ext}: not frames 0..{t - 1} ({detail})")
        occlusion = [self.has(name) for name in fmt.OCCLUSION_LAYERS]
        if occlusion[0] != occlusion[1]:
            problems.append("only one of the two flow occlusion layers is present")
        return problems

    def _missing_views(self) -> list[str]:
        problems = [f"{name} is missing" for name in (fmt.SCENE, fmt.CROSS_VIEW) if name not in self.files]
        try:
            views = self.views
        except SceneDirError as e:
            return [*problems, str(e)]
        for view in views:
            if view.name not in self.files:
                problems.append(f"{view.name}/ is missing")
                continue
            problems += [f"{view.name}/{p}" for p in view.missing()]
        return problems

    def check_complete(self) -> SceneDir:
        problems = self.missing()
        if problems:
            raise SceneDirError("; ".join(problems))
        return self

    # ------------------------------------------------------------ layers
    def stored(self, layer: str) -> np.ndarray:
        """A layer's values as stored, stacked over frames: rgba uint8 (T,H,W,3|4); depth float32
        (T,H,W); segmentation int32 (T,H,W); normal, object_coordinates uint16 (T,H,W,3);
        flows uint16 (T,H,W,2); occlusion masks bool (T,H,W)."""
        if layer not in self._cache:
            self._cache[layer] = self._stack(layer)
        return self._cache[layer]

    def _stack(self, name: str) -> np.ndarray:
        layer = fmt.LAYER.get(name)
        if fmt.METADATA in self.files and self.is_multiview:
            raise SceneDirError(f"{self.path}: a scene with several cameras; read {name} from its views "
                                f"(SceneDir.views: {', '.join(v.name for v in self.views)})")
        if layer is None:
            raise SceneDirError(f"unknown layer {name!r} (known: {', '.join(fmt.LAYER)})")
        files = self.frame_files.get(name, {})
        with_metadata = fmt.METADATA in self.files  # without it (a bare folder of layers) the files decide
        t = self.num_frames if with_metadata else len(files)
        if not files or sorted(files) != list(range(t)):
            raise SceneDirError(f"{layer.prefix}_%05d.{layer.ext} files are not frames 0..{t - 1} "
                                f"(found {sorted(files)[:8]})")
        width, height = self.resolution if with_metadata else (-1, -1)
        frames: list[np.ndarray] = []
        for f in range(t):
            file = files[f]
            try:
                a = _DECODE[layer.encoding](self.read_bytes(file))
            except SceneDirError as e:
                raise SceneDirError(f"{file}: {e}") from None
            except NotRegularFileError:
                raise
            except Exception as e:  # corrupt data: any decoder error names the file
                raise SceneDirError(f"{file}: cannot decode ({type(e).__name__}: {e})") from None
            if with_metadata and a.shape[:2] != (height, width):
                raise SceneDirError(f"{file}: {a.shape[1]}x{a.shape[0]} pixels, metadata.json says {width}x{height}")
            if frames and a.shape != frames[0].shape:
                raise SceneDirError(f"{file}: shape {a.shape} differs from frame 0's {frames[0].shape}")
            frames.append(a)
        return np.stack(frames)

    def layer(self, name: str) -> np.ndarray:
        """A layer decoded to its values (see `kubric_gen.io.layers` for the encodings): depth
        (T,H,W) metres; segmentation (T,H,W) int32; normal (T,H,W,3) in [-1, 1];
        object_coordinates (T,H,W,3) in [0, 1]; flows (T,H,W,2) pixels; masks (T,H,W) bool;
        rgba (T,H,W,4) uint8."""
        encoding = fmt.LAYER[name].encoding if name in fmt.LAYER else ""
        stored = self.stored(name)
        if encoding == "normal16":
            return codecs.dequantize(stored, -1.0, 1.0)
        if encoding == "unit16":
            return codecs.dequantize(stored, 0.0, 1.0)
        if encoding == "flow16":
            return codecs.dequantize(stored, *self.range(name))
        return stored

    def layers(self) -> dict[str, np.ndarray]:
        """Every ground-truth layer present, decoded (what `kubric_gen.io.read_layers` returns)."""
        out = {name: self.layer(name) for name in fmt.GROUND_TRUTH_LAYERS if self.has(name)}
        lengths = {name: len(a) for name, a in out.items()}
        if len(set(lengths.values())) > 1:
            raise SceneDirError(f"{self.path}: layers have different frame counts {lengths}")
        return out

    def tracks(self) -> PointTracks | None:
        """The point tracks (tracks.npz), or None when the scene has none."""
        if fmt.TRACKS not in self.files:
            return None
        d = self._npz(fmt.TRACKS)
        try:
            q, xy, occ = d["query_points"], d["target_points"], d["occluded"]
        except KeyError as e:
            raise SceneDirError(f"{fmt.TRACKS}: missing array {e}") from None
        n = q.shape[0] if q.ndim == 2 else -1
        t = self.num_frames if fmt.METADATA in self.files else (xy.shape[1] if xy.ndim == 3 else -1)
        if q.shape != (n, 3) or xy.shape != (n, t, 2) or occ.shape != (n, t):
            raise SceneDirError(f"{fmt.TRACKS}: expected (N,3), (N,{t},2), (N,{t}) "
                                f"(got {q.shape}, {xy.shape}, {occ.shape})")
        return PointTracks(query_points=q.astype(np.float32), target_points=xy.astype(np.float32),
                           occluded=occ.astype(bool))

    def amodal(self) -> np.ndarray | None:
        """Each instance's amodal mask in every frame (K, T, H, W) bool (amodal_masks.npz), or
        None when the scene has none (written before they existed, or by Kubric)."""
        if fmt.AMODAL not in self.files:
            return None
        try:
            masks = codecs.read_amodal(self._npz(fmt.AMODAL))
        except (KeyError, ValueError) as e:
            raise SceneDirError(f"{fmt.AMODAL}: {e}") from None
        expected = (self.num_instances, self.num_frames, self.resolution[1], self.resolution[0])
        if masks.shape != expected:
            raise SceneDirError(f"{fmt.AMODAL}: masks are {masks.shape}, the scene's instances, frames, "
                                f"height and width are {expected}")
        return masks

    def intrinsics(self) -> dict[str, np.ndarray] | None:
        """The intrinsic images (intrinsic_images.npz, scenes rendered with --intrinsics): each of
        `format.INTRINSIC_IMAGES` (T, H, W, 3) float32 linear RGB, and `format.INTRINSIC_MASK`
        (T, H, W) bool; None when the scene has none. `albedo * shading + residual` is Cycles'
        linear image before the denoiser and the view transform (docs/ground_truth.md)."""
        if fmt.INTRINSICS not in self.files:
            return None
        arrays = self._npz(fmt.INTRINSICS)
        shape = (self.num_frames, self.resolution[1], self.resolution[0])
        out = {}
        for name, dtype, expected in [*((n, np.float16, (*shape, 3)) for n in fmt.INTRINSIC_IMAGES),
                                      (fmt.INTRINSIC_MASK, np.bool_, shape)]:
            found = arrays.get(name)
            if found is None or found.shape != expected or found.dtype != dtype:
                raise SceneDirError(f"{fmt.INTRINSICS}: {name} must be {expected} {np.dtype(dtype)} "
                                    f"(got {'nothing' if found is None else f'{found.shape} {found.dtype}'})")
            out[name] = found.astype(np.float32) if dtype is np.float16 else found
        return out

    def part_index(self) -> np.ndarray | None:
        """(T, H, W) uint8: the link seen at each pixel (parts.npz: 1 + its index in its instance's
        ``links`` in metadata.json; 0 for a rigid object or nothing), or None in a scene without
        articulated objects."""
        if fmt.PARTS not in self.files:
            return None
        if fmt.PARTS not in self._cache:  # validate's flow check asks per frame
            found = self._npz(fmt.PARTS).get("part_index")
            expected = (self.num_frames, self.resolution[1], self.resolution[0])
            if found is None or found.shape != expected or found.dtype != np.uint8:
                raise SceneDirError(f"{fmt.PARTS}: part_index must be {expected} uint8 "
                                    f"(got {'nothing' if found is None else f'{found.shape} {found.dtype}'})")
            self._cache[fmt.PARTS] = found
        return self._cache[fmt.PARTS]

    def deformations(self) -> dict[str, dict[str, np.ndarray]] | None:
        """Each deformable object's meshes (deformations.npz), by name: ``vertices`` (T, V, 3) float32
        world positions per frame, ``faces`` (F, 3) int32, ``rest_vertices`` (V, 3) float32; None in a
        scene without deformable objects."""
        if fmt.DEFORMATIONS not in self.files:
            return None
        if self._deformations is not None:  # validate's flow check asks per frame
            return self._deformations
        arrays = self._npz(fmt.DEFORMATIONS)
        out = {}
        for k, name in enumerate(arrays.get("names", np.zeros(0, dtype=str)).tolist()):
            v, f, r = (arrays.get(f"{key}_{k}") for key in ("vertices", "faces", "rest_vertices"))
            if v is None or f is None or r is None or v.ndim != 3 or v.shape[0] != self.num_frames \
                    or v.shape[1:] != r.shape or f.ndim != 2 or f.shape[1] != 3 or (f.size and f.max() >= len(r)):
                raise SceneDirError(f"{fmt.DEFORMATIONS}: object {k} ({name!r}) needs vertices (T, V, 3), faces "
                                    f"(F, 3) into V and rest_vertices (V, 3)")
            out[name] = {"vertices": v, "faces": f, "rest_vertices": r}
        self._deformations = out
        return out

    def occlusion_boundaries(self) -> np.ndarray | None:
        """(T, H, W) uint8 occlusion-boundary bits (occlusion_boundaries.npz; `truth.boundaries`),
        or None when the scene has none."""
        if fmt.BOUNDARIES not in self.files:
            return None
        arrays = self._npz(fmt.BOUNDARIES)
        expected = (self.num_frames, self.resolution[1], self.resolution[0])
        found = arrays.get("boundaries")
        if found is None or found.shape != expected or found.dtype != np.uint8:
            raise SceneDirError(f"{fmt.BOUNDARIES}: boundaries must be {expected} uint8 "
                                f"(got {'nothing' if found is None else f'{found.shape} {found.dtype}'})")
        return found

    def scene_flow(self) -> dict[str, np.ndarray] | None:
        """The scene flow (scene_flow.npz), each of `format.SCENE_FLOW_ARRAYS` (T, H, W, 3) float32,
        and `camera_poses` (T+2, 7) of frames -1..T; None when the scene has none. The
        camera-frame arrays are derived here from the world ones, the float32 depth and those
        cameras (within 1e-6 m)."""
        if fmt.SCENE_FLOW not in self.files:
            return None
        arrays = self._npz(fmt.SCENE_FLOW)
        t = self.num_frames
        expected = (t, self.resolution[1], self.resolution[0], 3)
        for name in fmt.SCENE_FLOW_STORED:
            if name not in arrays or arrays[name].shape != expected or arrays[name].dtype != np.float32:
                found = f"{arrays[name].shape} {arrays[name].dtype}" if name in arrays else "nothing"
                raise SceneDirError(f"{fmt.SCENE_FLOW}: {name} must be {expected} float32 (got {found})")
        poses = arrays.get("camera_poses")
        if poses is None or poses.shape != (t + 2, 7):
            raise SceneDirError(f"{fmt.SCENE_FLOW}: camera_poses must be ({t + 2}, 7), frames -1..{t}")
        cam = self.metadata["camera"]
        out = {name: arrays[name] for name in fmt.SCENE_FLOW_STORED}
        forward, backward = geometry.scene_flow_in_camera(
            out["forward_scene_flow"], out["backward_scene_flow"], self.layer("depth"), poses,
            float(cam["focal_length"]), float(cam["sensor_width"]), self.resolution)
        return {**out, "forward_scene_flow_camera": forward, "backward_scene_flow_camera": backward,
                "camera_poses": poses}

    def float_layers(self) -> dict[str, np.ndarray]:
        """The exact layers of layers.npz (scenes written with --float-layers)."""
        if fmt.FLOAT_LAYERS_FILE not in self.files:
            raise SceneDirError(f"{fmt.FLOAT_LAYERS_FILE} is missing (write the scene with --float-layers)")
        return self._npz(fmt.FLOAT_LAYERS_FILE)

    def _npz(self, name: str) -> dict[str, np.ndarray]:
        import zipfile
        import zlib

        try:  # a truncated or damaged archive fails in zipfile (BadZipFile), zlib or numpy's own checks
            with np.load(io.BytesIO(self.read_bytes(name)), allow_pickle=False) as d:
                return {k: d[k] for k in d.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise SceneDirError(f"{name}: cannot read ({type(e).__name__}: {e})") from None


def list_scene_dirs(scenes_dir: str | os.PathLike) -> list[str]:
    """The scene directories of a folder (sorted by name; hidden and temporary ones, and the
    pipeline's bookkeeping such as `_status/` and `_tfds/`, left out).

    A folder that is itself a scene directory (has metadata.json or frame files) is its only scene.
    A scene directory (or view folder) on a local disk holding anything but regular files and
    folders raises NotRegularFileError, naming it.
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(os.fspath(scenes_dir))
    root = root.rstrip("/") or root
    if not fs.isdir(root):
        raise SceneDirError(f"{scenes_dir} is not a directory")
    entries = fs.ls(root, detail=True)
    names = [str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries]
    if fmt.METADATA in names or any(fmt.layer_of_file(n) for n in names):  # a scene directory, maybe broken
        _refuse_irregular(fs, root)
        return [os.fspath(scenes_dir)]
    base = os.fspath(scenes_dir).rstrip("/")
    names = sorted(n for n, e in zip(names, entries, strict=True)  # symbolic links to directories too
                   if e.get("type") == "directory" or (e.get("islink") and fs.isdir(e["name"])))
    names = [n for n in names if not n.startswith((".", "_"))]
    for n in names:  # every command lists its scenes first: a named pipe stops it here, before any reading
        _refuse_irregular(fs, f"{root}/{n}")
    return [f"{base}/{n}" for n in names]


def read_data_ranges(directory: str | os.PathLike) -> dict:
    """The contents of data_ranges.json ({} if the file is missing)."""
    return SceneDir(directory).data_ranges


def read_layers(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """Decode the layer files of a scene directory (ours or Kubric's), stacked over frames.

    Keys, for the layers present: depth (T,H,W) float32, segmentation (T,H,W) int32,
    normal and object_coordinates (T,H,W,3) float32, forward_flow and backward_flow
    (T,H,W,2) float32 (d_row, d_col pixels), forward/backward_flow_occlusion (T,H,W) bool.
    (A shortcut for `kubric_gen.io.SceneDir(directory).layers()`.)
    """
    return SceneDir(directory).layers()


def read_float_layers(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """The exact layers from layers.npz (written by write_layers(float_layers=True))."""
    return SceneDir(directory).float_layers()


def read_tracks(directory: str | os.PathLike) -> PointTracks | None:
    """The point tracks of a scene directory, or None if it has no tracks.npz."""
    return SceneDir(directory).tracks()


def _flow(data: bytes) -> np.ndarray:
    return codecs.decode_png16(data)[..., :2]


_DECODE = {
    "rgba8": codecs.decode_png8,
    "depth": codecs.decode_depth,
    "segmentation": codecs.decode_segmentation,
    "normal16": codecs.decode_png16,
    "unit16": codecs.decode_png16,
    "flow16": _flow,
    "mask8": lambda data: codecs.decode_segmentation(data) != 0,
}
