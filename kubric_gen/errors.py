"""Exception types of kubric_gen.

Every error a user can cause (a bad scene, config, world or path) is a
`KubricGenError`; the command line prints its message on one line and exits
non-zero without a traceback. Anything else is a bug in kubric_gen.
"""

from __future__ import annotations


class KubricGenError(Exception):
    """Base class of all errors caused by user input."""


class SceneError(KubricGenError, ValueError):
    """A scene description is invalid; the message names the field and the value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


class ConfigError(KubricGenError, ValueError):
    """A world config or command-line option is invalid."""


class WorldError(KubricGenError):
    """A world script cannot be found or loaded."""


class PlacementError(KubricGenError):
    """An object cannot be placed in a region without overlapping others."""


class AssetError(KubricGenError):
    """A mesh or asset file cannot be read."""


class LabelError(KubricGenError, ValueError):
    """A label schema is malformed, or a label value is not one the schema allows."""
