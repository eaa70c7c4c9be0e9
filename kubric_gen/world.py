"""Loading worlds (scene scripts) and resolving their configs.

A world is a Python file defining `build(rng, config) -> Scene` and a `CONFIG`
dict of documented defaults, or a folder that is a Python package whose `__init__.py`
defines them. Built-in worlds ship in the `kubric_gen.worlds` package (the repository's
`worlds/` folder) and are named bare (`movi_a`); anything that looks like a path (`./x`,
`a/b`, `x.py`) is a path. A world file's folder is on `sys.path` while the world's code
runs (as for a Python script), so helper modules beside it import; a world package imports
its helpers relatively. Helper names that would hide another module (kubric_gen, the
standard library, an installed package) are refused. `World.files()` is what ships the
world by value to workers on other machines (`docs/worlds.md`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import math
import os
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from kubric_gen.errors import ConfigError, KubricGenError, LabelError, WorldError
from kubric_gen.labels import GENERIC, LabelSchema
from kubric_gen.randomness import make_rng
from kubric_gen.scene import Scene

_log = logging.getLogger(__name__)


def world_failure(path: Path, error: BaseException, doing: str, own: tuple[Path, ...] = (),
                  name: str | None = None) -> WorldError:
    """One line for an exception raised by a world's own code: the world file (or the helper
    module, any file under `own`) and the line (the deepest frame in those files), the exception
    and its message. The whole traceback is logged (shown with `-v`)."""
    _log.info("the world %s raised while %s", path, doing, exc_info=error)

    def mine(filename: str | None) -> bool:
        if not filename:
            return False
        f = Path(filename).resolve()
        return f == path.resolve() or any(f == o or f.is_relative_to(o) for o in own)

    where = str(path)
    if isinstance(error, SyntaxError) and mine(error.filename):
        where = f"{error.filename}:{error.lineno}"
    else:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if mine(f.filename)]
        if frames:
            where = f"{frames[-1].filename}:{frames[-1].lineno}"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return WorldError(f"world {name or path.stem!r} failed while {doing} ({where}): {text} (-v shows the traceback)")


SHIP_LIMIT_BYTES = 32 * 2**20  # a world travels by value with the job: whole folders of data belong on shared storage
"""The most bytes a world (its file and helper modules, or its package) may ship with a job."""
SHIP_LIMIT_FILES = 2000
"""The most files a world package may ship with a job (its data beyond that belongs on shared storage)."""

# top-level module name -> where the world helper of that name was imported from (so the next
# world with a helper of the same name gets its own, not a cached one)
_world_modules: dict[str, Path] = {}


def names_a_path(text: str) -> bool:
    """Whether a world argument is a path rather than a built-in name: `./x`, `a/b`, `x.py`."""
    return text.endswith(".py") or text.startswith(".") or "/" in text or os.sep in text \
        or bool(os.altsep and os.altsep in text)


def _module_names(folder: Path) -> dict[str, Path]:
    """The top-level modules a folder on sys.path provides: `*.py` files and package folders."""
    names: dict[str, Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return names
    for entry in entries:
        name = entry.stem if entry.suffix == ".py" else entry.name
        if not name.isidentifier() or name.startswith("__"):
            continue
        if entry.suffix == ".py" and entry.is_file() or entry.is_dir() and (entry / "__init__.py").is_file():
            names[name] = entry
    return names


def _located_at(origin: str | None, location: Path) -> bool:
    if not origin:
        return False
    where = Path(origin).resolve()
    return where == location.resolve() or where.is_relative_to(location.resolve())


def _hidden(name: str, location: Path, folder: Path) -> str | None:
    """What the world's module `name` (at `location`, with `folder` first on sys.path) would hide
    from kubric_gen and the world: an already imported module, the standard library's, an
    installed one; None when it hides nothing (or is that very module)."""
    loaded = sys.modules.get(name)
    if loaded is not None and name not in _world_modules:
        origin = getattr(loaded, "__file__", None)
        if _located_at(origin, location):
            return None
        return f"the module {name!r} kubric_gen already uses ({origin or 'built in'})"
    if name in sys.stdlib_module_names:
        return f"the standard-library module {name!r}"
    others = [p for p in sys.path if Path(p or ".").resolve() != folder.resolve()]
    try:
        spec = importlib.machinery.PathFinder.find_spec(name, others)
    except (ImportError, ValueError, OSError):
        spec = None
    if spec is not None and spec.origin and not _located_at(spec.origin, location):
        return f"the installed module {name!r} ({spec.origin})"
    return None


def _forget(name: str) -> None:
    """Drop a world module of another folder (and its submodules) from the import cache."""
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    _world_modules.pop(name, None)


def _claim(arg: str, names: dict[str, Path], folder: Path, package: bool = False) -> None:
    """Refuse modules of the world that would hide others; forget other worlds' same-named ones."""
    for name, location in names.items():
        if name == "kubric_gen" and not package:
            continue  # imported before any world runs: a clone beside a world file hides nothing
        if _world_modules.get(name) not in (None, location):
            _forget(name)
        reason = _hidden(name, location, folder)
        if reason:
            how = "rename the world's folder" if package else "rename it (or put the world in a folder of its own)"
            raise WorldError(f"world {arg!r}: {location} would hide {reason} while the world runs; {how}")
    for name, location in names.items():
        if name not in sys.modules or name in _world_modules:
            _world_modules[name] = location


