"""Loading worlds (scene scripts) and resolving their configs.

A world is a Python file defining `build(rng, config) -> Scene` and a `CONFIG`
dict of documented defaults. Built-in worlds ship in the `kubric_gen.worlds`
package (the repository's `worlds/` folder); any other `.py` path works too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from kubric_gen.errors import ConfigError, KubricGenError, LabelError, WorldError
from kubric_gen.labels import GENERIC, LabelSchema
from kubric_gen.randomness import make_rng
from kubric_gen.scene import Scene

log = logging.getLogger(__name__)


def world_failure(path: Path, error: BaseException, doing: str) -> WorldError:
    """One line for an exception raised by a world's own code: the world file and the line
    (the deepest frame in that file), the exception and its message. The whole traceback
    is logged (shown with `-v`)."""
    log.info("the world %s raised while %s", path, doing, exc_info=error)
    where = str(path)
    if isinstance(error, SyntaxError) and error.filename and Path(error.filename).resolve() == path.resolve():
        where = f"{path}:{error.lineno}"
    else:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() == path.resolve()]
        if frames:
            where = f"{path}:{frames[-1].lineno}"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return WorldError(f"world {path.stem!r} failed while {doing} ({where}): {text} (-v shows the traceback)")


@dataclass(frozen=True)
class World:
    name: str
    path: Path
    module: ModuleType

    @property
    def defaults(self) -> dict[str, Any]:
        return dict(getattr(self.module, "CONFIG", {}))

    @property
    def doc(self) -> str:
        return (self.module.__doc__ or "").strip()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def label_schema(self, config: dict[str, Any] | None = None) -> LabelSchema:
        """The labels this world's scenes carry, for `config` (default: the world's defaults):
        the world's `labels(config)`, else its `LABELS`, else the generic schema (asset_id)."""
        declare = getattr(self.module, "labels", None)
        try:
            schema = declare(dict(config if config is not None else self.defaults)) if callable(declare) \
                else getattr(self.module, "LABELS", GENERIC)
        except LabelError as e:
            raise WorldError(f"world {self.name!r}: label schema: {e}") from None
        except KubricGenError:
            raise
        except Exception as e:  # noqa: BLE001
            raise world_failure(self.path, e, "declaring its labels") from None
        if not isinstance(schema, LabelSchema):
            raise WorldError(f"world {self.name!r}: labels()/LABELS must give a kubric_gen.labels.LabelSchema "
                             f"(got {type(schema).__name__})")
        return schema


def builtin_worlds_dir() -> Path:
    import kubric_gen.worlds

    return Path(kubric_gen.worlds.__file__).parent


def builtin_world_names() -> list[str]:
    return sorted(p.stem for p in builtin_worlds_dir().glob("*.py") if not p.stem.startswith("_"))


def load_world(name_or_path: str) -> World:
    """A built-in world by name (e.g. "movi_a") or a world file by path."""
    path = Path(name_or_path)
    if path.suffix != ".py" and not path.exists():
        candidate = builtin_worlds_dir() / f"{name_or_path}.py"
        if not candidate.exists():
            raise WorldError(f"world {name_or_path!r}: no such file and no built-in world of that name "
                             f"(built-in: {', '.join(builtin_world_names())})")
        path = candidate
    if not path.is_file():
        raise WorldError(f"world {name_or_path!r}: file not found")
    module_name = f"kubric_gen.worlds.{path.stem}" if path.parent == builtin_worlds_dir() else \
        f"kubric_gen_user_world_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]}"
    if module_name in sys.modules and getattr(sys.modules[module_name], "__file__", None) == str(path):
        module = sys.modules[module_name]
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise WorldError(f"world {name_or_path!r}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except KubricGenError:
            sys.modules.pop(module_name, None)
            raise
        except Exception as e:  # noqa: BLE001 - any error of the world's own code is the world's
            sys.modules.pop(module_name, None)
            raise world_failure(path, e, "loading") from None
    if not callable(getattr(module, "build", None)):
        raise WorldError(f"world {name_or_path!r}: {path} defines no build(rng, config) function")
    return World(name=path.stem, path=path, module=module)


_RESOLUTION = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_resolution(text: str, field: str = "resolution") -> list[int]:
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
        scene = world.module.build(make_rng(seed), dict(config))
    except KubricGenError:
        raise
    except Exception as e:  # noqa: BLE001 - the world's own bug: one line naming its file and line
        raise world_failure(world.path, e, f"building scene {seed}") from None
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
