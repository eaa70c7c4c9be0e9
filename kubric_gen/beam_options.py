"""Parsing Beam pipeline options the way Beam does, with unknown options as errors (Beam
itself only warns about them): `kubric-gen run` and `build-dataset` use it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from kubric_gen.errors import ConfigError


@contextlib.contextmanager
def quiet_beam_imports() -> Iterator[None]:
    """Keep Beam's import-time warnings ("apitools not found", ...) off the user's terminal."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class _Unparsed(ConfigError):
    pass


def validate_beam_flags(flags: list[str], runner: str):
    """Parse the pass-through arguments as Beam PipelineOptions; unknown ones are errors."""
    with quiet_beam_imports():
        try:
            from apache_beam.options import pipeline_options as po
        except ImportError:
            raise ConfigError("kubric-gen run needs Apache Beam: pip install apache-beam") from None
    if runner == "dask":
        try:
            import apache_beam.runners.dask.dask_runner  # noqa: F401 - registers DaskOptions
            import distributed  # noqa: F401
        except ImportError:
            raise ConfigError("--runner dask needs dask.distributed: pip install 'kubric_gen[dask]'") from None

    class Parser(po._BeamArgumentParser):  # noqa: SLF001 - the parser Beam itself uses for its options
        def error(self, message: str):
            raise _Unparsed(f"Beam pipeline option: {message}")

    parser = Parser(allow_abbrev=False)
    classes: dict[str, type] = {}
    for cls in po.PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)  # noqa: SLF001
    _, unknown = parser.parse_known_args(flags)
    if unknown:
        raise ConfigError(f"unrecognized arguments: {' '.join(unknown)} "
                          "(neither an option of kubric-gen nor a Beam pipeline option)")
    return po.PipelineOptions(flags)
