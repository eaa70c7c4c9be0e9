"""`AssetLibrary`: a manifest plus where its files live, making scene objects by id.

    lib = AssetLibrary.kubasic()                       # generated shapes (cached)
    lib = AssetLibrary.pybullet_data()                 # pybullet_data's meshes (normalised copies)
    lib = AssetLibrary.load("gs://bucket/gso/manifest.json")   # any fsspec URL, a folder or a file
    lib = AssetLibrary.load("/mirror/GSO/GSO.json")            # Kubric's own manifest format too
    teapot = lib.make("teapot", name="t0", scale=0.8, position=(0, 0, 1), material=kg.Principled(...))

Files of local libraries are used in place. Files of remote libraries are fetched on
first use into `cache_dir()/assets/remote/<hash of the library URL>/` and reused after.
Files of generated entries (`"source": {"generator": ...}`) are made on first use.
Kubric's manifests (`kubric_format`) are read as well: each asset's archive is fetched and
extracted into the cache on first use.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kubric_gen.assets import remote
from kubric_gen.assets.archive import extract_archive, is_archive
from kubric_gen.assets.manifest import AssetEntry, Manifest, parse_manifest_text
from kubric_gen.errors import AssetError

log = logging.getLogger(__name__)

BUILTIN = ("kubasic", "pybullet_data")
# options of make() passed straight to MeshObject
_PASS_THROUGH = {"position", "quaternion", "velocity", "angular_velocity", "motion", "keyframes", "is_background",
                 "look_at", "euler"}


def _generator(name: str) -> Callable[[AssetEntry, Path], None]:
    if name == "kubasic":
        from kubric_gen.assets import kubasic

        return lambda entry, root: kubasic.generate(entry.source.get("shape", entry.id), root, collision=False)
    if name == "pybullet_data":
        from kubric_gen.assets import pybullet_data

        return pybullet_data.regenerate
    raise AssetError(f"asset generator {name!r} is unknown (known: kubasic, pybullet_data)")


def _obj_diffuse_map(obj: Path) -> str | None:
    """The first diffuse texture (map_Kd) of the material files an OBJ names, if it exists."""
    for line in re.findall(r"^mtllib\s+(.+?)\s*$", obj.read_text(errors="replace"), flags=re.M):
        mtl = obj.parent / line
        if not mtl.is_file():
            continue
        for image in re.findall(r"^\s*map_Kd\s+(?:-\S+\s+\S+\s+)*(\S+)\s*$", mtl.read_text(errors="replace"),
                                flags=re.M):
            path = (mtl.parent / image).resolve()
            if path.is_file() and obj.parent.resolve() in path.parents:
                return str(path)
    return None


_used: dict[int, AssetLibrary] = {}  # libraries whose assets were used, since `used_libraries(reset=True)`


def used_libraries(reset: bool = False) -> list[AssetLibrary]:
    """The libraries whose assets were used (made, or their files asked for) in this
    process since the last reset, e.g. while a world built a scene; `reset` starts anew."""
    if reset:
        _used.clear()
    return list(_used.values())


def _prepare_assets(source: str, ids: list[str]) -> None:
    """`AssetLibrary.prepare`'s work in a pool process."""
    library = AssetLibrary.load(source)
    for asset_id in ids:
        library._prepare_one(asset_id)


