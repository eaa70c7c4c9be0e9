"""Which complete scenes a run may keep: those made exactly as this run asks.

A scene directory is complete when every file is there (`outputs`); it is *this run's*
scene only when its `provenance.json` (written by `generate.generate_scene`) records the
same world (name and SHA-256 of its file), the same seed as its name, the same resolved
config, the same render settings (all but `threads`, which only decides how fast it
renders), the same output options (`--tracks`, `--float-layers`, `--no-preview`; scenes
written before these were recorded count as matching) and the same package versions.
Anything else (another resolution, another world, a scene copied under another seed's
name, an upgraded bpy) is a scene this run did not ask for: `check` names the first
difference in one line (a ConfigError, exit status 2) before anything is rendered or
written, and with `--overwrite` hands those scenes back to be rendered again.

The check reads one small JSON file per complete scene (see benchmarks/resume.py for its cost).
"""

from __future__ import annotations

import json
from typing import Any

from kubric_gen.errors import ConfigError
from kubric_gen.pipeline.outputs import Output, seed_of

IGNORED_SETTINGS = ("threads",)  # how fast a scene renders, not what it shows
# render settings added since scenes were first recorded: a scene without one was made at its default
LATER_SETTINGS = {"intrinsics": False}


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples become lists), so recorded and asked values compare."""
    return json.loads(json.dumps(value))


def expected(world, config: dict[str, Any], settings: dict[str, Any],
             outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the provenance of a scene of this run records (all but the seed); `outputs`:
    `generate.output_options` of the run (--tracks, --float-layers, the preview)."""
    from kubric_gen.generate import versions

    return {"world": {"name": world.name, "sha256": world.sha256}, "config": _plain(config),
            "render_settings": {k: v for k, v in _plain(settings).items() if k not in IGNORED_SETTINGS},
            "outputs": _plain(outputs or {}), "versions": versions()}


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _differ(what: str, recorded: Any, asked: Any, asks: str = "asks") -> str | None:
    """'<what> R, this run asks A' for the first key of `asked` whose value differs."""
    if not isinstance(recorded, dict):
        return f"no {what} record" if what != "version of" else "no versions record"
    for key, value in asked.items():
        if key not in recorded:
            return f"no {what} {key!r}, this run {asks} {_show(value)}"
        if recorded[key] != value:
            return f"{what} {key!r} {_show(recorded[key])}, this run {asks} {_show(value)}"
    extra = sorted(set(recorded) - set(asked))
    if extra:
        return f"{what} {extra[0]!r} {_show(recorded[extra[0]])}, which this run does not have"
    return None


def difference(provenance: Any, name: str, want: dict[str, Any]) -> str | None:
    """The first difference between a scene's recorded provenance and what this run asks
    (world, seed, config, render settings, versions), as words; None when it is this run's."""
    if not isinstance(provenance, dict):
        return "has a provenance.json that is not a JSON object"
    world = provenance.get("world") if isinstance(provenance.get("world"), dict) else {}
    if world.get("name") != want["world"]["name"]:
        return f"was made with world {_show(world.get('name'))}, this run asks {_show(want['world']['name'])}"
    if world.get("sha256") != want["world"]["sha256"]:
        return (f"was made with another version of world {want['world']['name']!r} (file sha256 "
                f"{str(world.get('sha256'))[:12]}, this run's {str(want['world']['sha256'])[:12]})")
    seed = seed_of(name)
    if provenance.get("seed") != seed:
        return (f"was made with seed {_show(provenance.get('seed'))}, this run asks {seed} "
                f"(a scene copied under another name?)")
    settings = provenance.get("render_settings")
    if isinstance(settings, dict):
        settings = {**LATER_SETTINGS, **{k: v for k, v in settings.items() if k not in IGNORED_SETTINGS}}
    outputs = provenance.get("outputs", want.get("outputs", {}))  # scenes made before it was recorded: as asked
    why = (_differ("config", provenance.get("config"), want["config"])
           or _differ("render setting", settings, want["render_settings"])
           or _differ("output option", outputs, want.get("outputs", {}))
           or _differ("version of", provenance.get("versions"), want["versions"], asks="has"))
    return f"was made with {why}" if why else None


def check(output: Output, names: list[str], want: dict[str, Any], overwrite: bool) -> list[str]:
    """The complete scenes among `names` that this run did not ask for (see the module
    docstring). Without `overwrite` the first one is a ConfigError naming the difference;
    with it they are returned, to be rendered again."""
    other = []
    provenances = output.read_provenances(sorted(names))
    for name in sorted(names):
        data = provenances[name]
        if isinstance(data, FileNotFoundError):
            why = "has no provenance.json (not written by kubric_gen's run or render)"
        elif isinstance(data, (ValueError, OSError)):
            first = str(data).splitlines()[0] if str(data) else ""
            why = f"has an unreadable provenance.json ({type(data).__name__}: {first})"
        else:
            why = difference(data, name, want)
        if why is None:
            continue
        if not overwrite:
            where = f"{output.url.rstrip('/')}/{name}"
            raise ConfigError(f"{where} {why}; use --overwrite to render it again, or another --output")
        other.append(name)
    return other