@contextlib.contextmanager
def _on_path(folder: Path | None) -> Iterator[None]:
    """`folder` first on sys.path while a world file's code runs (its helper modules import)."""
    if folder is None:
        yield
        return
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def world_files(path: Path, package: bool) -> dict[str, bytes]:
    """The files that make a world, relative to its folder: a package's whole folder, or a world
    file and the modules beside it (`.py` files, package folders); what ships to workers."""
    root = path if package else path.parent
    tops = [root] if package else [path, *(p for p in _module_names(root).values() if p != path)]
    files: dict[str, bytes] = {}
    size = 0
    for top in tops:
        for file in sorted(top.rglob("*")) if top.is_dir() else [top]:
            rel = file.relative_to(root)
            if not file.is_file() or any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            data = file.read_bytes()
            size += len(data)
            files[rel.as_posix()] = data
            if size > SHIP_LIMIT_BYTES or len(files) > SHIP_LIMIT_FILES:
                raise WorldError(f"world {path.stem!r}: {root} holds more than {SHIP_LIMIT_BYTES >> 20} MB or "
                                 f"{SHIP_LIMIT_FILES} files of modules to ship with the job; put the world in a "
                                 f"folder of its own (and large data on storage every worker reads)")
    return files


def files_digest(files: dict[str, bytes]) -> str:
    """One hash for a world's files (names and contents)."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class World:
    """A loaded world: its name, the file or package it came from, and the imported module
    (`CONFIG`, `build`, optionally `LABELS` or `labels(config)`)."""

    name: str
    path: Path  # the world file; a world package's __init__.py
    module: ModuleType
    package: bool = False  # a folder: a Python package whose __init__.py is the world
    folder: Path | None = field(default=None)  # first on sys.path while a world file's code runs

    @property
    def root(self) -> Path:
        """The world package's folder, or the world file."""
        return self.path.parent if self.package else self.path

    @property
    def builtin(self) -> bool:
        return not self.package and self.path.parent.resolve() == builtin_worlds_dir().resolve()

    @property
    def defaults(self) -> dict[str, Any]:
        return dict(getattr(self.module, "CONFIG", {}))

    @property
    def doc(self) -> str:
        return (self.module.__doc__ or "").strip()

    @property
    def sha256(self) -> str:
        """The world file's hash; a package's: of all its files."""
        if self.package:
            return files_digest(world_files(self.root, True))
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def files(self) -> dict[str, bytes]:
        """What ships to workers (`world_files`); nothing for a built-in world."""
        return {} if self.builtin else world_files(self.root, self.package)

    def own(self) -> tuple[Path, ...]:
        """The files whose frames are the world's own in a traceback: the package, or the world
        file's helper modules."""
        if self.package:
            return (self.root.resolve(),)
        return tuple(p.resolve() for n, p in _world_modules.items() if self.folder and p.parent == self.folder)

    def running(self) -> contextlib.AbstractContextManager[None]:
        """The world's folder on sys.path while its code runs (helper modules imported lazily)."""
        return _on_path(self.folder)

    def failure(self, error: BaseException, doing: str) -> WorldError:
        return world_failure(self.path, error, doing, self.own(), self.name)

    def label_schema(self, config: dict[str, Any] | None = None) -> LabelSchema:
        """The labels this world's scenes carry, for `config` (default: the world's defaults):
        the world's `labels(config)`, else its `LABELS`, else the generic schema (asset_id)."""
        declare = getattr(self.module, "labels", None)
        try:
            with self.running():
                schema = declare(dict(config if config is not None else self.defaults)) if callable(declare) \
                    else getattr(self.module, "LABELS", GENERIC)
        except LabelError as e:
            raise WorldError(f"world {self.name!r}: label schema: {e}") from None
        except KubricGenError:
            raise
        except Exception as e:  # noqa: BLE001
            raise self.failure(e, "declaring its labels") from None
        if not isinstance(schema, LabelSchema):
            raise WorldError(f"world {self.name!r}: labels()/LABELS must give a kubric_gen.labels.LabelSchema "
                             f"(got {type(schema).__name__})")
        return schema


