"""`build_dataset`: a folder of scene directories -> a prepared TFDS dataset (what `kubric-gen
build-dataset` and `kubric-gen run --tfds` call).

TensorFlow, TFDS and Apache Beam are imported when `build_dataset` runs, not on import.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from kubric_gen.datasets.config import (
    DatasetError,
    Resolution,
    assign_splits,
    check_file_format,
    check_name,
    downscale_factor,
    parse_splits,
)
from kubric_gen.datasets.extras import check_extras
from kubric_gen.datasets.scenes import SceneInfo, check_same_cameras, find_scenes, warn_undeclared_labels
from kubric_gen.errors import KubricGenError
from kubric_gen.io import SceneDir

log = logging.getLogger(__name__)
CARD_FILE = "README.md"
_EMPTY_SPLIT_MESSAGES = ("number of generated examples is 0", "No examples were yielded")


@dataclass
class BuildResult:
    """What a build made: `path` is <data_dir>/<name>/<config>/<version>."""

    name: str
    config: str
    version: str
    data_dir: str
    path: str
    splits: dict[str, int]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    reused: bool = False
    used_beam: bool = False
    seconds: float = 0.0
    file_format: str = "tfrecord"

    @property
    def num_examples(self) -> int:
        return sum(self.splits.values())

    def summary(self) -> str:
        counts = ", ".join(f"{s} {n}" for s, n in self.splits.items())
        verb = "reused" if self.reused else "wrote"
        line = f"{verb} {self.name}/{self.config}:{self.version} ({self.file_format}) in {self.path} ({counts})"
        if self.skipped:
            line += f"; skipped {len(self.skipped)} scene directories (see the warnings)"
        return line


def _pick_group(scenes: list[SceneInfo], skipped: list[tuple[str, str]]) -> list[SceneInfo]:
    """The scenes of the most common (world, resolution, frames, label schema); the others are skipped."""
    groups = collections.Counter(s.group for s in scenes)
    best = max(groups, key=lambda k: (groups[k], -min(i for i, s in enumerate(scenes) if s.group == k)))
    kept = []
    for s in scenes:
        if s.group == best:
            kept.append(s)
        else:
            reason = (f"world {s.world!r} at {s.width}x{s.height} with {s.num_frames} frames and label schema "
                      f"{s.label_schema.fingerprint()} differs from the dataset's {best[0]!r} at {best[1]}x{best[2]} "
                      f"with {best[3]} frames and label schema {best[4]}")
            log.warning("skipping scene directory %s: %s", s.path, reason)
            skipped.append((s.path, reason))
    return kept


def _card_facts(scene: SceneInfo) -> dict:
    """The world, config and versions that made a scene (from its provenance.json / metadata.json flags)."""
    sd = SceneDir(scene.path)
    facts: dict = {}
    try:
        prov = sd.provenance
        facts = {k: prov[k] for k in ("world", "config", "render_settings", "versions") if k in prov}
    except KubricGenError:
        pass
    if "config" not in facts:
        try:
            flags = sd.metadata.get("flags", {})
            facts["config"] = {k: v for k, v in flags.items() if k not in ("seed", "world")}
        except (KubricGenError, AttributeError):
            pass
    facts.setdefault("world", {"name": scene.world})
    return facts


def _beam_pipeline_options(beam_options: Sequence[str] | None):
    from kubric_gen.datasets.beam import pipeline_options

    return pipeline_options(beam_options)


def _fingerprint(split_paths: Mapping[str, list[str]], hashes: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """{split: {scene name: content hash}}: what a prepared dataset was made from."""
    return {s: {p.rstrip("/").rsplit("/", 1)[-1]: hashes[p] for p in sorted(paths)} for s, paths in split_paths.items()}


@contextlib.contextmanager
def _build_lock(config_dir) -> Iterator[None]:
    """One build of a dataset config at a time (local data dirs): a second one is refused.
    Under the lock, what killed builds left behind (TFDS's `incomplete.*` folders) is removed."""
    import fcntl
    import shutil

    path = os.fspath(config_dir)
    if "://" in path:
        yield
        return
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, ".kubric_gen.lock"), "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise DatasetError(f"--data-dir: {path} is being built by {holder}; wait for it to finish") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        for entry in os.listdir(path):
            if entry.startswith("incomplete."):
                log.warning("removing %s, left by an interrupted build", os.path.join(path, entry))
                shutil.rmtree(os.path.join(path, entry), ignore_errors=True)
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _beam_reraises_quietly() -> Iterator[None]:
    """Beam logs a failing step's exception with its traceback, then raises it: the raised one is
    ours to report (one line for a full disk; the traceback of anything else), so drop the log."""
    class Filter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return record.exc_info is None

    beam_logger, quiet = logging.getLogger("apache_beam.runners.common"), Filter()
    beam_logger.addFilter(quiet)
    try:
        yield
    finally:
        beam_logger.removeFilter(quiet)


