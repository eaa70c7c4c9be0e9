"""Package exports imported on first use (PEP 562), so that importing a package, or any
module inside it, does not import every heavy library its modules use. Every `kubric-gen`
command imports the packages whose subcommands it registers; this keeps its start-up short."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, sources: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports `name` from the module
    `sources[name]` (a full module path) when the name is first looked up."""

    def __getattr__(name: str) -> Any:
        if name in sources:
            return getattr(import_module(sources[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
