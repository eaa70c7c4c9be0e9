"""Progress of a run, seen from the driver: a thread polls the status records.

On a terminal: a tqdm bar on stderr (scenes done/failed/skipped, throughput, ETA).
Elsewhere: one log line every `log_interval` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import TextIO

from kubric_gen.pipeline.outputs import Output

FAILED, SKIPPED = "failed", "skipped"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts this run's status records while the pipeline runs (a context manager)."""

    def __init__(self, output: Output, run_id: str, names: list[str], skipped: int = 0,
                 poll_interval: float | None = None, log_interval: float = 30.0, stream: TextIO | None = None,
                 bar: bool | None = None) -> None:
        self.output = output
        self.run_id = run_id
        self.pending = {f"{n}.json" for n in names}
        self.total = len(names) + skipped
        self.counts: Counter[str] = Counter({SKIPPED: skipped})
        self.poll_interval = poll_interval if poll_interval is not None else (5.0 if output.remote else 1.0)
        self.log_interval = log_interval
        self.stream = stream or sys.stderr
        self.use_bar = self.stream.isatty() if bar is None else bar
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar = None
        self._start = time.monotonic()
        self._processed = 0  # scenes finished by this run's workers (for the rate)

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def poll(self) -> None:
        try:
            present = set(self.output.status_names()) & self.pending
        except Exception:  # noqa: BLE001 - progress must never break a run
            return
        for file_name in sorted(present):
            record = self.output.read_status(file_name[:-len(".json")])
            if record is None or record.get("run_id") != self.run_id:
                continue  # a stale record of an earlier run, or one being written
            self.pending.discard(file_name)
            self.counts[record.get("status", FAILED)] += 1
            self._processed += 1

    def line(self) -> str:
        elapsed = time.monotonic() - self._start
        rate = self._processed / elapsed if elapsed > 0 else 0.0
        left = self.total - self.finished
        eta = _clock(left / rate) if rate > 0 else "?"
        c = self.counts
        return (f"kubric-gen run: {self.finished}/{self.total} scenes (done {c['done']}, failed {c[FAILED]}, "
                f"skipped {c[SKIPPED]}), {rate * 3600:.0f} scenes/h, elapsed {_clock(elapsed)}, ETA {eta}")

    def _update(self) -> None:
        if self._bar is not None:
            c = self.counts
            self._bar.set_postfix_str(f"done {c['done']} failed {c[FAILED]} skipped {c[SKIPPED]}", refresh=False)
            self._bar.update(self.finished - self._bar.n)
            self._bar.refresh()

    def _loop(self) -> None:
        last_log = time.monotonic()
        while not self._stop.wait(self.poll_interval):
            self.poll()
            self._update()
            if self._bar is None and time.monotonic() - last_log >= self.log_interval:
                last_log = time.monotonic()
                print(self.line(), file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        self._start = time.monotonic()
        if self.use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=self.counts[SKIPPED], desc="scenes", unit="scene",
                             file=self.stream, dynamic_ncols=True, leave=True)
        self._thread = threading.Thread(target=self._loop, name="kubric-gen-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.poll()
        self._update()
        if self._bar is not None:
            self._bar.close()
            self._bar = None