@contextlib.contextmanager
def _progress_bars_on_a_terminal() -> Iterator[None]:
    """TFDS's progress bars only where stderr is a terminal: in a log file they are escape codes."""
    from tensorflow_datasets.core.utils import tqdm_utils

    before = getattr(tqdm_utils, "_active", True)
    tqdm_utils.display_progress_bar(bool(before) and sys.stderr.isatty())
    try:
        yield
    finally:
        tqdm_utils.display_progress_bar(bool(before))


def build_dataset(scenes_dir: str | os.PathLike, name: str, data_dir: str | os.PathLike,
                  config: str | None = None, beam_options: Sequence[str] | None = None,
                  splits: str | Mapping[str, float] | Sequence[str] | None = None,
                  overwrite: bool = False, file_format: str = "tfrecord",
                  extras: Sequence[str] | str | None = None) -> BuildResult:
    """Package the scene directories under `scenes_dir` as the TFDS dataset `name` in `data_dir`.

    config: "WxH" (default: the scenes' own resolution; otherwise it must divide it by an
    integer factor). beam_options: Beam pipeline arguments (e.g. ["--runner=DirectRunner"];
    they need the `beam` extra: ConfigError without it); None generates in this process
    without Beam. splits: fractions by
    name (default train 0.9, validation 0.1; e.g. "train=0.8,validation=0.1,test=0.1").
    Incomplete or invalid scene directories are skipped with a warning and listed in the
    result. A dataset already prepared from the same scenes (and file format) is reused; one
    prepared from other scenes is an error unless `overwrite`. file_format: "tfrecord"
    (MOVi's, read with tfds.load) or "array_record" (also random access with
    tfds.data_source and `kubric_gen.datasets.torch`). extras: optional features beyond MOVi's
    (`datasets.extras.EXTRAS`: amodal, scene_flow, occlusion_boundaries; names or "a,b").
    """
    start = time.perf_counter()
    scenes_dir, data_dir = os.path.expanduser(os.fspath(scenes_dir)), os.path.expanduser(os.fspath(data_dir))
    check_name(name)
    check_file_format(file_format)
    fractions = parse_splits(splits)
    options = _beam_pipeline_options(beam_options)  # bad runners and options fail before any work
    scenes, skipped = find_scenes(os.fspath(scenes_dir))
    if not scenes:
        raise DatasetError(f"SCENES_DIR: no complete scene directory in {scenes_dir}"
                           + (f" ({len(skipped)} skipped)" if skipped else ""))
    check_same_cameras(scenes)
    scenes = _pick_group(scenes, skipped)
    first = scenes[0]
    warn_undeclared_labels(first.path)  # a world without a label schema: its labels are left out
    source = first.resolution
    target = Resolution.parse(config) if config else source
    extras = check_extras(extras, downscale_factor(source, target))

    import tensorflow_datasets as tfds
    from etils import epath

    from kubric_gen.datasets.builder import DatasetSpec, make_builder_class

    try:
        tfds.builder_cls(name)
        raise DatasetError(f"--name: {name!r} is a TFDS catalog dataset; tfds.load({name!r}) would load that one")
    except tfds.core.registered.DatasetNotFoundError:
        pass

    by_name = {s.name: s.path for s in scenes}
    assigned = assign_splits(sorted(by_name), fractions)
    split_paths = {split: [by_name[n] for n in names] for split, names in assigned.items()}
    for split in [s for s, paths in split_paths.items() if not paths]:
        log.warning("split %r gets no scene (%d scene directories in all): it is left out", split, len(scenes))
        del split_paths[split]
    fingerprint = _fingerprint(split_paths, {s.path: s.content_hash for s in scenes})
    spec = DatasetSpec(name=name, world=first.world, label_schema=first.label_schema.to_dict(), source=source,
                       num_frames=first.num_frames,
                       configs=tuple(dict.fromkeys([source, target])), split_paths=split_paths,
                       card=_card_facts(first), use_beam=options is not None, fingerprint=fingerprint,
                       cameras=first.cameras, extras=extras)
    cls = make_builder_class(spec)
    def make_builder():
        return cls(config=target.name, data_dir=os.fspath(data_dir), file_format=file_format)

    builder = cls(config=target.name, data_dir=os.fspath(data_dir))  # its path; it may hold another format
    out = epath.Path(builder.data_dir)
    with _undone_on_failure(os.fspath(data_dir), name, os.fspath(out)):
        with _build_lock(out.parent):
            prepared = _prepare(make_builder, out, fingerprint, options, overwrite, file_format, extras)
            reused = prepared is None
            if prepared is not None:
                builder = prepared
                (out / CARD_FILE).write_text(f"# {name}/{target.name}:{builder.version}\n\n"
                                             f"{builder.info.description}\n")
                skipped.extend(builder.skipped)
    return BuildResult(name=name, config=target.name, version=str(builder.version), data_dir=os.fspath(data_dir),
                       path=str(out), splits={s: int(builder.info.splits[s].num_examples) for s in split_paths
                                              if s in builder.info.splits},
                       skipped=skipped, reused=reused, used_beam=options is not None,
                       seconds=time.perf_counter() - start, file_format=file_format)


