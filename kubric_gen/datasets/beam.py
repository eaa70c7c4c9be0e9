"""The Beam pieces of TFDS packaging, through `kubric_gen.beam` (the one module importing
apache_beam, lazily, when a dataset is built with Beam). Without Beam, a build that names no
runner is made in this process; one that names a runner or Beam options is an error saying
what to install."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from kubric_gen import beam

log = logging.getLogger(__name__)

SKIPPED_COUNTER = "skipped_scene_directories"
WHAT = "kubric-gen build-dataset with a Beam runner"


def pipeline_options(beam_options: Sequence[str] | None):
    """PipelineOptions for `beam_options` (DirectRunner unless a runner is named), or None to
    build in-process (no options). Unknown options and runners, and Beam options without
    apache_beam installed, are ConfigErrors, before any work."""
    if beam_options is None:
        return None
    options = list(beam_options)
    if not any(o.startswith("--runner") for o in options):
        options.append("--runner=DirectRunner")
    parsed = beam.pipeline_options(options, what=WHAT)
    beam.check_runner(beam.standard_runner(parsed), parsed)
    return parsed


def examples_transform(paths: Sequence[str], scene_examples: Callable, **kwargs):
    """Create(paths) | FlatMap(scene_examples, **kwargs): TFDS's Beam example source."""
    b = beam.module(WHAT)
    return b.Create(sorted(paths)) | b.FlatMap(scene_examples, **kwargs)


def count_skipped() -> None:
    """Count one skipped scene directory (a Beam metric; nothing outside Beam)."""
    beam.count("kubric_gen", SKIPPED_COUNTER)


def skipped_count(pipeline_result) -> int:
    """How many scene directories Beam workers skipped (0 where the runner has no metrics)."""
    return beam.counter_total(pipeline_result, SKIPPED_COUNTER)
