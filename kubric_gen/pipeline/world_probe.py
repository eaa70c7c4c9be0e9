"""Load a user's world once in a throwaway child process before the command loads it itself.

A world's module-level code (and its `labels(config)`) runs in the process that loads it. The
commands that start from a world (`render`, `scene`, `worlds`, `run`) load it in their own
process to check the config before any expensive work; a world whose code segfaults, calls
`os._exit` or never returns would take that process down with no message, or hang it past
`--timeout`. So the same loading runs first in a child with the command's timeout: a crash or a
timeout there is one line and exit status 1; a Python error is left for the command to report
as it always does. Built-in worlds are kubric_gen's own code and are not probed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

from kubric_gen.errors import SceneCrashed
from kubric_gen.pipeline.isolation import SYS_PATH_ENV, child_sys_path, describe_exit

_PROBED: set[tuple[str, str, float]] = set()  # (world argument, working directory, mtime) that loaded fine


def _probe(world_arg: str, overrides: dict[str, Any]) -> None:
    """The child's side: load the world as the command will (any Python error: the command's to report)."""
    from kubric_gen.world import load_world, resolve_config

    sys.stdout.write("ready\n")  # the timeout counts from here: the world's code, not Python's start-up
    sys.stdout.flush()
    try:
        world = load_world(world_arg)
        world.label_schema(resolve_config(world, overrides))
    except Exception:  # noqa: BLE001 - reported by the command itself, with its own message
        pass


_BOOTSTRAP = (f"import json, os, sys; sys.path[:] = json.loads(os.environ.pop({SYS_PATH_ENV!r})); "
              f"from {__name__} import _probe; _probe(sys.argv[1], json.loads(sys.argv[2]))")


def probe_world(world_arg: str, overrides: dict[str, Any] | None = None, timeout: float | None = None,
                timeout_option: str = "--timeout") -> None:
    """Raise SceneCrashed if loading the world `world_arg` (a user's file or package) kills or hangs
    a process; return quietly for a built-in world, a world that loads, or one with a Python error."""
    from kubric_gen.world import is_builtin

    if is_builtin(world_arg):
        return
    try:
        key = (world_arg, os.getcwd(), os.stat(world_arg).st_mtime)
    except OSError:
        return  # a missing world: the command says so
    if key in _PROBED:
        return
    command = [sys.executable, "-P", "-c", _BOOTSTRAP, world_arg, json.dumps(overrides or {})]
    env = dict(os.environ, **{SYS_PATH_ENV: json.dumps(child_sys_path())})
    proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        proc.stdout.readline()  # "ready" (or nothing, if the interpreter itself failed)
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise SceneCrashed(f"world {world_arg!r}: loading it timed out after {timeout:g} s ({timeout_option})") \
            from None
    except BaseException:  # Ctrl-C: the child is in its own session, so stop it here
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
        said = f": {tail[0]}" if tail else ""
        raise SceneCrashed(f"world {world_arg!r}: loading it {describe_exit(proc.returncode)}{said}")
    _PROBED.add(key)
