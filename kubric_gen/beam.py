"""Apache Beam behind one lazy import: the only module of kubric_gen that imports apache_beam.

Beam is optional (the `beam` extra); importing this module imports nothing of it, and each
function imports what it needs when called. `kubric-gen run` (`pipeline/`) and Beam builds of
TFDS datasets (`datasets/beam.py`) both go through here, so every use of Beam's API is in this
file, and `tests/test_beam_compat.py` checks each one against the installed Beam (the range
in `TESTED_BEAM`, pinned in setup.cfg).

Only public Beam API is used, with two documented-but-internal entry points, both checked
by the compatibility test:

- `apache_beam.runners.portability.fn_api_runner.FnApiRunner`, the DirectRunner's batch
  engine, constructed directly (as Beam's own tests do): Beam's `DirectRunner` would first
  try the Prism runner, which downloads a binary and ignores `--direct_running_mode`.
- `PipelineOptions.get_all_options(add_extra_args_fn=...)`, which hands us the argparse
  parser Beam builds from every registered option class; parsing the flags with it names
  the ones neither kubric-gen nor Beam knows (Beam itself only warns about them).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from kubric_gen.errors import ConfigError

INSTALL = "pip install 'kubric_gen[beam]'"
TESTED_BEAM = (">=2.77", "<2.78")  # setup.cfg's `beam` extra; tests/test_beam_compat.py checks it


class BeamMissing(ConfigError):
    """apache_beam is not installed (exit status 2, naming what to install)."""


def available() -> bool:
    """Whether apache_beam can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("apache_beam") is not None
    except (ImportError, ValueError):  # a broken or blocked installation
        return False


def require(what: str) -> None:
    """Raise BeamMissing ("WHAT needs Apache Beam: pip install ...") unless Beam is installed."""
    if not available():
        raise BeamMissing(f"{what} needs Apache Beam: {INSTALL}")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep Beam's import-time and option-parsing warnings ("apitools not found", "Discarding
    unparseable args", ...) off the user's terminal."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def module(what: str = "kubric_gen's Beam pipelines"):
    """The apache_beam module (imported quietly); BeamMissing if it is not installed."""
    with quiet():
        try:
            import apache_beam
        except ImportError:
            raise BeamMissing(f"{what} needs Apache Beam: {INSTALL}") from None
    return apache_beam


def version() -> str | None:
    return module().__version__ if available() else None


# -- pipeline options ---------------------------------------------------------------------

def pipeline_options(flags: Sequence[str], runner: str = "", what: str = "kubric-gen run"):
    """Beam PipelineOptions from `flags`, parsed as Beam parses them, except that an option
    neither kubric-gen nor Beam knows, or a bad value, is a one-line ConfigError. `runner`
    "dask" registers the DaskRunner's options first (it needs dask.distributed)."""
    module(what)
    with quiet():
        from apache_beam.options.pipeline_options import PipelineOptions

        if runner == "dask":
            try:
                import apache_beam.runners.dask.dask_runner  # noqa: F401 - registers DaskOptions
                import distributed  # noqa: F401
            except ImportError:
                raise ConfigError("--runner dask needs dask.distributed: pip install 'kubric_gen[dask]'") from None
        flags = list(flags)
        options = PipelineOptions(flags)
        parsers: list = []
        errors = io.StringIO()
        try:
            with contextlib.redirect_stderr(errors):  # argparse prints its usage before exiting
                options.get_all_options(add_extra_args_fn=parsers.append)  # bad values fail here
                _, unknown = parsers[0].parse_known_args(flags)
        except SystemExit:
            lines = [line for line in errors.getvalue().splitlines() if "error: " in line]
            reason = lines[-1].split("error: ", 1)[1] if lines else "cannot parse " + " ".join(flags)
            raise ConfigError(f"Beam pipeline option: {reason}") from None
    if unknown:
        raise ConfigError(f"unrecognized arguments: {' '.join(unknown)} "
                          "(neither an option of kubric-gen nor a Beam pipeline option)")
    return options


def direct_options(options) -> tuple[int | None, str]:
    """(`--direct_num_workers`, `--direct_running_mode`) of parsed options."""
    from apache_beam.options.pipeline_options import DirectOptions

    view = options.view_as(DirectOptions)
    return view.direct_num_workers, view.direct_running_mode


def dask_address(options) -> str | None:
    """`--dask_client_address` of parsed options (registered by `pipeline_options(..., "dask")`)."""
    from apache_beam.runners.dask.dask_runner import DaskOptions

    return options.view_as(DaskOptions).address


def standard_runner(options) -> str | None:
    """`--runner` of parsed options."""
    from apache_beam.options.pipeline_options import StandardOptions

    return options.view_as(StandardOptions).runner


def check_runner(name: str, options) -> None:
    """ConfigError unless `name` is a runner this Beam installation has."""
    beam = module()
    try:
        beam.Pipeline(runner=name, options=options)
    except (ValueError, ImportError, TypeError) as e:
        raise ConfigError(f"--runner: {name!r} is not a Beam runner this installation has (e.g. DirectRunner, "
                          f"DataflowRunner, FlinkRunner, SparkRunner; {e})") from None


# -- runners and pipelines ----------------------------------------------------------------

def direct_runner():
    """The DirectRunner's batch engine (FnApiRunner), chosen directly (see the module docstring)."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    return FnApiRunner()


def dask_runner():
    """Beam's DaskRunner. The workers of a local cluster it starts (no --dask_client_address)
    preload this module, so that they import Beam quietly too, as the driver does."""
    import dask
    from apache_beam.runners.dask.dask_runner import DaskRunner

    preload = list(dask.config.get("distributed.worker.preload", default=[]) or [])
    if __name__ not in preload:
        dask.config.set({"distributed.worker.preload": [*preload, __name__]})
    return DaskRunner()


def dask_setup(worker: Any) -> None:
    """Dask's preload hook (see `dask_runner`): import Beam with its import-time warnings hidden."""
    module()


def run_pipeline(runner: Any, options, build) -> Any:
    """Build a pipeline with `build(root)` on `runner` (a runner object or a Beam runner
    name), run it and wait for it; return its result."""
    beam = module()
    pipeline = beam.Pipeline(runner=runner, options=options)
    build(pipeline)
    result = pipeline.run()
    result.wait_until_finish()
    return result


# -- metrics (TFDS builds) ----------------------------------------------------------------

def count(namespace: str, name: str) -> None:
    """Add one to a Beam counter (nothing where Beam is missing)."""
    try:
        from apache_beam.metrics import Metrics
    except ImportError:
        return
    Metrics.counter(namespace, name).inc()


def counter_total(pipeline_result, name: str) -> int:
    """The committed total of the counters called `name` (0 where the runner has no metrics)."""
    try:
        from apache_beam.metrics.metric import MetricsFilter

        result = pipeline_result.metrics().query(MetricsFilter().with_name(name))
        return sum(c.committed or 0 for c in result["counters"])
    except Exception:  # noqa: BLE001 - metrics are best effort (not every runner reports them)
        return 0
