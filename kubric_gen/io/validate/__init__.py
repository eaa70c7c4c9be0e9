"""Checks of a scene directory: is every layer there and decodable, and do its parts agree?

`check_scene(SceneDir(path))` returns a list of `Problem`s (empty when all hold); an error
means readers would get wrong or no data, a warning something a user should know (e.g.
pixels that see no surface). `kubric-gen validate` prints them; dataset packaging skips a
scene with errors. The checks of a one-camera scene directory are in `view.py`; a scene
with several cameras gets them in each view, then the rig's own (`rig.py`).
"""

from __future__ import annotations

from kubric_gen.io import format as fmt
from kubric_gen.io.reader import SceneDir
from kubric_gen.io.validate.rig import check_rig
from kubric_gen.io.validate.view import Problem, _listable, check_view, expected_motion

__all__ = ["Problem", "check_rig", "check_scene", "check_view", "errors_of", "expected_motion"]


def check_scene(sd: SceneDir) -> list[Problem]:
    """Every problem of one scene directory; for a scene with several cameras, every view's
    (files named ``view_<camera>/...``) and the rig's."""
    problems: list[Problem] = []
    if not _listable(sd, problems):
        return problems
    if fmt.METADATA in sd.files and sd.is_multiview:
        return check_rig(sd, problems)
    return check_view(sd, problems)


def errors_of(sd: SceneDir) -> list[Problem]:
    return [p for p in check_scene(sd) if p.severity == "error"]
