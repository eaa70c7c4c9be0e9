"""Components to and from plain JSON data: each component class registers under its `kind`,
which is the `type` field of its JSON object."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol, TypeVar

from kubric_gen.errors import SceneError


class Component(Protocol):
    """What `register` takes: a dataclass whose `kind` names it in JSON."""

    kind: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]


C = TypeVar("C", bound="type[Component]")
REGISTRY: dict[str, type[Component]] = {}


def register(cls: C) -> C:  # returns the class itself, so it keeps its type
    REGISTRY[cls.kind] = cls
    return cls


def to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {"type": value.kind} if hasattr(value, "kind") else {}
        for f in dataclasses.fields(value):
            data[f.name] = to_data(getattr(value, f.name))
        return data
    if isinstance(value, (tuple, list)):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    return value


def from_data(data: Any, where: str, allowed: tuple[type, ...]) -> Any:
    """Build a registered component from its dict; `allowed` lists the base classes."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise SceneError(where, data, "expected an object with a 'type'")
    cls = REGISTRY.get(data["type"])
    if cls is None or not issubclass(cls, allowed):
        names = sorted(k for k, c in REGISTRY.items() if issubclass(c, allowed))
        raise SceneError(f"{where}.type", data["type"], f"must be one of {', '.join(names)}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known - {"type"})
    if unknown:
        raise SceneError(f"{where}.{unknown[0]}", data[unknown[0]], "unknown field")
    kwargs = {k: v for k, v in data.items() if k != "type"}
    try:
        for name, decode in getattr(cls, "_nested", {}).items():
            if kwargs.get(name) is not None:
                kwargs[name] = decode(kwargs[name], f"{where}.{name}")
        return cls(**kwargs)
    except SceneError:
        raise
    except (TypeError, ValueError, OverflowError, AttributeError, KeyError, IndexError) as e:
        raise SceneError(where, kwargs, f"malformed ({type(e).__name__}: {e})") from None
