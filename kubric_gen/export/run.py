"""Running an export: which units are left, each one staged and moved into place, resume, the
files over all units, progress. The source is a scene directory, a folder of them, or a prepared
TFDS dataset (its examples read in this process: `export.examples`).

The output folder holds the format's files and `_export/`: `export.json` (format, options, the
source), `done/<unit>.json` per finished unit (the files it wrote and its part for the files
over all units) and `staging/<unit>/` while a unit is written. A unit's files appear in the
output only once all of them are written; a killed export leaves at most a staging folder,
removed when it runs again, and the units already done are not redone. Units run in parallel
in worker processes (`workers`, 0: one per core; forked, or spawned when the caller has loaded
TensorFlow or PyTorch); a unit that fails (a scene without the layer a
format needs, a damaged file) is reported and the others go on.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubric_gen.datasets.validate import find_dataset_versions
from kubric_gen.errors import ConfigError, KubricGenError
from kubric_gen.export.examples import ExampleUnit, check_format, dataset_units
from kubric_gen.export.formats import FORMATS, Format
from kubric_gen.export.units import Unit, units_of
from kubric_gen.io.reader import SceneDirError, list_scene_dirs

log = logging.getLogger("kubric_gen.export")

STATE = "_export"


@dataclass
class ExportResult:
    """What `export` did: every unit's name, those exported now, those found done, those that
    failed (name: one-line reason), the files over all units, and the time it took."""

    output: Path
    units: list[str]
    exported: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    combined: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _record(format_name: str, source: str, options: dict) -> dict:
    return {"format": format_name, "source": os.path.abspath(source), "options": options}


def _check_output(output: Path, record: dict, overwrite: bool) -> None:
    """An output folder that is new, empty, or an export of the same format and options."""
    if output.exists() and not output.is_dir():
        raise ConfigError(f"OUT: {output} is a file, not a folder")
    if not output.exists() or not any(output.iterdir()):
        return
    state = output / STATE / "export.json"
    if not state.is_file():
        raise ConfigError(f"OUT: {output} is a folder of other files, not an export (give a new or empty folder)")
    try:
        recorded = json.loads(state.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"OUT: {state} is unreadable ({e}); remove the folder to export again") from None
    same = {k: recorded.get(k) for k in ("format", "options")} == {k: record[k] for k in ("format", "options")}
    if not same:
        if not overwrite:
            raise ConfigError(f"OUT: {output} holds a {recorded.get('format')!r} export with options "
                              f"{recorded.get('options')}; this one is {record['format']!r} with {record['options']} "
                              f"(use --overwrite to replace it, or another folder)")
        shutil.rmtree(output)


def _export_unit(format_name: str, unit: Unit | ExampleUnit, staging: str, options: dict) -> dict:
    """In a worker: write one unit's files under `staging`; its part for the combined files."""
    staging_path = Path(staging)
    shutil.rmtree(staging_path, ignore_errors=True)
    staging_path.mkdir(parents=True)
    return FORMATS[format_name].write_unit(unit, staging_path, options)


