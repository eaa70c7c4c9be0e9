"""Beam's SDK worker process for the direct runner (`--direct_running_mode=multi_processing`),
with Beam's start-up chatter kept off stderr.

Beam starts each worker as `python -m apache_beam.runners.worker.sdk_worker_main`;
`run._direct_runner` starts `python -m kubric_gen.pipeline.sdk_worker` instead. The worker
still sends its log records to the driver through Beam's logging service; only what it
would print on its own stderr below ERROR is dropped (run with -v to keep everything).
"""

import logging
import signal
import sys


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # on Ctrl-C the driver stops the workers itself
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)  # Beam's basicConfig() calls become no-ops
    root.setLevel(logging.ERROR)  # import-time warnings (e.g. "apitools not found"); the worker resets it
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
