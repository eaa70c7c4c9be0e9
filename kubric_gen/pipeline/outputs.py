"""Where a run writes: a local directory or an fsspec URL (gs://, s3://, file://, ...).

Layout of a run's output (both kinds):

    OUTPUT/scene_00000000/ ...   one scene directory per seed (`scene_name`), sorted = seed order
    OUTPUT/_status/scene_00000000.json   the per-scene status record of the latest attempt
    OUTPUT/_run.json             the run summary (written by the driver at the end)

A scene is *complete* when
- local: its directory holds the `_COMPLETE` marker (written last) and every file the marker
  lists (a marker without a file list: `kubric_gen.io.SceneDir` finds every file of every
  frame). Scene directories are assembled as
  `.tmp-<name>-<id>` beside the target and renamed into place
  (`kubric_gen.io.scene_dir.atomic_directory`); `.tmp-*` entries, and directories with a
  scene's name that are not complete (e.g. emptied by hand), are leftovers cleared before
  the scene is rendered again. What we did not write we do not delete: a leftover holding
  only files of our format (`is_our_file`) is removed; one holding anything else (a user's
  notes, a Kubric scene without our marker) is moved aside whole, to
  `OUTPUT/_incomplete/<name>.<UTC time>` (`SET_ASIDE_DIR`).
- remote: its prefix holds the marker `_COMPLETE`, uploaded after every other file of the
  scene. A prefix without the marker is a leftover of a killed upload.

Nothing here imports apache_beam; fsspec is imported only for URLs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubric_gen.errors import ConfigError, KubricGenError
from kubric_gen.io import format as fmt
from kubric_gen.io.reader import SceneDir
from kubric_gen.io.scene_dir import TMP_PREFIX

SCENE_PREFIX = "scene_"
STATUS_DIR = "_status"
RUN_FILE = "_run.json"
SET_ASIDE_DIR = "_incomplete"  # leftovers holding files we did not write are moved here
REPLACED_DIR = "_replaced"  # scenes replaced by `run --overwrite` holding files we did not write
COMPLETE_MARKER = fmt.COMPLETE
_SCENE_RE = re.compile(r"^scene_(?:(\d{8})|x(\d{20}))$")
MAX_SEED = 2 ** 64 - 1
_SHORT = 10 ** 8


def scene_name(seed: int) -> str:
    """The directory name of a seed, such that sorting names sorts seeds at any seed:
    `scene_00000042` (8 digits) below 10^8, `scene_x00000000000100000000` (x and 20 digits,
    enough for any 64-bit seed) from 10^8 on; "x" sorts after every digit."""
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed: must be in [0, 2^64 - 1] (got {seed})")
    return f"{SCENE_PREFIX}{seed:08d}" if seed < _SHORT else f"{SCENE_PREFIX}x{seed:020d}"


def seed_of(name: str) -> int | None:
    """The seed of a scene directory name, or None if `name` is not one."""
    match = _SCENE_RE.match(name)
    if not match:
        return None
    seed = int(match.group(1) or match.group(2))
    return seed if scene_name(seed) == name else None


_OUR_FILES = frozenset(fmt.OUR_FILES)


def is_our_file(relpath: str) -> bool:
    """Whether a file of a scene directory (a path relative to it) is one our writer makes:
    the format's files and frame files, at the top or in a `view_<camera>/` folder."""
    parts = relpath.split("/")
    if len(parts) == 2 and parts[0].startswith(fmt.VIEW_PREFIX):
        parts = parts[1:]
    if len(parts) != 1:
        return False
    return parts[0] in _OUR_FILES or fmt.layer_of_file(parts[0]) is not None


def _regular_files(path: Path) -> set[str] | None:
    """The regular files of a scene folder and of its `view_<camera>/` folders (as
    "view_<camera>/<file>"); None if it cannot be listed."""
    try:
        with os.scandir(path) as entries:
            top = list(entries)
        out = {e.name for e in top if e.is_file()}
        for e in top:
            if e.name.startswith(fmt.VIEW_PREFIX) and e.is_dir():
                with os.scandir(e.path) as view:
                    out.update(f"{e.name}/{v.name}" for v in view if v.is_file())
    except OSError:
        return None
    return out


def is_url(output: str) -> bool:
    return "://" in str(output)