class AssetLibrary:
    """A manifest and the location of its files: a local folder, or a URL mirrored in the cache."""

    def __init__(self, manifest: Manifest, root: str | os.PathLike, location: str | None = None) -> None:
        self.manifest = manifest
        root = os.fspath(root)
        self.remote_root = root.rstrip("/") if remote.is_url(root) else None
        if manifest.root == "cache":
            self.root = remote.assets_cache() / manifest.name
        elif self.remote_root:
            self.root = remote.mirror_dir(self.remote_root)
        else:
            self.root = Path(remote.local_path(root)).absolute()
        self.location = location or root
        self.archive_roots: list[str] = []  # where a Kubric-format library's per-asset archives are looked up
        self.source: str | None = None  # what `load` was given: another process loads the same library from it

    # ------------------------------------------------------------ constructors
    @classmethod
    def load(cls, source: str | os.PathLike) -> AssetLibrary:
        """A library from a manifest file, a folder holding manifest.json, an archive of one
        (.zip, .tar, .tar.gz), a URL of any of these (fsspec), or a built-in name
        ("kubasic", "pybullet_data")."""
        source = os.fspath(source)
        library = cls._load(source)
        library.source = source
        return library

    @classmethod
    def _load(cls, source: str) -> AssetLibrary:
        if source in BUILTIN:
            return cls.builtin(source)
        if remote.is_url(source):
            if is_archive(source):
                return cls._from_archive(remote.fetch_archive(source), key=source)
            url = source if source.lower().endswith(".json") else remote.join(source, "manifest.json")
            text = remote.fetch_manifest(url).read_bytes()
            return cls._parse(text, where=url, folder=url.rsplit("/", 1)[0])
        path = Path(remote.local_path(source))
        if path.is_file() and is_archive(path):
            stat = path.stat()
            return cls._from_archive(path, key=f"{path.resolve()}:{stat.st_mtime_ns}:{stat.st_size}")
        if path.is_dir():
            path = path / "manifest.json"
        if not path.is_file():
            raise AssetError(f"{source}: no asset manifest there (expected a manifest .json file, a folder "
                             f"with manifest.json, an archive, a URL, or one of {', '.join(BUILTIN)})")
        try:
            text = path.read_bytes()
        except OSError as e:
            raise AssetError(f"{path}: cannot read manifest ({e})") from None
        return cls._parse(text, where=str(path), folder=str(path.absolute().parent))

    @classmethod
    def _parse(cls, text: bytes, where: str, folder: str) -> AssetLibrary:
        """Our manifest format, or Kubric's (assets keyed by id, one archive per asset)."""
        import hashlib
        import json

        from kubric_gen.assets.kubric_format import is_kubric_manifest, parse_kubric_manifest

        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise AssetError(f"{where}: not valid JSON ({e})") from None
        if not is_kubric_manifest(data):
            return cls(parse_manifest_text(text, where=where), root=folder, location=where)
        manifest, data_dir = parse_kubric_manifest(data, where)
        key = hashlib.sha256(where.encode()).hexdigest()[:12]
        library = cls(manifest, root=folder, location=where)
        library.root = remote.assets_cache() / "kubric" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', manifest.name)}-{key}"
        library.remote_root = None
        roots = [folder]
        if data_dir and not remote.is_url(data_dir) and not os.path.isabs(remote.local_path(data_dir)):
            data_dir = os.path.join(folder, data_dir)  # relative to the manifest
        if data_dir and data_dir.rstrip("/") != folder.rstrip("/"):
            roots.append(data_dir)
        library.archive_roots = roots
        return library

    @classmethod
    def _from_archive(cls, archive: Path, key: str) -> AssetLibrary:
        import hashlib

        target = remote.assets_cache() / "extracted" / hashlib.sha256(key.encode()).hexdigest()[:16]
        if not target.exists():
            extract_archive(archive, target)
        candidates = [target / "manifest.json"] + sorted(target.glob("*/manifest.json"))
        for candidate in candidates:
            if candidate.is_file():
                return cls.load(candidate)
        raise AssetError(f"{archive}: the archive holds no manifest.json (at its top or in one folder)")

    @classmethod
    def builtin(cls, name: str) -> AssetLibrary:
        if name == "kubasic":
            return cls.kubasic()
        if name == "pybullet_data":
            return cls.pybullet_data()
        raise AssetError(f"unknown built-in asset library {name!r} (known: {', '.join(BUILTIN)})")

    @classmethod
    def kubasic(cls) -> AssetLibrary:
        """Kubric's basic shapes; each is generated into the cache on first use."""
        from kubric_gen.assets import kubasic

        path = kubasic.shipped_manifest_path()
        if path.is_file():
            return cls.load(path)
        log.warning("%s missing: building the KuBasic manifest (generates every shape once)", path)
        return cls(kubasic.build_manifest(remote.assets_cache() / kubasic.NAME), root=path.parent)

    @classmethod
    def pybullet_data(cls, random_objects: int | None = None,
                      progress: Callable[[int, int], None] | None = None) -> AssetLibrary:
        """The meshes shipped in the pybullet_data package (normalised copies in the cache, made
        once: about 15 s for all; `progress(done, total)` reports it). `random_objects` limits
        how many of the 1000 random objects are included (default: all)."""
        from kubric_gen.assets import pybullet_data

        return cls.load(pybullet_data.build(random_objects=random_objects, progress=progress))

    @classmethod
    def from_hdri_folder(cls, folder: str | os.PathLike) -> AssetLibrary:
        """Every .hdr / .exr file under `folder` as a background asset (id: the file name's stem)."""
        from kubric_gen.assets.dome import HDRI_SUFFIXES

        folder = Path(folder)
        if not folder.is_dir():
            raise AssetError(f"{folder}: HDRI folder not found")
        entries, seen = [], set()
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in HDRI_SUFFIXES and p.is_file()):
            rel = path.relative_to(folder).as_posix()
            asset_id = re.sub(r"[^A-Za-z0-9_.\-]+", "_", path.stem).lstrip("_.-") or "hdri"
            if asset_id in seen:
                asset_id = re.sub(r"[^A-Za-z0-9_.\-]+", "_", rel).lstrip("_.-")
            seen.add(asset_id)
            entries.append(AssetEntry(id=asset_id, kind="background", texture=rel, category="hdri",
                                      metadata={"file": rel}))
        return cls(Manifest(name=folder.name or "hdri", assets=tuple(entries),
                            description=f"HDRI backgrounds in {folder}"), root=folder)

    # ------------------------------------------------------------ listing
    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def ids(self) -> list[str]:
        return self.manifest.ids

    def __len__(self) -> int:
        return len(self.manifest.assets)

    def __contains__(self, asset_id: object) -> bool:
        return asset_id in self.manifest.ids

    def __iter__(self) -> Iterator[AssetEntry]:
        return iter(self.manifest.assets)

    def __repr__(self) -> str:
        return f"AssetLibrary({self.name!r}, {len(self)} assets, at {self.location})"

    @property
    def categories(self) -> tuple[str, ...]:
        """The category vocabulary of the library's objects, in label-id order (see
        `Manifest.category_names`): what a world that labels objects by category declares."""
        return self.manifest.category_names

    def entry(self, asset_id: str) -> AssetEntry:
        return self.manifest.entry(asset_id)

    def entries(self, kind: str | None = None, category: str | None = None,
                available: bool = True) -> list[AssetEntry]:
        return [e for e in self.manifest.assets if (kind is None or e.kind == kind)
                and (category is None or e.category == category) and (not available or e.available)]

    def sample(self, rng: np.random.Generator, kind: str = "object", category: str | None = None) -> str:
        """A uniformly drawn id among the available assets of `kind` (and `category`)."""
        ids = [e.id for e in self.entries(kind, category)]
        if not ids:
            raise AssetError(f"library {self.name!r}: no available {kind} assets"
                             + (f" of category {category!r}" if category else ""))
        return ids[int(rng.integers(len(ids)))]

    # ------------------------------------------------------------ files
    def _require(self, asset_id: str) -> AssetEntry:
        _used[id(self)] = self
        entry = self.entry(asset_id)
        if not entry.available:
            raise AssetError(f"library {self.name!r}: asset {asset_id!r} is not available: {entry.reason}")
        return entry

    def path(self, asset_id: str, role: str = "visual") -> str:
        """The local path of an asset's file ("visual", "collision" or "texture"), fetched or
        generated first if needed. Raises AssetError if the asset has no such file."""
        entry = self._require(asset_id)
        if role not in ("visual", "collision", "texture"):
            raise AssetError(f"path: role must be visual, collision or texture (got {role!r})")
        if role == "collision":
            return self.collision_file(asset_id)
        rel = getattr(entry, role)
        if rel is None:
            raise AssetError(f"library {self.name!r}: asset {asset_id!r} has no {role} file")
        local = self.root / rel
        if not local.exists():
            self._materialize(entry)
        if not local.exists():
            raise AssetError(f"library {self.name!r}: asset {asset_id!r}: {role} file {local} not found")
        return str(local)

    def _materialize(self, entry: AssetEntry) -> None:
        """Make an entry's files present: generate them, extract its Kubric archive, or fetch them."""
        if entry.generator:
            _generator(entry.generator)(entry, self.root)
        elif self.archive_roots and entry.source.get("kubric"):
            self._extract_kubric_archive(entry)
        elif self.remote_root:
            self._fetch_entry(entry)

    def _extract_kubric_archive(self, entry: AssetEntry) -> None:
        """Fetch `<root>/<archive>` (next to the manifest, else in its data_dir) and extract it
        into `self.root / entry.id` (a flat archive, or one folder named after the id)."""
        import shutil
        import tempfile

        rel = entry.source["kubric"].get("archive")
        if not rel:
            raise AssetError(f"library {self.name!r}: asset {entry.id!r} has no archive (its path is null)")
        tried = []
        archive = None
        for root in self.archive_roots:
            location = remote.join(root, rel) if remote.is_url(root) else os.path.join(remote.local_path(root), rel)
            if not remote.is_url(root):
                if os.path.isfile(location):
                    archive = Path(location)
                    break
                tried.append(f"{location}: not found")
                continue
            try:
                archive = remote.fetch(location, self.root / ".archives" / rel)
                break
            except AssetError as e:
                tried.append(str(e))
        if archive is None:
            raise AssetError(f"library {self.name!r}: archive of asset {entry.id!r} not found ({'; '.join(tried)})")
        target = self.root / entry.id
        self.root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{entry.id}.extract-"))
        try:
            extract_archive(archive, scratch / "x")
            top = scratch / "x"
            if not (top / "data.json").is_file() and (top / entry.id / "data.json").is_file():
                top = top / entry.id
            if not (top / "data.json").is_file():
                raise AssetError(f"{archive}: a Kubric asset archive must hold data.json (flat or in a folder "
                                 f"named {entry.id!r})")
            try:
                os.replace(top, target)
            except OSError:
                if not target.is_dir():  # another process extracted it first otherwise
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _fetch_entry(self, entry: AssetEntry) -> None:
        """Fetch an entry's files (and the MTL files its OBJ names) from the remote library."""
        from kubric_gen.assets.manifest import relative_path

        for rel in entry.files().values():
            target = self.root / rel
            remote.fetch(remote.join(self.remote_root, rel), target)
            if target.suffix.lower() == ".obj":
                base = Path(rel).parent
                text = target.read_text(errors="replace")
                for line in re.findall(r"^mtllib\s+(.+?)\s*$", text, flags=re.M):
                    mtl = relative_path(f"{rel}: mtllib", (base / line).as_posix())
                    remote.fetch(remote.join(self.remote_root, mtl), self.root / mtl)
                    for image in re.findall(r"^\s*map_Kd\s+(?:-\S+\s+\S+\s+)*(\S+)\s*$",
                                            (self.root / mtl).read_text(errors="replace"), flags=re.M):
                        tex = relative_path(f"{mtl}: map_Kd", (Path(mtl).parent / image).as_posix())
                        remote.fetch(remote.join(self.remote_root, tex), self.root / tex)

    def collision_file(self, asset_id: str) -> str:
        """The collision mesh file (convex parts) of an asset, computed on first use if the
        manifest names one that does not exist yet (convex hull, or VHACD: ~10 s, cached)."""
        from kubric_gen.assets import meshfile

        entry = self._require(asset_id)
        if entry.collision is None:
            raise AssetError(f"library {self.name!r}: asset {asset_id!r} names no collision file")
        target = self.root / entry.collision
        if not target.exists() and not entry.generator and (self.remote_root or self.archive_roots):
            self._materialize(entry)
        if not target.exists():
            visual = self.path(asset_id)
            if entry.collision_shape == "vhacd":
                meshfile.vhacd_into(visual, target)
            else:
                meshfile.convex_hull_file(visual, target)
        return str(target)

    def texture(self, asset_id: str) -> str | None:
        """The texture image of an asset (local path), or None if it has none. (An object of a
        Kubric-format library: the diffuse map its OBJ's material file names, if any.)"""
        entry = self._require(asset_id)
        if entry.texture:
            return self.path(asset_id, "texture")
        if entry.kind == "object" and entry.source.get("kubric") and entry.visual.lower().endswith(".obj"):
            return _obj_diffuse_map(Path(self.path(asset_id)))
        return None

    # ------------------------------------------------------------ preparing the cache
    def _files_present(self, entry: AssetEntry) -> bool:
        return all((self.root / rel).exists() for rel in entry.files().values())

    def unprepared(self) -> list[str]:
        """Ids of the available assets some of whose files (visual, collision, texture) are
        not made, fetched or extracted yet."""
        return [e.id for e in self if e.available and not self._files_present(e)]

    def prepare(self, workers: int = 0, progress: Callable[[int, int], None] | None = None) -> list[str]:
        """Make every available asset's files present now (generated shapes, fetched or
        extracted files, collision meshes), so that no scene pays for them later; return the
        ids prepared. `workers` processes share the work (0: one per usable core; VHACD holds
        the GIL); `progress(done, total)` is called as assets finish."""
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from kubric_gen.parallel import usable_cores

        todo = self.unprepared()
        workers = max(1, min(workers or usable_cores(), len(todo)))
        if not todo:
            return []
        if workers == 1 or self.source is None:
            for done, asset_id in enumerate(todo, 1):
                self._prepare_one(asset_id)
                if progress:
                    progress(done, len(todo))
            return todo
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = [pool.submit(_prepare_assets, self.source, [asset_id]) for asset_id in todo]
            for done, job in enumerate(as_completed(jobs), 1):
                job.result()
                if progress:
                    progress(done, len(todo))
        return todo

    def _prepare_one(self, asset_id: str) -> None:
        entry = self._require(asset_id)
        if entry.visual:
            self.path(asset_id)
        if entry.collision:
            self.collision_file(asset_id)
        if entry.texture:
            self.path(asset_id, "texture")

    # ------------------------------------------------------------ objects
    def make(self, asset_id: str, name: str | None = None, *, scale: Any = None, material: Any = None,
             collision: str | None = None, density: float | None = None, mass: float | None = None,
             friction: float | None = None, restitution: float | None = None, labels: dict | None = None,
             **kwargs: Any):
        """A `MeshObject` of the asset, with the manifest's defaults and these overrides.

        `scale` replaces the default scale (the asset's half-size: normalised meshes fit in
        [-1, 1]^3). Mass: `mass`, else the manifest's mass (scaled with the volume when
        `scale` differs from the default), else `density` (given, else the manifest's) times
        the volume. `labels` are added to {"category": ...}. Other keyword arguments
        (position, quaternion, euler, look_at, velocity, angular_velocity, motion,
        keyframes, is_background) go to MeshObject. A background asset gives a dome
        (`make_dome`; `radius=` and `camera_height=` accepted).
        """
        from kubric_gen.scene import MeshObject, Principled

        entry = self._require(asset_id)
        if entry.kind == "texture":
            raise AssetError(f"library {self.name!r}: asset {asset_id!r} is a texture, not an object: use "
                             f"kg.Principled(texture=library.texture({asset_id!r}))")
        if entry.kind == "background":
            from kubric_gen.assets.dome import make_dome

            extra = {k: v for k, v in (("material", material), ("labels", labels)) if v is not None}
            return make_dome(self.path(asset_id, "texture"), name=name or asset_id, asset_id=asset_id,
                             **extra, **kwargs)
        unknown = sorted(set(kwargs) - _PASS_THROUGH)
        if unknown:
            raise AssetError(f"make({asset_id!r}): unknown option {unknown[0]!r} (got {kwargs[unknown[0]]!r}); "
                             f"options: scale, material, collision, density, mass, friction, restitution, "
                             f"labels, {', '.join(sorted(_PASS_THROUGH))}")
        physics = entry.physics
        default_scale = np.broadcast_to(np.asarray(entry.scale, dtype=np.float64), (3,))
        if scale is None:
            scale = entry.scale
        if mass is None and density is None and "mass" in physics:
            try:
                ratio = float(np.prod(np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,)))
                              / np.prod(default_scale))
            except (TypeError, ValueError):
                ratio = 1.0  # MeshObject reports the bad scale
            mass = physics["mass"] * ratio
        if material is None:
            texture = self.texture(asset_id)
            material = Principled(texture=texture) if texture else Principled()
        options: dict[str, Any] = {
            "density": density if density is not None else physics.get("density", 1000.0),
            "friction": friction if friction is not None else physics.get("friction", 0.5),
            "restitution": restitution if restitution is not None else physics.get("restitution", 0.5),
        }
        collision = collision or entry.collision_shape
        parts = self.collision_file(asset_id) if collision != "mesh" and entry.collision is not None else None
        return MeshObject(name=name or asset_id, path=self.path(asset_id), asset_id=asset_id,
                          collision=collision, collision_path=parts, scale=scale, material=material, mass=mass,
                          labels={"category": entry.category or asset_id, **(labels or {})}, **options, **kwargs)
