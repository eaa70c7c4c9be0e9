"""The shared field checks: one message format ("FIELD: REASON (got VALUE)") for scenes,
render settings and asset manifests, each raising its own error class."""

import math

import numpy as np
import pytest

from kubric_gen import checks
from kubric_gen.assets.manifest import parse_manifest
from kubric_gen.errors import AssetError, ConfigError, SceneError
from kubric_gen.render.settings import RenderSettings


@pytest.mark.parametrize("check, args, message", [
    (checks.number, ("x",), "f: expected a number (got 'x')"),
    (checks.number, (math.inf,), "f: must be finite (no NaN or inf) (got inf)"),
    (checks.number, (10**400,), "f: must be finite (no NaN or inf) (got 1" + "0" * 76 + "...)"),
    (checks.number, (-1, 0), "f: must be >= 0 (got -1.0)"),
    (checks.number, (0, 0, None, True), "f: must be > 0 (got 0.0)"),
    (checks.number, (2, 0, 1), "f: must be in [0, 1] (got 2.0)"),
    (checks.number, (2, None, 1), "f: must be <= 1 (got 2.0)"),
    (checks.integer, (1.5,), "f: expected an integer (got 1.5)"),
    (checks.integer, (True,), "f: expected an integer (got True)"),
    (checks.integer, (-1, 0, "0 uses all cores"), "f: must be >= 0 (0 uses all cores) (got -1)"),
    (checks.vector, ((1, 2), 3), "f: expected 3 numbers (got (1, 2))"),
    (checks.vector, ((1, math.nan, 2), 3), "f: must be finite (no NaN or inf) (got (1, nan, 2))"),
    (checks.choice, ("c", ("a", "b")), "f: must be one of a, b (got 'c')"),
    (checks.boolean, ("yes",), "f: expected true or false (got 'yes')"),
    (checks.boolean, (1, True), "f: expected true, false or null (got 1)"),
    (checks.string, ("", False), "f: expected a non-empty string (got '')"),
    (checks.json_object, ([1],), "f: expected a JSON object (got [1])"),
    (checks.json_object, ({"a": math.nan},), "f: must be JSON data (no NaN/inf, objects or bytes) (got {'a': nan})"),
])
@pytest.mark.parametrize("error", [SceneError, ConfigError, AssetError])
def test_checks_raise_the_callers_error_with_one_message_format(check, args, message, error):
    with pytest.raises(error) as info:
        check(error, "f", *args)
    assert str(info.value) == message and info.value.field == "f" and info.value.reason in message


def test_checks_return_clean_values():
    assert checks.number(SceneError, "f", np.float32(0.5), 0, 1) == 0.5
    assert type(checks.integer(SceneError, "f", np.int64(3), 0)) is int
    assert checks.vector(SceneError, "f", 2, 3) == (2.0, 2.0, 2.0)
    assert checks.boolean(SceneError, "f", np.bool_(True)) is True
    assert checks.boolean(SceneError, "f", None, optional=True) is None
    data = {"a": [1, 2]}
    assert checks.json_object(SceneError, "f", data) == data and checks.json_object(SceneError, "f", data) is not data


def test_the_three_users_share_the_messages():
    with pytest.raises(ConfigError, match=r"^threads: must be >= 0 \(0 uses all cores\) \(got -2\)$"):
        RenderSettings(threads=-2)
    with pytest.raises(ConfigError, match=r"^motion_blur: must be finite \(no NaN or inf\) \(got nan\)$"):
        RenderSettings(motion_blur=math.nan)
    manifest = {"version": 1, "assets": [{"id": "a", "kind": "object", "visual": "a.obj",
                                          "bounds": [[0, 0, 0], [1, 1, 1]], "volume": -1}]}
    with pytest.raises(AssetError, match=r"\('a'\)\.volume: must be >= 0 \(got -1\.0\)$"):  # was a TypeError
        parse_manifest(manifest)
