"""Exports of scene directories to the formats other communities' tools read.

`export(format, source, output)` (and `kubric-gen export FORMAT SRC OUT`) writes, for a scene
directory or a folder of them, the files of one format (`FORMATS`). Each format's module turns
one unit (a scene, or one camera's view of a scene with several cameras) into files; `run`
stages them, moves them into place, records the unit as done (so a killed export resumes where
it stopped) and, for formats with a file over all scenes (COCO's annotations, TAP-Vid's
pickle), writes it from the units' parts at the end. The conventions of every format are in
docs/exports.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubric_gen.export.formats import FORMATS, Format

if TYPE_CHECKING:
    from kubric_gen.export.run import ExportResult


def export(format_name: str, source: Any, output: Any, **kwargs: Any) -> ExportResult:
    """See `kubric_gen.export.run.export` (imported when called: the command line stays light)."""
    from kubric_gen.export.run import export as run_export

    return run_export(format_name, source, output, **kwargs)


__all__ = ["FORMATS", "Format", "export"]
