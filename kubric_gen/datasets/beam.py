"""The Beam pieces of TFDS packaging: the one module of `kubric_gen.datasets` that imports
apache_beam (lazily, when a dataset is built with Beam); each degrades to "no Beam" when
apache_beam is not installed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

SKIPPED_COUNTER = "skipped_scene_directories"


def pipeline_options(beam_options: Sequence[str] | None):
    """PipelineOptions for `beam_options` (DirectRunner unless a runner is named), or
    None to build in-process (no options, or apache_beam missing). Unknown options and
    runners are ConfigErrors, before any work."""
    if beam_options is None:
        return None
    from kubric_gen.beam_options import quiet_beam_imports, validate_beam_flags
    from kubric_gen.errors import ConfigError

    with quiet_beam_imports():
        try:
            from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
            from apache_beam.runners.runner import create_runner
        except ImportError:
            log.warning("apache_beam is not installed: generating the dataset in this process without Beam")
            return None
        options = list(beam_options)
        if not any(o.startswith("--runner") for o in options):
            options.append("--runner=DirectRunner")
        runner = validate_beam_flags(options, runner="").view_as(StandardOptions).runner
        try:
            create_runner(runner)
        except (ValueError, ImportError) as e:
            raise ConfigError(f"--runner: {runner!r} is not a Beam runner this installation has (e.g. DirectRunner, "
                              f"DataflowRunner, FlinkRunner, SparkRunner; {e})") from None
        return PipelineOptions(options)


def examples_transform(paths: Sequence[str], scene_examples: Callable, **kwargs):
    """Create(paths) | FlatMap(scene_examples, **kwargs): TFDS's Beam example source."""
    import apache_beam as beam

    return beam.Create(sorted(paths)) | beam.FlatMap(scene_examples, **kwargs)


def count_skipped() -> None:
    """Count one skipped scene directory (a Beam metric; nothing outside Beam)."""
    try:
        from apache_beam.metrics import Metrics
    except ImportError:
        return
    Metrics.counter("kubric_gen", SKIPPED_COUNTER).inc()


def skipped_count(pipeline_result) -> int:
    """How many scene directories Beam workers skipped (0 where the runner has no metrics)."""
    try:
        from apache_beam.metrics.metric import MetricsFilter

        result = pipeline_result.metrics().query(MetricsFilter().with_name(SKIPPED_COUNTER))
        return sum(c.committed or 0 for c in result["counters"])
    except Exception:  # noqa: BLE001 - metrics are best effort (not every runner reports them)
        return 0