def builtin_worlds_dir() -> Path:
    """The folder of the built-in worlds (installed as the package `kubric_gen.worlds`)."""
    import kubric_gen.worlds

    return Path(kubric_gen.worlds.__file__).parent


def builtin_world_names() -> list[str]:
    """The names `kubric-gen worlds` lists: each built-in world file without its `.py`."""
    return sorted(p.stem for p in builtin_worlds_dir().glob("*.py") if not p.stem.startswith("_"))


def is_builtin(name_or_path: str) -> bool:
    """Whether a world argument names a built-in world (a bare name, not a path: see `load_world`)."""
    arg = str(name_or_path)
    return not names_a_path(arg) and not arg.startswith("_") and (builtin_worlds_dir() / f"{arg}.py").is_file()


def load_world(name_or_path: str) -> World:
    """A built-in world by name (e.g. "movi_a"), or a world file or package folder by path. A bare
    built-in name always means the built-in world, whatever the working directory holds; write
    `./movi_a` for a folder of that name."""
    arg = str(name_or_path)
    if is_builtin(arg):
        path = builtin_worlds_dir() / f"{arg}.py"
    else:
        path = Path(arg)
        if not path.exists():
            if not names_a_path(arg):
                raise WorldError(f"world {arg!r}: no such file and no built-in world of that name "
                                 f"(built-in: {', '.join(builtin_world_names())})")
            raise WorldError(f"world {arg!r}: file not found")
        if path.is_dir():
            return _load_package(arg, path)
        if not path.is_file():
            raise WorldError(f"world {arg!r}: not a regular file")
    folder = None
    if path.parent.resolve() == builtin_worlds_dir().resolve():
        module_name = f"kubric_gen.worlds.{path.stem}"
    else:
        module_name = f"kubric_gen_user_world_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]}"
        folder = path.parent.resolve()
        _claim(arg, _module_names(folder), folder)
    world = World(name=path.stem, path=path, module=ModuleType(module_name), folder=folder)
    module = _execute(arg, world, module_name, path, None)
    return World(name=path.stem, path=path, module=module, folder=folder)


def _load_package(arg: str, folder: Path) -> World:
    """A world package: `folder/__init__.py` is the world, imported under the folder's name."""
    init = folder / "__init__.py"
    name = folder.resolve().name
    if not init.is_file():
        raise WorldError(f"world {arg!r}: a world folder is a Python package, but {init} (the world: CONFIG and "
                         f"build(rng, config)) is missing")
    if not name.isidentifier():
        raise WorldError(f"world {arg!r}: a world package's folder name must be a Python identifier (got {name!r})")
    _claim(arg, {name: folder.resolve()}, folder.resolve().parent, package=True)
    world = World(name=name, path=init, module=ModuleType(name), package=True)
    module = _execute(arg, world, name, init, [str(folder.resolve())])
    return World(name=name, path=init, module=module, package=True)


