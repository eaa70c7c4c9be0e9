"""Exception types of kubric_gen.

Every error a user can cause (a bad scene, config, world or path) is a
`KubricGenError`; the command line prints its message on one line and exits
non-zero without a traceback. Anything else is a bug in kubric_gen.
"""

from __future__ import annotations


def field_message(field: str, value: object, reason: str) -> str:
    """The one-line message about a bad field: "FIELD: REASON (got VALUE)" (VALUE cut at 80 characters)."""
    shown = repr(value)
    return f"{field}: {reason} (got {shown if len(shown) <= 80 else shown[:77] + '...'})"


class KubricGenError(Exception):
    """Base class of all errors caused by user input."""

    field: str | None = None
    value: object = None
    reason: str | None = None

    @classmethod
    def at(cls, field: str, value: object, reason: str) -> KubricGenError:
        """This error about one field (`field_message`), keeping `field`, `value` and `reason`;
        the shared checks (`kubric_gen.checks`) raise it."""
        error = cls(field_message(field, value, reason))
        error.field, error.value, error.reason = field, value, reason
        return error


class SceneError(KubricGenError, ValueError):
    """A scene description is invalid; the message names the field and the value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(field_message(field, value, reason))
        self.field, self.value, self.reason = field, value, reason

    @classmethod
    def at(cls, field: str, value: object, reason: str) -> SceneError:
        return cls(field, value, reason)


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


class SceneCrashed(Exception):
    """A process running a world's code died or timed out (exit status 1, not a user error)."""
