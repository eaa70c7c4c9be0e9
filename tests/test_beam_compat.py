"""Every use kubric_gen makes of Apache Beam (all in `kubric_gen/beam.py`), checked against the
installed Beam, so that an upgrade that moves or changes one fails here, loudly, rather than in
a user's run. setup.cfg pins the range tested (`TESTED_BEAM`): widen it only after this module
and tests/test_pipeline.py pass on the new version."""

from __future__ import annotations

import argparse
import configparser
import inspect
import os
import threading
from pathlib import Path

import pytest

from kubric_gen import beam
from kubric_gen.errors import ConfigError

apache_beam = pytest.importorskip("apache_beam", reason="Beam is the optional extra 'beam'")

ROOT = Path(__file__).resolve().parents[1]


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2])


def test_the_installed_beam_is_in_the_tested_range_and_setup_cfg_pins_it():
    low, high = beam.TESTED_BEAM
    version = _version_tuple(apache_beam.__version__)
    assert _version_tuple(low.removeprefix(">=")) <= version < _version_tuple(high.removeprefix("<")), \
        f"apache-beam {apache_beam.__version__} is outside the tested range {low},{high}: run this module and " \
        "tests/test_pipeline.py, then widen kubric_gen.beam.TESTED_BEAM and setup.cfg"
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / "setup.cfg")
    extras = cfg["options.extras_require"]
    assert f"apache-beam{low},{high}" in extras["beam"].split()
    assert f"apache-beam[dask]{low},{high}" in extras["dask"].split()
    assert "%(beam)s" in extras["all"] and not any(
        r.strip().startswith("apache-beam") for r in cfg["options"]["install_requires"].splitlines())
    assert beam.version() == apache_beam.__version__


def test_fn_api_runner_is_importable_where_kubric_gen_takes_it():
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.runners.runner import PipelineRunner

    runner = beam.direct_runner()
    assert isinstance(runner, FnApiRunner) and isinstance(runner, PipelineRunner)
    assert not inspect.signature(FnApiRunner).parameters or all(
        p.default is not inspect.Parameter.empty for p in inspect.signature(FnApiRunner).parameters.values())


_SEEN: dict[int, tuple[int, str]] = {}
_BOTH = threading.Barrier(2, timeout=30)  # passes only if two threads process elements at once
_WAITED = threading.local()


class _RecordThread(apache_beam.DoFn):
    """Records the process and thread of each element (module level: Beam pickles DoFns)."""

    def process(self, x):
        if not getattr(_WAITED, "done", False):
            _WAITED.done = True
            _BOTH.wait()
        _SEEN[x] = (os.getpid(), threading.current_thread().name)
        yield x


def test_multi_threading_runs_the_workers_as_threads_of_this_process():
    """What the driver relies on: --direct_running_mode=multi_threading --direct_num_workers=N
    processes the reshuffled elements in N threads at once, in this process."""
    _SEEN.clear()
    options = beam.pipeline_options(["--direct_running_mode=multi_threading", "--direct_num_workers=2"])
    assert beam.direct_options(options) == (2, "multi_threading")

    def build(root):
        _ = root | apache_beam.Create(list(range(6))) | apache_beam.Reshuffle() | apache_beam.ParDo(_RecordThread())

    beam.run_pipeline(beam.direct_runner(), options, build)
    assert sorted(_SEEN) == list(range(6))
    assert {pid for pid, _ in _SEEN.values()} == {os.getpid()}
    assert len({name for _, name in _SEEN.values()}) == 2


@pytest.mark.parametrize("flags, message", [
    (["--no_such_option=1"], "unrecognized arguments: --no_such_option=1"),
    (["--project", "p", "stray"], "unrecognized arguments: stray"),
    (["--direct_num_workers=many"], "argument --direct_num_workers: invalid int value: 'many'"),
    (["--direct_running_mode=sideways"], "argument --direct_running_mode: invalid choice"),
])
def test_unknown_options_and_bad_values_are_one_line_errors(flags, message, capsys):
    with pytest.raises(ConfigError) as error:
        beam.pipeline_options(flags)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert capsys.readouterr().err == ""  # argparse's usage text is kept off the terminal


def test_get_all_options_hands_over_beam_s_argparse_parser():
    from apache_beam.options.pipeline_options import PipelineOptions

    parsers: list = []
    PipelineOptions([]).get_all_options(add_extra_args_fn=parsers.append)
    assert len(parsers) == 1 and isinstance(parsers[0], argparse.ArgumentParser)


def test_the_options_the_driver_adds_are_beam_options():
    options = beam.pipeline_options(["--direct_num_workers=3", "--direct_running_mode=multi_threading",
                                     "--default_sdk_harness_log_level=WARNING", "--runner=DirectRunner",
                                     "--project=p", "--experiments=a", "--experiments=b"])
    assert beam.direct_options(options) == (3, "multi_threading")
    assert beam.standard_runner(options) == "DirectRunner"
    for mode in ("multi_threading", "in_memory", "multi_processing"):  # the values the driver tells apart
        assert beam.direct_options(beam.pipeline_options([f"--direct_running_mode={mode}"]))[1] == mode


def test_dask_runner_and_its_options():
    pytest.importorskip("distributed", reason="needs the 'dask' extra")
    from apache_beam.runners.runner import PipelineRunner

    options = beam.pipeline_options(["--dask_client_address=127.0.0.1:1", "--dask_npartitions=7"], runner="dask")
    assert beam.dask_address(options) == "127.0.0.1:1"
    assert isinstance(beam.dask_runner(), PipelineRunner)


def test_runner_names_are_checked():
    options = beam.pipeline_options(["--runner=DirectRunner"])
    beam.check_runner("DirectRunner", options)
    with pytest.raises(ConfigError, match="'NoSuchRunner' is not a Beam runner"):
        beam.check_runner("NoSuchRunner", beam.pipeline_options(["--runner=NoSuchRunner"]))


def test_metrics_as_the_dataset_builder_counts_skipped_scenes():
    def count(x):
        if x % 2:
            beam.count("kubric_gen", "odd")
        return x

    options = beam.pipeline_options([])
    result = beam.run_pipeline(beam.direct_runner(), options,
                               lambda root: root | apache_beam.Create([1, 2, 3]) | apache_beam.Map(count))
    assert beam.counter_total(result, "odd") == 2
    assert beam.counter_total(object(), "odd") == 0  # a result without metrics


def test_the_transforms_kubric_gen_builds_on():
    for name in ("Pipeline", "DoFn", "PTransform", "Create", "Map", "FlatMap", "ParDo", "Reshuffle"):
        assert hasattr(apache_beam, name), name
    from kubric_gen.pipeline import transforms

    assert issubclass(transforms.GenerateScenes, apache_beam.PTransform)
    assert issubclass(transforms.ProcessScenes, apache_beam.DoFn)