def _execute(arg: str, world: World, module_name: str, path: Path, search: list[str] | None) -> ModuleType:
    """The world's module, run once per process (again when its file changed place)."""
    cached = sys.modules.get(module_name)
    if cached is not None and getattr(cached, "__file__", None) == str(path):
        module = cached
    else:
        spec = importlib.util.spec_from_file_location(module_name, path, submodule_search_locations=search)
        if spec is None or spec.loader is None:
            raise WorldError(f"world {arg!r}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            with world.running():
                spec.loader.exec_module(module)
        except KubricGenError:
            sys.modules.pop(module_name, None)
            raise
        except Exception as e:  # noqa: BLE001 - any error of the world's own code is the world's
            sys.modules.pop(module_name, None)
            raise world.failure(e, "loading") from None
    if not callable(getattr(module, "build", None)):
        raise WorldError(f"world {arg!r}: {path} defines no build(rng, config) function")
    return module


_RESOLUTION = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_resolution(text: str, field: str = "resolution") -> list[int]:
    """`WIDTHxHEIGHT` (e.g. `256x256`) as [width, height]; a ConfigError naming `field` otherwise."""
    match = _RESOLUTION.match(str(text))
    if not match or int(match.group(1)) <= 0 or int(match.group(2)) <= 0:
        raise ConfigError(f"{field}: expected WIDTHxHEIGHT with positive integers, e.g. 256x256 (got {text!r})")
    return [int(match.group(1)), int(match.group(2))]


def _finite(key: str, value: Any) -> Any:
    """`value`, after checking that every number in it is finite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config '{key}': numbers must be finite (got {value!r})")
    if isinstance(value, (list, tuple)):
        for v in value:
            _finite(key, v)
    elif isinstance(value, dict):
        for v in value.values():
            _finite(key, v)
    return value


def _coerce(key: str, default: Any, value: Any) -> Any:
    """Give an override the type of its default, or say why it cannot be (non-finite
    numbers never pass)."""
    return _finite(key, _coerce_type(key, default, value))


def _coerce_type(key: str, default: Any, value: Any) -> Any:
    if isinstance(value, str) and isinstance(default, (list, tuple)) and len(default) == 2 \
            and _RESOLUTION.match(value):
        return parse_resolution(value, f"config '{key}'")
    if isinstance(value, str) and not isinstance(default, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            if isinstance(default, float) and value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
                value = float(value)  # "nan", "inf": refused as non-finite by the caller
    kind = type(default)
    if default is None or isinstance(value, kind) and not (isinstance(value, bool) and kind is int):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and isinstance(value, list):
        return tuple(value)
    if kind is list and isinstance(value, tuple):
        return list(value)
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             list: "a JSON list", tuple: "a JSON list", dict: "a JSON object"}
    raise ConfigError(f"config '{key}': expected {names.get(kind, kind.__name__)} like {json.dumps(default)} "
                      f"(got {value!r})")


def resolve_config(world: World, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The world's defaults with `overrides` applied; unknown keys are errors."""
    config = world.defaults
    for key, value in (overrides or {}).items():
        if key not in config:
            known = ", ".join(sorted(config)) or "none"
            raise ConfigError(f"config '{key}': unknown key for world {world.name!r} (known: {known})")
        config[key] = _coerce(key, config[key], value)
    return config


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`key=value` strings (from --set) into a dict."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set: expected key=value (got {pair!r})")
        out[key.strip()] = value
    return out


def build_scene(world: World, seed: int, config: dict[str, Any]) -> Scene:
    """Run the world for `seed`: a validated scene with `seed` recorded."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer (got {seed!r})")
    try:
        with world.running():
            scene = world.module.build(make_rng(seed), dict(config))
    except KubricGenError:
        raise
    except Exception as e:  # noqa: BLE001 - the world's own bug: one line naming its file and line
        raise world.failure(e, f"building scene {seed}") from None
    if not isinstance(scene, Scene):
        raise WorldError(f"world {world.name!r}: build() returned {type(scene).__name__}, not a Scene")
    scene.seed = seed
    scene.validate()
    check_labels(world, scene, world.label_schema(config))
    return scene


def check_labels(world: World, scene: Scene, schema: LabelSchema) -> None:
    """Every object that can become an instance carries labels the world's schema allows
    (checked before any simulation or rendering, so a world cannot write labels its
    datasets would reject)."""
    for obj in scene.objects:
        if obj.is_background:
            continue
        try:
            schema.check_object_labels(obj.name, {"asset_id": obj.asset_id, "scale": obj.scale, **obj.labels})
        except LabelError as e:
            raise WorldError(f"world {world.name!r}: {e} (the world's label schema {schema.name!r})") from None
