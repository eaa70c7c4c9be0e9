"""Crash isolation: every scene is generated in a child process.

A *request* is one scene to generate (a JSON object: name, seed, world, config overrides,
render settings, where to write). Parent side (`ChildProcess`): starts `python -m
kubric_gen.pipeline.isolation`, sends it one request at a time (a JSON line on its stdin) and
waits for the answer (a JSON line on a dedicated pipe) at most `timeout` seconds. A child
that dies (a segfault in bpy, the OOM killer, a world that kills itself) or runs past its
timeout is killed and reported as a `SceneFailure` with the tail of its stdout/stderr; the
next request starts a fresh child. `IsolatedScenes` replaces its child after
`scenes_per_child` scenes, so a leak cannot pile up. `stop_all()` (Ctrl-C in the driver)
kills every child of this process and refuses new ones.

Child side (`main`): dies with the thread that started it (Linux `PR_SET_PDEATHSIG`), reads
requests, serves each (`serve_request`: `kubric_gen.generate.generate_scene` into the output,
a local scene directory or a local scratch directory uploaded with fsspec) and answers
`{"ok": true, "timings": ...}` or `{"ok": false, "error": ..., "user_error": ...}`. It exits
on end of input or after `--idle-timeout` seconds without a request.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import ctypes
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from kubric_gen.errors import KubricGenError, WorldError

log = logging.getLogger(__name__)

CHILD_MODULE = "kubric_gen.pipeline.isolation"
PARENT_PID_ENV = "KUBRIC_GEN_PARENT_PID"
SYS_PATH_ENV = "KUBRIC_GEN_SYS_PATH"  # the parent's sys.path, which the child imports kubric_gen through
TAIL_BYTES = 4000
IDLE_TIMEOUT_S = 60.0
SCRATCH_PREFIX = "kubric_gen-child-"


class SceneFailure(Exception):
    """One failed attempt at a scene: why, the child's output tail, and whether a retry may help."""

    def __init__(self, reason: str, stderr_tail: str = "", retryable: bool = True, message: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr_tail = stderr_tail
        self.retryable = retryable
        self.message = message or reason  # a user error's own message, without the exception's type


class Stopped(Exception):
    """The run is being stopped (`stop_all`): no child is started, no scene is retried."""


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        try:
            return f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


# -- parent side ------------------------------------------------------------------------

_live_children: weakref.WeakSet[ChildProcess] = weakref.WeakSet()
_stale_cleaned = False
_stopping = threading.Event()


def stop_all() -> None:
    """Stop every child of this process now and start no new one (Ctrl-C in the driver): the
    threads waiting on them get `Stopped`."""
    _stopping.set()
    for child in list(_live_children):
        child._kill()


def stopping() -> bool:
    return _stopping.is_set()


def close_all() -> None:
    """Let every child of this process finish (end of input) and clean up."""
    for child in list(_live_children):
        child.close()


def _clean_stale_scratch() -> None:
    """Remove scratch directories of processes that died without cleaning up (SIGKILL), once per process."""
    global _stale_cleaned
    if _stale_cleaned:
        return
    _stale_cleaned = True
    root = Path(tempfile.gettempdir())
    for path in root.glob(f"{SCRATCH_PREFIX}*"):
        pid = path.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


# The child's first lines: with -P nothing from the working directory comes first on its path (a
# `kubric_gen/` folder there would hide the installed package); then the parent's sys.path, so the
# child imports the very kubric_gen (and modules) its parent imported.
_BOOTSTRAP = (f"import json, os, sys; sys.path[:] = json.loads(os.environ.pop({SYS_PATH_ENV!r})); "
              f"from {CHILD_MODULE} import main; sys.exit(main())")


def child_sys_path() -> list[str]:
    """The parent's sys.path for a child, less what Blender added to it: once `bpy` is imported,
    its script folders (`<site-packages>/bpy/5.0/scripts/modules`, with a pure-Python `bpy`
    package in them) are on the path, and a child that starts with them imports that `bpy`
    instead of the compiled module (`No module named '_bpy'`)."""
    entries = [os.path.abspath(entry or ".") for entry in sys.path]
    blender = tuple(os.path.join(entry, "bpy") + os.sep for entry in entries)
    return [raw for raw, entry in zip(sys.path, entries, strict=True) if not entry.startswith(blender)]


def child_command() -> list[str]:
    """How a child starts: this Python, isolated from the working directory, on the parent's path."""
    return [sys.executable, "-P", "-c", _BOOTSTRAP]


class ChildProcess:
    """One child process generating the scenes it is sent, one request at a time."""

    def __init__(self, idle_timeout: float = IDLE_TIMEOUT_S, timeout_option: str = "--scene-timeout",
                 gpu: str | None = None) -> None:
        self.idle_timeout = idle_timeout
        self.gpu = gpu  # CUDA_VISIBLE_DEVICES of the child: the one GPU it renders on
        self.timeout_option = timeout_option  # named in the timeout message
        self.proc: subprocess.Popen | None = None
        self.scratch: str | None = None
        self._log = None
        self._results: LineReader | None = None  # the child's answers
        self._closing = threading.Lock()  # close_all() may run in another thread

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _start(self) -> None:
        if _stopping.is_set():
            raise Stopped
        _clean_stale_scratch()
        self.scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        self._log = tempfile.TemporaryFile(dir=self.scratch)
        read_fd, write_fd = os.pipe()
        env = dict(os.environ, **{PARENT_PID_ENV: str(os.getpid()), SYS_PATH_ENV: json.dumps(child_sys_path())})
        if self.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpu
        try:
            self.proc = subprocess.Popen(
                [*child_command(), "--result-fd", str(write_fd), "--idle-timeout", str(self.idle_timeout)],
                stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, pass_fds=(write_fd,), env=env)
        finally:
            os.close(write_fd)
        self._results = LineReader(read_fd)
        _live_children.add(self)
        if _stopping.is_set():  # stop_all ran while this child started
            self.kill()
            raise Stopped

    def _tail(self, start: int) -> str:
        if self._log is None:
            return ""
        size = os.fstat(self._log.fileno()).st_size
        offset = max(start, size - TAIL_BYTES)
        data = os.pread(self._log.fileno(), size - offset, offset) if size > offset else b""
        return data.decode("utf-8", "replace").strip()

    def generate(self, request: dict[str, Any], timeout: float | None = None,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Generate one scene in the child; return its answer or raise SceneFailure (Stopped
        after `stop_all`). `progress(done, total)` is called for each frame the child reports
        rendered.

        After any failure the child is gone (killed if need be); the next call starts a new one.
        """
        if not self.alive:
            self.close()
            self._start()
        start = os.fstat(self._log.fileno()).st_size
        deadline = None if not timeout else time.monotonic() + timeout
        try:
            self.proc.stdin.write((json.dumps(dict(request, scratch=self.scratch, progress=progress is not None))
                                   + "\n").encode())
            self.proc.stdin.flush()
            answer = self._read_answer(deadline, progress)
        except TimeoutError:
            self._kill()
            tail = self._tail(start)
            self.close()
            raise SceneFailure(f"timed out after {timeout:g} s ({self.timeout_option})", tail) from None
        except (BrokenPipeError, OSError):
            answer = None
        except json.JSONDecodeError as e:
            tail = self._tail(start)
            self.close()
            raise SceneFailure(f"the child process answered garbage: {e.doc[:200]!r}", tail) from None
        if answer is None:
            if _stopping.is_set():
                self.close()
                raise Stopped
            try:
                returncode = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._kill()
                returncode = self.proc.returncode
            tail = self._tail(start)
            self.close()
            raise SceneFailure(f"the child process {describe_exit(returncode)}", tail)
        if not answer.get("ok"):
            tail = self._tail(start)
            self.close()  # its Blender state may be dirty
            raise SceneFailure(str(answer.get("error", "unknown error")), tail,
                               retryable=not answer.get("user_error", False), message=str(answer.get("message", "")))
        return answer

    def _read_answer(self, deadline: float | None, progress: Callable[[int, int], None] | None) -> dict | None:
        """The child's answer to a request (None if it died first), passing its progress reports
        (`{"progress": [done, total]}` lines) to `progress` on the way."""
        while True:
            assert self._results is not None  # started by generate()
            line = self._results.readline(deadline)
            if line is None:
                return None
            message = json.loads(line)
            if "progress" not in message:
                return message
            if progress is not None:
                progress(*message["progress"])

    def kill(self) -> None:
        """Stop the child now (e.g. on Ctrl-C) and clean up."""
        self._kill()
        self.close()

    def _kill(self) -> None:
        proc = self.proc  # stop_all() calls this from another thread
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a process in D state
                pass

    def close(self) -> None:
        """Let the child finish (end of input), killing it if it lingers; remove its scratch space."""
        with self._closing:
            self._close()

    def _close(self) -> None:
        if self.proc is not None:
            try:
                if self.proc.poll() is None:
                    self.proc.stdin.close()
                    self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._kill()
            if self.proc.stdin and not self.proc.stdin.closed:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
            self.proc = None
        if self._results is not None:
            os.close(self._results.fd)
            self._results = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


class IsolatedScenes:
    """Scenes generated in a `ChildProcess`, replaced after `scenes_per_child` scenes and after
    every failure."""

    def __init__(self, scenes_per_child: int = 1, gpu: str | None = None) -> None:
        self.scenes_per_child = max(1, int(scenes_per_child))
        self.gpu = gpu
        self.child = ChildProcess(gpu=gpu)
        self.served = 0

    def generate(self, request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        if self.served >= self.scenes_per_child:
            self.child.close()
            self.served = 0
        self.served += 1
        try:
            return self.child.generate(request, timeout)
        except (SceneFailure, Stopped):
            self.served = 0
            raise

    def close(self) -> None:
        self.child.close()


_local = threading.local()


def this_thread_scenes(scenes_per_child: int, gpu: str | None = None) -> IsolatedScenes:
    """This thread's IsolatedScenes (a child process is used by the thread that started it:
    on Linux it dies with that thread), its children pinned to `gpu` if given."""
    scenes = getattr(_local, "scenes", None)
    if scenes is None or scenes.scenes_per_child != max(1, int(scenes_per_child)) or scenes.gpu != gpu:
        if scenes is not None:
            scenes.close()
        scenes = _local.scenes = IsolatedScenes(scenes_per_child, gpu)
    return scenes


atexit.register(close_all)


def world_spec(world) -> dict[str, Any]:
    """How a child finds the world of a request: a built-in by name, else the world by value (the
    world file and the helper modules beside it, or the whole world package, base64) with its
    path, so a worker on another machine or in another working directory needs nothing but the
    request (`docs/pipeline.md`, "World packages")."""
    from kubric_gen.world import files_digest

    if world.builtin:
        return {"ref": world.name, "path": None, "digest": None, "files": None}
    files = world.files()
    path = (world.root if world.package else world.path).resolve()
    return {"ref": str(path), "path": str(path), "package": world.package, "digest": files_digest(files),
            "files": {rel: base64.b64encode(data).decode("ascii") for rel, data in files.items()}}


# -- child side -------------------------------------------------------------------------

def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover
            pass
    expected = os.environ.get(PARENT_PID_ENV)
    if expected and os.getppid() != int(expected):  # the parent died before prctl
        os._exit(1)


def _world_ref(spec: dict[str, Any], scratch: str) -> str:
    """A built-in world's name, the world's own path when its files there are the ones shipped, or
    (another machine, another working directory, a changed file) a copy of the shipped files in
    this child's scratch space, where the world keeps its folder's name."""
    from kubric_gen.world import files_digest, world_files

    if spec.get("files") is None:
        return spec["ref"]
    path, package = Path(spec["path"]), bool(spec.get("package"))
    try:
        if path.exists() and files_digest(world_files(path, package)) == spec["digest"]:
            return str(path)
    except (OSError, KubricGenError):
        pass
    local = Path(scratch) / "worlds" / spec["digest"][:16]
    root = local / path.name if package else local
    if not local.exists():
        for rel, data in spec["files"].items():
            target = (root / rel).resolve()
            if not target.is_relative_to(root.resolve()):
                raise WorldError(f"world {path.name!r}: shipped file {rel!r} lies outside the world's folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(data))
    return str(root if package else root / path.name)


def serve_request(request: dict[str, Any], progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Generate one scene into the output (see module docstring), or into `request["target"]`
    (one scene directory, as `kubric-gen render` asks); in the child process."""
    from kubric_gen.generate import generate_scene
    from kubric_gen.render.settings import RenderSettings

    name, seed = request["name"], int(request["seed"])
    world = _world_ref(request["world"], request["scratch"])
    kwargs = dict(settings=RenderSettings(**request["settings"]), overrides=request["overrides"],
                  preview=request["preview"], num_tracks=request["num_tracks"],
                  float_layers=request["float_layers"], progress=progress,
                  save_blend=bool(request.get("save_blend")))
    t0 = time.perf_counter()
    if request.get("target"):
        result = generate_scene(world, seed, request["target"], overwrite=bool(request.get("overwrite")), **kwargs)
        return {"device": result.device, "timings": result.timings, "seconds": time.perf_counter() - t0,
                "path": str(result.path)}
    from kubric_gen.pipeline.outputs import open_output

    output = open_output(request["output"])
    if output.remote:
        local = Path(request["scratch"]) / name
        shutil.rmtree(local, ignore_errors=True)
        try:
            result = generate_scene(world, seed, local, **kwargs)
            t1 = time.perf_counter()
            output.upload_scene(local, name)
            result.timings["upload"] = time.perf_counter() - t1
        finally:
            shutil.rmtree(local, ignore_errors=True)
    else:
        result = generate_scene(world, seed, output.scene_path(name), **kwargs)
    return {"device": result.device, "timings": result.timings, "seconds": time.perf_counter() - t0,
            "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}


PREPARE = "prepare"  # the kind of a `pipeline.prepare` request (a scene's request has none)
BUILD = "build"  # the kind of a `kubric-gen scene` request: build one seed's scene, answer it as data


def serve_prepare(request: dict[str, Any]) -> dict[str, Any]:
    """A `pipeline.prepare` request (the trial build before a run, then the asset libraries it
    used); in the child process, like every run of a world's code."""
    from kubric_gen.pipeline import prepare

    return prepare.serve(request, _world_ref(request["world"], request["scratch"]))


def serve_build(request: dict[str, Any]) -> dict[str, Any]:
    """A `kubric-gen scene` request: the scene of one seed, as plain data; in the child process,
    so that a world that crashes or hangs while building cannot take the command down."""
    from kubric_gen.world import build_scene, load_world, resolve_config

    world = load_world(_world_ref(request["world"], request["scratch"]))
    config = resolve_config(world, request.get("overrides") or {})
    return {"scene": build_scene(world, int(request["seed"]), config).to_dict()}


SERVE = {PREPARE: serve_prepare, BUILD: serve_build}  # requests other than a scene's, by kind


class LineReader:
    """Lines from a pipe, without blocking past a deadline: the parent reads the child's
    answers with the request's timeout, the child reads requests with its idle timeout."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def readline(self, deadline: float | None) -> bytes | None:
        """The next line; None at end of file; TimeoutError past `deadline` (time.monotonic())."""
        while b"\n" not in self.buffer:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def _exit_now() -> NoReturn:
    """End the child without the interpreter's teardown (a third of a second or more with
    Blender loaded: freeing every module, then Blender's own exit), once everything it wrote is
    out: each answer was written unbuffered and each scene's files were closed before it.
    Blender's temporary folder is the one thing that teardown would remove."""
    sys.stdout.flush()
    sys.stderr.flush()
    bpy = sys.modules.get("bpy")
    if bpy is not None:
        shutil.rmtree(bpy.app.tempdir, ignore_errors=True)
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {CHILD_MODULE}")
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_S)
    args = parser.parse_args(argv)
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this process
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    answers = os.fdopen(args.result_fd, "wb", buffering=0)
    requests = LineReader(sys.stdin.fileno())

    def progress(done: int, total: int) -> None:
        answers.write((json.dumps({"progress": [done, total]}) + "\n").encode())

    while True:
        try:
            line = requests.readline(time.monotonic() + args.idle_timeout if args.idle_timeout > 0 else None)
        except TimeoutError:
            _exit_now()  # idle too long: the parent is gone or done
        if line is None:
            _exit_now()
        request = json.loads(line)
        print(f"[{CHILD_MODULE} {os.getpid()}] {request.get('name')}: rendering", file=sys.stderr, flush=True)
        try:
            serve = SERVE.get(request.get("kind"))
            answer = {"ok": True, **(serve(request) if serve
                                     else serve_request(request, progress if request.get("progress") else None))}
        except KubricGenError as e:
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}", "message": str(e), "user_error": True}
            print(answer["error"], file=sys.stderr, flush=True)
        except Exception as e:  # noqa: BLE001 - reported to the parent, which may retry
            traceback.print_exc()
            sys.stderr.flush()
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}", "user_error": False}
        answers.write((json.dumps(answer) + "\n").encode())


if __name__ == "__main__":
    sys.exit(main())