def _move_into_place(staging: Path, output: Path) -> list[str]:
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    moved = []
    for path in files:
        relative = path.relative_to(staging)
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        moved.append(relative.as_posix())
    shutil.rmtree(staging, ignore_errors=True)
    return moved


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def _one_line(error: BaseException) -> str:
    """An error as one line: our errors' own message, others' with their type."""
    text = (str(error).strip().splitlines() or [""])[0]
    if isinstance(error, KubricGenError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _scene_units(scenes: list[str], fmt: Format, failed: dict[str, str]) -> list[Unit]:
    """The units of the scene directories, in name order and numbered; a scene whose views cannot
    be listed goes to `failed`."""
    units: list[Unit] = []
    for path in scenes:
        try:
            units.extend(units_of(path, fmt.per_view))
        except KubricGenError as e:
            failed[Path(path).name] = _one_line(e)
    return [dataclasses.replace(u, index=i) for i, u in enumerate(sorted(units, key=lambda u: u.name))]


def _export_all(pending: list[Unit], workers: int, finished: Callable, export_here: Callable, format_name: str,
                state: Path, options: dict) -> None:
    """The pending units, here one after another or in `workers` processes (0: one per core)."""
    workers = min(workers or os.cpu_count() or 1, max(1, len(pending)))
    if workers <= 1:
        for unit in pending:
            finished(unit, lambda unit=unit: export_here(unit))
        return
    # fork starts a worker in milliseconds; spawn (a fresh interpreter, ~1 s) where the caller has
    # loaded libraries whose threads a fork would copy in a broken state (TensorFlow, PyTorch)
    heavy = any(name in sys.modules for name in ("tensorflow", "torch"))
    context = multiprocessing.get_context("spawn" if heavy else "fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        jobs = {pool.submit(_export_unit, format_name, unit, str(state / "staging" / unit.name), options): unit
                for unit in pending}
        for job in concurrent.futures.as_completed(jobs):
            finished(jobs[job], job.result)


def export(format_name: str, source: str | os.PathLike, output: str | os.PathLike, workers: int = 0,
           overwrite: bool = False, options: dict | None = None,
           progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Export the scene directory or folder of scene directories `source` to `output` in
    `format_name` (one of `FORMATS`); see the module doc. `progress(done, total)` after each
    unit. ConfigError (before anything is written) for an unknown format, a source without
    scenes, an output folder that is not an export of the same format and options (without
    `overwrite`), or options the format does not take."""
    start = time.perf_counter()
    if format_name not in FORMATS:
        raise ConfigError(f"FORMAT: {format_name!r} is not one of {', '.join(FORMATS)}")
    fmt: Format = FORMATS[format_name]
    options = fmt.check_options(dict(options or {}))
    source, output = os.fspath(source), Path(output)
    try:
        scenes = list_scene_dirs(source)
    except (SceneDirError, OSError) as e:
        raise ConfigError(f"SRC: {e}") from None
    scenes = [s for s in scenes if not find_dataset_versions(s)]  # a dataset's folders are not scenes
    from_dataset = not scenes and bool(find_dataset_versions(source))
    if not scenes and not from_dataset:
        raise ConfigError(f"SRC: {source} holds no scene directories")
    if from_dataset:
        check_format(format_name)
    record = _record(format_name, source, options)
    _check_output(output, record, overwrite)
    failed: dict[str, str] = {}
    units = [] if from_dataset else _scene_units(scenes, fmt, failed)
    if fmt.check is not None and not from_dataset:  # (a dataset's examples share its label schema)
        fmt.check(units, options)
    state = output / STATE
    _write_json(state / "export.json", record)
    shutil.rmtree(state / "staging", ignore_errors=True)  # what a killed export was writing
    done_dir = state / "done"
    result = ExportResult(output=output, units=[u.name for u in units], failed=failed)

    def finished(unit: Unit | ExampleUnit, job: Callable[[], dict]) -> None:
        """Move a unit's staged files into place and record it done; record why it failed
        (any error of the format's code on that scene: the other units go on)."""
        try:
            part = job()
            files = _move_into_place(state / "staging" / unit.name, output)
            _write_json(done_dir / f"{unit.name}.json", {"files": files, "part": part})
            result.exported.append(unit.name)
        except Exception as e:  # noqa: BLE001 - one scene's failure is reported, not fatal
            shutil.rmtree(state / "staging" / unit.name, ignore_errors=True)
            result.failed[unit.name] = _one_line(e)
        report()

    def report() -> None:
        if progress:
            progress(len(result.resumed) + len(result.exported) + len(result.failed) - len(failed), len(result.units))

    def export_here(unit: Unit | ExampleUnit) -> dict:
        return _export_unit(format_name, unit, str(state / "staging" / unit.name), options)

    if from_dataset:  # examples streamed as TFDS reads them, each exported here before the next is read
        for unit in dataset_units(source, fmt.per_view):
            result.units.append(unit.name)
            if (done_dir / f"{unit.name}.json").is_file():
                result.resumed.append(unit.name)
                report()
            else:
                finished(unit, lambda unit=unit: export_here(unit))
    else:
        result.resumed = [u.name for u in units if (done_dir / f"{u.name}.json").is_file()]
        pending = [u for u in units if u.name not in result.resumed]
        report()
        _export_all(pending, workers, finished, export_here, format_name, state, options)
    if fmt.finish is not None and not result.failed:
        parts = []
        for name in sorted(result.units):
            parts.append((name, json.loads((done_dir / f"{name}.json").read_text())["part"]))
        result.combined = fmt.finish(output, parts, options)
    result.seconds = time.perf_counter() - start
    log.info("export %s: %d units (%d exported now, %d already done, %d failed) in %.1f s", format_name,
             len(result.units), len(result.exported), len(result.resumed), len(result.failed), result.seconds)
    return result
