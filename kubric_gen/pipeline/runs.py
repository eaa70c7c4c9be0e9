"""Runs sharing one output: each registers its seed range, so overlapping drivers refuse to
start and shards of disjoint ranges never erase each other's records.

    OUTPUT/_runs/<run id>.json   one record per run: state (running, finished, interrupted),
                                 seed range, host, pid, heartbeat; when it ends, its summary
    OUTPUT/_run.json             the merged view: the latest run's summary plus every run's
                                 record in brief (`runs`)

A driver refuses to start while another live run's seed range overlaps its own (local
outputs check and register under a file lock, so two drivers cannot both pass; remote
outputs check without one). A run is live while its heartbeat (refreshed every
HEARTBEAT_S seconds) is younger than STALE_S, or, on the same host, while its process
exists; a killed driver's record goes stale and no longer blocks anyone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from kubric_gen.errors import ConfigError
from kubric_gen.pipeline.outputs import RUN_FILE, Output, scene_name

RUNS_DIR = "_runs"
HEARTBEAT_S = 30.0
STALE_S = 180.0


def _alive(record: dict[str, Any], now: float) -> bool:
    if record.get("state") != "running":
        return False
    if record.get("host") == socket.gethostname() and isinstance(record.get("pid"), int):
        try:
            os.kill(record["pid"], 0)
        except ProcessLookupError:
            return False
        except OSError:
            pass
        else:
            return True
    return now - float(record.get("heartbeat", 0)) < STALE_S


def records(output: Output) -> list[dict[str, Any]]:
    out = []
    for name in sorted(output.json_names(RUNS_DIR)):
        with contextlib.suppress(FileNotFoundError, ValueError, OSError):
            data = output.read_json(f"{RUNS_DIR}/{name}")
            if isinstance(data, dict):
                out.append(data)
    return out


@contextlib.contextmanager
def _registry_lock(output: Output) -> Iterator[None]:
    if output.remote:
        yield
        return
    import fcntl

    folder = output.root / RUNS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class RunRecord:
    """This driver's record in OUTPUT/_runs/, kept fresh by a heartbeat thread."""

    def __init__(self, output: Output, run_id: str, seeds: list[int], started: str) -> None:
        self.output = output
        self.path = f"{RUNS_DIR}/{run_id}.json"
        self.record = {"run_id": run_id, "state": "running", "seeds": [seeds[0], seeds[-1]],
                       "host": socket.gethostname(), "pid": os.getpid(), "started": started, "heartbeat": time.time()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self) -> None:
        """Refuse (ConfigError) if a live run's seed range overlaps ours; else write our record."""
        lo, hi = self.record["seeds"]
        with _registry_lock(self.output):
            now = time.time()
            for other in records(self.output):
                o_lo, o_hi = (other.get("seeds") or [0, -1])[:2]
                if other.get("run_id") != self.record["run_id"] and _alive(other, now) and o_lo <= hi and lo <= o_hi:
                    age = now - float(other.get("heartbeat", now))
                    raise ConfigError(
                        f"--output: seeds {max(lo, o_lo)}..{min(hi, o_hi)} ({scene_name(max(lo, o_lo))}...) of "
                        f"{self.output.url} are being rendered by run {other.get('run_id')} (pid {other.get('pid')} "
                        f"on {other.get('host')}, since {other.get('started')}, seen {age:.0f} s ago); wait for it, "
                        f"or render other seeds (--seed-offset, --num-scenes)")
            self.output.write_json(self.path, self.record)
        self._thread = threading.Thread(target=self._beat, name="kubric-gen-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self.record["heartbeat"] = time.time()
            with contextlib.suppress(Exception):  # a missed heartbeat only makes the record look older
                self.output.write_json(self.path, self.record)

    def finish(self, summary: dict[str, Any], state: str) -> dict[str, Any]:
        """Write our final record (the summary) and the merged view; return the merged view."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        final = {**summary, "state": state, "seeds": self.record["seeds"], "host": self.record["host"],
                 "pid": self.record["pid"], "heartbeat": time.time()}
        self.output.write_json(self.path, final)
        brief = [{k: r.get(k) for k in ("run_id", "state", "seeds", "host", "started", "finished", "counts")}
                 for r in records(self.output)]
        merged = {**summary, "runs": sorted(brief, key=lambda r: str(r.get("started") or ""))}
        self.output.write_json(RUN_FILE, merged)
        return merged
