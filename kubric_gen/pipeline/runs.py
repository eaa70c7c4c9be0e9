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

A damaged record (not JSON, or without a valid state, seed range and heartbeat) stops a new
run with one line naming the file (`check_records`, exit status 2) rather than being skipped:
records are written atomically, so a damaged one was changed by hand or by a broken disk,
and a skipped record might be a live run's, whose scenes the new run would then render too.
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


def _problem(record: Any) -> str | None:
    """What makes a run record unusable, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    seeds = record.get("seeds")
    if not (isinstance(seeds, list) and len(seeds) == 2 and all(type(s) is int for s in seeds)):
        return f"'seeds' {seeds!r} is not [first, last]"
    if record.get("state") not in ("running", "finished", "interrupted"):
        return f"'state' {record.get('state')!r} is not running, finished or interrupted"
    heartbeat = record.get("heartbeat")
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, (int, float)):
        return f"'heartbeat' {heartbeat!r} is not a number"
    return None


def records(output: Output, strict: bool = False) -> list[dict[str, Any]]:
    """Every run's record; a damaged one is a ConfigError naming its file when `strict`,
    else left out."""
    out = []
    for name in sorted(output.json_names(RUNS_DIR)):
        where = f"{output.url.rstrip('/')}/{RUNS_DIR}/{name}"
        try:
            data = output.read_json(f"{RUNS_DIR}/{name}")
            problem = _problem(data)
        except FileNotFoundError:  # a run's record removed meanwhile
            continue
        except (ValueError, OSError) as e:
            problem = f"not readable JSON ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        if problem is None:
            out.append(data)
        elif strict:
            raise ConfigError(f"{where}: a damaged run record: {problem}; remove it if no run is writing to "
                              f"this output")
    return out


def check_records(output: Output) -> None:
    """ConfigError naming the first damaged record under _runs/ (before a run writes anything)."""
    records(output, strict=True)


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
            for other in records(self.output, strict=True):
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