def _dumps(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


class Output:
    """The output of a run. Subclasses: `LocalOutput`, `FsspecOutput`."""

    url: str
    remote: bool

    # -- scenes -------------------------------------------------------------------------
    def complete_scenes(self) -> set[str]:
        raise NotImplementedError

    def is_complete(self, name: str) -> bool:
        raise NotImplementedError

    def clean_leftovers(self, names: Iterable[str]) -> list[tuple[str, str | None]]:
        """Clear what killed runs left of these scenes; return what was cleared, each with
        where it was moved (None: removed)."""
        raise NotImplementedError

    def clear_scene(self, name: str, aside: str = SET_ASIDE_DIR) -> str | None:
        """Make room for scene `name` again: remove its folder when every file in it is one
        we write, else move it under `aside` and return where it went."""
        raise NotImplementedError

    def read_provenances(self, names: list[str]) -> dict[str, Any]:
        """provenance.json of each scene: its data, or the exception reading it raised
        (FileNotFoundError, ValueError for JSON that is not, OSError)."""
        out: dict[str, Any] = {}
        for name in names:
            try:
                out[name] = self.read_json(f"{name}/{fmt.PROVENANCE}")
            except (ValueError, OSError) as e:
                out[name] = e
        return out

    # -- records ------------------------------------------------------------------------
    def write_json(self, relpath: str, data: Any) -> None:
        raise NotImplementedError

    def read_json(self, relpath: str) -> Any:
        raise NotImplementedError

    def json_names(self, folder: str) -> list[str]:
        """Names of the .json files in `folder` (relative to the output root)."""
        raise NotImplementedError

    def status_names(self) -> list[str]:
        """File names under _status/ (e.g. scene_00000003.json)."""
        return self.json_names(STATUS_DIR)

    def write_status(self, name: str, record: dict) -> None:
        self.write_json(f"{STATUS_DIR}/{name}.json", record)

    def remove_status(self, names: Iterable[str]) -> None:
        """Drop the status records of these scenes (left by earlier runs)."""
        raise NotImplementedError

    def read_status(self, name: str) -> dict | None:
        try:
            data = self.read_json(f"{STATUS_DIR}/{name}.json")
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def prepare(self) -> None:
        """Create the output root (and check it can be written); raise ConfigError if not."""
        raise NotImplementedError


class LocalOutput(Output):
    remote = False

    def __init__(self, path: str | os.PathLike) -> None:
        self.root = Path(path).expanduser().absolute()
        self.url = str(self.root)

    def check(self) -> None:
        """Raise ConfigError if the root cannot be created or written; creates nothing."""
        if self.root.exists():
            if not self.root.is_dir():
                raise ConfigError(f"--output: {self.root} exists and is not a directory")
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise ConfigError(f"--output: {self.root} is not writable")
            return
        parent = self.root.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise ConfigError(f"--output: cannot create {self.root}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"--output: cannot create {self.root}: {parent} is not writable")

    def prepare(self) -> None:
        self.check()
        try:
            (self.root / STATUS_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"--output: cannot create {self.root}: {e.strerror or e}") from None

    def scene_path(self, name: str) -> Path:
        return self.root / name

    def complete_scenes(self) -> set[str]:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return set()
        return {e.name for e in entries if seed_of(e.name) is not None and e.is_dir() and self.is_complete(e.name)}

    def is_complete(self, name: str) -> bool:
        """Its `_COMPLETE` marker (written last by every scene of ours) is there and every file
        it lists is a regular file in the folder: one small JSON and one listing per folder
        (metadata.json is not parsed, which made skipping 5,000 scenes take seconds). A marker
        without a file list (not ours) falls back to `SceneDir.missing`."""
        path = self.root / name
        try:
            marker = json.loads((path / COMPLETE_MARKER).read_bytes())
        except (OSError, ValueError):
            return False
        listed = marker.get("files") if isinstance(marker, dict) else None
        if not isinstance(listed, dict) or not listed:
            try:
                return not SceneDir(path).missing()
            except KubricGenError:
                return False
        present = _regular_files(path)
        return present is not None and all(f in present for f in listed)

    def clean_leftovers(self, names: Iterable[str]) -> list[tuple[str, str | None]]:
        """`.tmp-<name>-<id>` directories (from atomic_directory: only our files) of these
        scenes, and directories with their names that are not complete scene directories
        (removed, or moved aside if they hold anything we did not write)."""
        wanted = set(names)
        removed: list[tuple[str, str | None]] = []
        for name in sorted(wanted):
            if (self.root / name).is_dir() and not self.is_complete(name):
                removed.append((name, self.clear_scene(name)))
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return removed
        for e in entries:
            if not e.name.startswith(TMP_PREFIX):
                continue
            scene = e.name[len(TMP_PREFIX):].split("-", 1)[0]
            if scene in wanted:
                shutil.rmtree(e.path, ignore_errors=True)
                removed.append((e.name, None))
        return sorted(removed)

    def clear_scene(self, name: str, aside: str = SET_ASIDE_DIR) -> str | None:
        path = self.root / name
        if not path.exists():
            return None
        foreign = [p for p in path.rglob("*")
                   if (p.is_symlink() or not p.is_dir()) and not is_our_file(p.relative_to(path).as_posix())]
        if not foreign:
            shutil.rmtree(path, ignore_errors=True)
            return None
        target = self.root / aside / f"{name}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        while target.exists():
            target = target.with_name(target.name + "_")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return str(target)

    def write_json(self, relpath: str, data: Any) -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f"{TMP_PREFIX}{path.name}-{uuid.uuid4().hex[:8]}"
        tmp.write_bytes(_dumps(data))
        os.replace(tmp, path)

    def read_json(self, relpath: str) -> Any:
        return json.loads((self.root / relpath).read_bytes())

    def json_names(self, folder: str) -> list[str]:
        try:
            return [n for n in os.listdir(self.root / folder) if n.endswith(".json")]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def remove_status(self, names: Iterable[str]) -> None:
        status = self.root / STATUS_DIR
        present = set(self.status_names())
        for name in names:
            if f"{name}.json" in present:
                (status / f"{name}.json").unlink(missing_ok=True)
        for tmp in status.glob(f"{TMP_PREFIX}*"):  # records being written when a run was killed
            tmp.unlink(missing_ok=True)


class FsspecOutput(Output):
    """Any fsspec URL. Scenes are rendered into a local directory and uploaded file by
    file (`upload_scene`); the `_COMPLETE` marker goes last."""

    remote = True

    def __init__(self, url: str) -> None:
        try:
            import fsspec.core
        except ImportError:  # pragma: no cover - fsspec is a dependency of the pipeline
            raise ConfigError("--output: URLs need the fsspec package (pip install fsspec)") from None
        self.url = str(url).rstrip("/")
        if self.url.startswith("memory://"):
            raise ConfigError(f"--output: {self.url}: a memory:// filesystem lives in one process, and the scenes "
                              f"are written by worker processes; use a directory or a shared URL (gs://, s3://, ...)")
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as e:
            raise ConfigError(f"--output: cannot open {self.url}: {e}") from None
        self.root = root.rstrip("/")

    def _path(self, relpath: str) -> str:
        return f"{self.root}/{relpath}" if relpath else self.root

    def check(self) -> None:
        try:
            if self.fs.isfile(self.root):
                raise ConfigError(f"--output: {self.url} exists and is not a directory")
        except ConfigError:
            raise
        except Exception as e:  # noqa: BLE001 - any backend error is the user's URL or credentials
            raise ConfigError(f"--output: cannot access {self.url}: {e}") from None
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        if "file" in protocols:
            LocalOutput(self.root).check()

    def prepare(self) -> None:
        self.check()
        try:
            self.fs.makedirs(self._path(STATUS_DIR), exist_ok=True)
        except Exception as e:  # noqa: BLE001
            raise ConfigError(f"--output: cannot create {self.url}: {e}") from None

    def complete_scenes(self) -> set[str]:
        self.fs.invalidate_cache()
        try:
            markers = self.fs.glob(self._path(f"{SCENE_PREFIX}*/{COMPLETE_MARKER}"))
        except FileNotFoundError:
            return set()
        names = {m.rstrip("/").split("/")[-2] for m in markers}
        return {n for n in names if seed_of(n) is not None}

    def is_complete(self, name: str) -> bool:
        return self.fs.exists(self._path(f"{name}/{COMPLETE_MARKER}"))

    def _scene_prefixes(self) -> set[str]:
        self.fs.invalidate_cache()
        try:
            entries = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return set()
        return {e.rstrip("/").split("/")[-1] for e in entries}

    def clean_leftovers(self, names: Iterable[str]) -> list[tuple[str, str | None]]:
        """Scene prefixes without their completion marker."""
        wanted = set(names)
        present = self._scene_prefixes() & wanted
        return [(name, self.clear_scene(name)) for name in sorted(present - self.complete_scenes())]

    def clear_scene(self, name: str, aside: str = SET_ASIDE_DIR) -> str | None:
        prefix = self._path(name)
        try:
            files = [f for f in self.fs.find(prefix) if f.rstrip("/") != prefix]
        except FileNotFoundError:
            files = []
        if all(is_our_file(f[len(prefix) + 1:]) for f in files):
            self.remove_scene(name)
            return None
        target = f"{aside}/{name}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        self.fs.mv(prefix, self._path(target), recursive=True)
        self.fs.invalidate_cache()
        return f"{self.url}/{target}"

    def remove_scene(self, name: str) -> None:
        try:
            self.fs.rm(self._path(name), recursive=True)
        except FileNotFoundError:
            pass
        self.fs.invalidate_cache()

    def upload_scene(self, local_dir: str | os.PathLike, name: str) -> None:
        """Upload every file of a finished local scene directory, then the marker."""
        local_dir = Path(local_dir)
        if self.fs.exists(self._path(name)):
            self.remove_scene(name)  # an earlier, interrupted upload
        top_marker = local_dir / COMPLETE_MARKER  # the views of a multi-camera scene keep their own markers
        files = sorted(p for p in local_dir.rglob("*") if p.is_file() and p != top_marker)
        self.fs.makedirs(self._path(name), exist_ok=True)
        for p in files:
            rel = p.relative_to(local_dir).as_posix()
            if "/" in rel:
                self.fs.makedirs(self._path(f"{name}/{rel.rsplit('/', 1)[0]}"), exist_ok=True)
            self.fs.put_file(str(p), self._path(f"{name}/{rel}"))
        marker = local_dir / COMPLETE_MARKER  # the scene's own record, uploaded last
        if marker.is_file():
            self.fs.put_file(str(marker), self._path(f"{name}/{COMPLETE_MARKER}"))
        else:
            self.fs.pipe_file(self._path(f"{name}/{COMPLETE_MARKER}"),
                              _dumps({"scene": name, "files": [p.relative_to(local_dir).as_posix() for p in files]}))

    def write_json(self, relpath: str, data: Any) -> None:
        path = self._path(relpath)
        parent = path.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        self.fs.pipe_file(path, _dumps(data))

    def read_json(self, relpath: str) -> Any:
        return json.loads(self.fs.cat_file(self._path(relpath)))

    def remove_status(self, names: Iterable[str]) -> None:
        present = set(self.status_names())
        paths = [self._path(f"{STATUS_DIR}/{n}.json") for n in names if f"{n}.json" in present]
        if paths:
            self.fs.rm(paths)
            self.fs.invalidate_cache()

    def read_provenances(self, names: list[str]) -> dict[str, Any]:
        """As Output's, fetched concurrently where the filesystem can (one `cat` call)."""
        paths = {self._path(f"{name}/{fmt.PROVENANCE}"): name for name in names}
        if not paths:
            return {}
        try:
            raw = self.fs.cat(list(paths), on_error="return")
        except (ValueError, OSError) as e:  # the whole call failed: say so for each scene
            return {name: e for name in names}
        out: dict[str, Any] = {}
        for path, name in paths.items():
            data = raw.get(path, FileNotFoundError(path)) if isinstance(raw, dict) else raw
            if isinstance(data, BaseException):
                out[name] = data if isinstance(data, (ValueError, OSError)) else OSError(str(data))
                continue
            try:
                out[name] = json.loads(data)
            except ValueError as e:
                out[name] = e
        return out

    def json_names(self, folder: str) -> list[str]:
        try:
            self.fs.invalidate_cache(self._path(folder))
            entries = self.fs.ls(self._path(folder), detail=False)
        except FileNotFoundError:
            return []
        return [e.rstrip("/").split("/")[-1] for e in entries if e.endswith(".json")]


def open_output(output: str | os.PathLike) -> Output:
    """A local directory for plain paths, an `FsspecOutput` for URLs (file:// included)."""
    if is_url(str(output)):
        return FsspecOutput(str(output))
    return LocalOutput(output)
