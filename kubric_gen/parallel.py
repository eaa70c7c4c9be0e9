"""Threads for the CPU stages: how many cores we may use, and an ordered parallel map.

Ray casting (Embree), numpy's array loops, zlib and the PNG encoders release the GIL, so
threads over frames use every core without the copies a process pool would make.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parallel_map(function: Callable[[T], R], items: Iterable[T], threads: int = 0) -> list[R]:
    """[function(x) for x in items] with `threads` threads (0: one per usable core), in order.

    The first exception is raised once every started call has ended.
    """
    items = list(items)
    workers = max(1, min(threads or usable_cores(), len(items)))
    if workers == 1:
        return [function(x) for x in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(function, items))