def _write_failure(error: BaseException) -> bool:
    """Whether a build failed writing (a full disk, a quota, permissions): an OSError, or a
    TensorFlow I/O error (ResourceExhaustedError for a full disk), also wrapped by Beam."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) or type(error).__name__ in (
                "ResourceExhaustedError", "PermissionDeniedError", "DataLossError", "UnavailableError"):
            return True
        if "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def _undone_on_failure(data_dir: str, name: str, version_dir: str) -> Iterator[None]:
    """On any failure, remove what this build wrote (local data dirs): the folders it created (the
    data dir, the dataset's with its `.config/`, the config's), TFDS's `incomplete.*` folders and
    a lock file it made; a failure to write (a full disk) becomes one line naming the folder."""
    import shutil

    if "://" in data_dir:
        yield
        return
    dataset_dir = os.path.join(data_dir, name)
    config_dir = os.path.dirname(version_dir)
    lock = os.path.join(config_dir, ".kubric_gen.lock")
    new = [d for d in (data_dir, dataset_dir, os.path.join(dataset_dir, ".config"), config_dir)
           if not os.path.exists(d)]
    new_lock = not os.path.exists(lock)
    try:
        yield
    except BaseException as e:
        if new_lock and os.path.exists(lock) and config_dir not in new:
            os.remove(lock)
        if os.path.isdir(config_dir):
            for entry in os.listdir(config_dir):
                if entry.startswith("incomplete."):
                    shutil.rmtree(os.path.join(config_dir, entry), ignore_errors=True)
        for folder in new:  # outermost first: the others are inside it
            shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, Exception) and not isinstance(e, KubricGenError) and _write_failure(e):
            first = (str(e).strip().splitlines() or [""])[0][:300]
            raise DatasetError(f"--data-dir: cannot write the dataset in {data_dir} ({type(e).__name__}: {first}); "
                               "nothing of this build is left there") from None
        raise


def _prepared_file_format(out) -> str | None:
    """The file format of a prepared config (dataset_info.json), None when unreadable."""
    try:
        return json.loads((out / "dataset_info.json").read_text()).get("fileFormat", "tfrecord")
    except (OSError, ValueError, AttributeError):
        return None


def _prepare(make_builder, out, fingerprint: dict, options, overwrite: bool, file_format: str,
             extras: tuple[str, ...] = ()):
    """Prepare the dataset config and return its builder, or None when it is already
    prepared from the same scenes with the same content and file format (reused). Scenes
    re-rendered since (same names, other content), or another file format, are rebuilt;
    other scenes need `overwrite`."""
    import tensorflow_datasets as tfds

    from kubric_gen.datasets.builder import STORAGE_REVISION

    if (out / "dataset_info.json").exists():
        try:
            recorded = json.loads((out / "metadata.json").read_text())["kubric_gen"]
            previous, revision = recorded["scenes"], recorded.get("storage_revision", 1)
            previous_extras = tuple(recorded.get("extras", ()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            previous, revision, previous_extras = None, None, None
        same_format = _prepared_file_format(out) == file_format
        if previous == fingerprint and same_format and revision == STORAGE_REVISION and previous_extras == extras:
            return None
        same_names = isinstance(previous, dict) and {s: sorted(v) for s, v in previous.items()} == \
            {s: sorted(v) for s, v in fingerprint.items()}
        if not (overwrite or same_names):
            raise DatasetError(f"--data-dir: {out} exists with other scenes (pass --overwrite to rebuild it)")
        if same_names and previous_extras != extras:
            log.warning("%s was built with extras %s: rebuilding it with %s", out, list(previous_extras or ()),
                        list(extras))
        elif same_names and not same_format:
            log.warning("%s was built as %s: rebuilding it as %s", out, _prepared_file_format(out), file_format)
        elif same_names and previous == fingerprint:  # an older storage of the same version
            log.warning("%s was stored as revision %s: rebuilding it as revision %d", out, revision, STORAGE_REVISION)
        elif same_names:
            changed = sum(previous[s][n] != h for s, v in fingerprint.items() for n, h in v.items())
            log.warning("%d scene(s) changed since %s was built: rebuilding it", changed, out)
        out.rmtree()
    builder = make_builder()
    download_config = tfds.download.DownloadConfig(beam_options=options, try_download_gcs=False)
    with tempfile.TemporaryDirectory(prefix="kubric_gen-tfds-") as downloads:  # nothing is downloaded
        try:
            with _progress_bars_on_a_terminal(), _beam_reraises_quietly():
                builder.download_and_prepare(download_config=download_config, download_dir=downloads)
        except Exception as e:
            if not any(m in str(e) for m in _EMPTY_SPLIT_MESSAGES):
                raise
            raise DatasetError("a split has no scene directory that could be decoded (see the warnings); "
                               "without Beam such a split is left out") from e
    return builder
