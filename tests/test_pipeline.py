"""`kubric-gen run`: real Beam runners (the direct runner's FnApiRunner with worker threads,
DaskRunner on a real local dask.distributed cluster), real child processes, tiny real scenes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ctrl_c_default

from kubric_gen import cli, gpus
from kubric_gen.pipeline.outputs import COMPLETE_MARKER, scene_name, seed_of

ROOT = Path(__file__).resolve().parents[1]
ONE_CUBE = str(ROOT / "tests" / "worlds" / "one_cube.py")
CRASHY = str(ROOT / "tests" / "worlds" / "crashy.py")
TINY = ["--samples", "4", "--tracks", "16"]
NUM_SCENES = 2  # the fault tests kill, interrupt and resume runs of these 2 scenes
IGNORED = {"provenance.json"}  # timings (the _COMPLETE marker leaves them out of its hashes)


def run_cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubric_gen.cli", "run", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def scene_hashes(out: Path) -> dict[str, str]:
    """sha256 of every file of every scene directory, except provenance.json (it holds timings)."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.glob("scene_*/**/*")) if p.is_file() and p.name not in IGNORED}


def summary(out: Path) -> dict:
    return json.loads((out / "_run.json").read_text())


def leftovers(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """2 tiny scenes with 2 workers on the DirectRunner: the reference dataset."""
    out = tmp_path_factory.mktemp("baseline") / "dataset"
    t0 = time.perf_counter()
    proc = run_cli(ONE_CUBE, "--num-scenes", str(NUM_SCENES), "--output", str(out), "--workers", "2", *TINY)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    return out, seconds, scene_hashes(out)


def test_scenes_with_two_workers(baseline):
    out, _, hashes = baseline
    names = [scene_name(s) for s in range(NUM_SCENES)]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("scene_")) == names
    assert not leftovers(out)
    s = summary(out)
    assert s["counts"] == {"done": NUM_SCENES, "skipped": 0, "failed": 0, "total": NUM_SCENES} and s["complete"]
    assert s["done"] == names and s["failed"] == [] and s["runner"] == "direct" and s["workers"] == 2
    assert s["render_settings"]["threads"] == max(1, (os.cpu_count() or 1) // 2)
    assert {"apache-beam", "bpy", "kubric_gen"} <= set(s["versions"]) and s["timings"]["scenes_per_hour"] > 0
    for seed, name in enumerate(names):
        meta = json.loads((out / name / "metadata.json").read_text())
        assert meta["metadata"]["seed"] == seed and meta["metadata"]["resolution"] == [32, 32]
        status = json.loads((out / "_status" / f"{name}.json").read_text())
        assert status["status"] == "done" and status["attempts"] == 1 and status["run_id"] == s["run_id"]
    assert len({h for k, h in hashes.items() if k.endswith("rgba_00000.png")}) == NUM_SCENES  # different scenes


def test_pipeline_scene_equals_generate_scene(baseline, tmp_path):
    """Scene s of a run is what `kubric-gen render WORLD --seed s` writes with the same options."""
    from kubric_gen.generate import generate_scene
    from kubric_gen.render.settings import RenderSettings

    out, _, hashes = baseline
    threads = summary(out)["render_settings"]["threads"]
    generate_scene(ONE_CUBE, 1, tmp_path / "scene_00000001", RenderSettings(samples=4, threads=threads), {},
                 num_tracks=16)
    assert scene_hashes(tmp_path) == {k: v for k, v in hashes.items() if k.startswith("scene_00000001/")}


def file_stamps(out: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime in ns) of every file of every scene directory, provenance.json included."""
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(out.glob("scene_*/**/*")) if p.is_file()}


def test_rerun_skips_every_scene_quickly(baseline):
    """A rerun over finished scenes starts no worker and rewrites none of their files, and it
    saves at least half of the time a scene took in its worker. (Process start-up and building
    the Beam pipeline cost the same both times, so with 2 tiny scenes a ratio of the two wall
    times would measure start-up, not skipping.)"""
    out, first_seconds, hashes = baseline
    first = summary(out)
    stamps = file_stamps(out)
    t0 = time.perf_counter()
    proc = run_cli(ONE_CUBE, "--num-scenes", str(NUM_SCENES), "--output", str(out), "--workers", "2", *TINY)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    s = summary(out)
    assert s["counts"] == {"done": 0, "skipped": NUM_SCENES, "failed": 0, "total": NUM_SCENES}
    assert s["timings"]["scene_seconds"] is None and s["timings"]["stage_seconds_mean"] == {}  # no worker ran
    assert file_stamps(out) == stamps  # nothing rendered or written again
    assert scene_hashes(out) == hashes
    scene_seconds = first["timings"]["scene_seconds"]["median"]
    assert seconds < first_seconds - scene_seconds / 2, (seconds, first_seconds, scene_seconds)


def test_incomplete_scene_directories_are_rendered_again(baseline, tmp_path):
    """A directory with a scene's name is done only when kubric_gen.io.SceneDir finds it complete."""
    out, _, hashes = baseline
    copy = tmp_path / "dataset"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "scene_00000001")
    (copy / "scene_00000001").mkdir()  # emptied
    (copy / "scene_00000000" / "depth_00001.tiff").unlink()  # a frame lost
    proc = run_cli(ONE_CUBE, "--num-scenes", str(NUM_SCENES), "--output", str(copy), "--workers", "2", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert summary(copy)["counts"] == {"done": 2, "skipped": 0, "failed": 0, "total": 2}
    assert scene_hashes(copy) == hashes


def test_crashing_scene_is_retried_then_reported(tmp_path):
    out = tmp_path / "crashy"
    proc = run_cli(CRASHY, "--num-scenes", "3", "--output", str(out), "--workers", "2", *TINY,
                   "--set", "crash_seeds=[1]", "--set", "flaky_seeds=[2]", "--set", f"marker_dir={tmp_path / 'marks'}")
    assert proc.returncode == 1, proc.stderr
    assert "scene_00000001" in proc.stderr and "SIGKILL" in proc.stderr
    s = summary(out)
    assert s["counts"] == {"done": 2, "skipped": 0, "failed": 1, "total": 3} and not s["complete"]
    [failed] = s["failed"]
    assert failed["scene"] == "scene_00000001" and failed["seed"] == 1 and failed["attempts"] == 3
    assert "killed by signal SIGKILL" in failed["reason"] and "scene_00000001" in failed["stderr_tail"]
    flaky = json.loads((out / "_status" / "scene_00000002.json").read_text())
    assert flaky["status"] == "done" and flaky["attempts"] == 2 and "SIGKILL" in flaky["errors"][0]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("scene_")) == \
        ["scene_00000000", "scene_00000002"]
    assert not leftovers(out)


def test_a_world_error_is_reported_with_its_line_and_not_retried(tmp_path):
    out = tmp_path / "broken_world"
    proc = run_cli(CRASHY, "--num-scenes", "2", "--output", str(out), *TINY, "--set", "raise_seeds=[1]")
    assert proc.returncode == 1, proc.stderr
    [failed] = summary(out)["failed"]
    assert failed["seed"] == 1 and failed["attempts"] == 1  # deterministic: never retried
    assert "crashy.py:" in failed["reason"] and "RuntimeError: this seed is broken" in failed["reason"]


def test_scene_names_sort_as_their_seeds_at_any_seed():
    seeds = [0, 7, 99_999_999, 10 ** 8, 10 ** 8 + 1, 10 ** 12, 2 ** 64 - 1]
    names = [scene_name(s) for s in seeds]
    assert names == sorted(names) and names[2:4] == ["scene_99999999", "scene_x00000000000100000000"]
    assert [seed_of(n) for n in names] == seeds
    assert seed_of("scene_100000000") is None and seed_of("scene_x7") is None


def test_scene_timeout_kills_and_reports(tmp_path):
    out = tmp_path / "slow"
    proc = run_cli(ONE_CUBE, "--num-scenes", "1", "--output", str(out), "--workers", "1", *TINY,
                   "--scene-timeout", "0.3", "--retries", "1")
    assert proc.returncode == 1, proc.stderr
    [failed] = summary(out)["failed"]
    assert failed["attempts"] == 2 and "timed out after 0.3 s" in failed["reason"]
    assert not (out / "scene_00000000").exists() and not leftovers(out)


def killable_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a run the test kills: its temporary files (Beam's, the children's
    scratch directories) go to pytest's tmp_path, not /tmp."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return dict(os.environ, TMPDIR=str(tmp))


def _process_group_gone(pgid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_sigkill_of_the_driver_kills_its_children_and_resume_gives_the_same_dataset(baseline, tmp_path):
    """SIGKILL of the driver process alone (its Beam workers are its threads) while it renders its
    second scene (one worker): its render children die with it (no orphans), and the same
    command finishes the run."""
    ref_out, _, ref_hashes = baseline
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "kubric_gen.cli", "run", ONE_CUBE, "--num-scenes", str(NUM_SCENES),
            "--output", str(out), "--workers", "1", *TINY]
    driver = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=killable_env(tmp_path), start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and driver.poll() is None:
            if out.exists() and any(p.name.startswith("scene_") for p in out.iterdir()) and _render_children(driver):
                break
            time.sleep(0.02)
        assert driver.poll() is None, "the run finished before it could be killed"
        assert _render_children(driver), "no render child running"
    finally:
        os.kill(driver.pid, signal.SIGKILL)  # the driver only: its children must die by themselves
        driver.wait()
    try:
        assert _process_group_gone(driver.pid), "render children survived the driver"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
    done_before = sorted(p.name for p in out.iterdir() if p.name.startswith("scene_"))
    assert 1 <= len(done_before) < NUM_SCENES
    # what a scene killed while being written leaves behind
    missing = sorted(set(ref_hashes_scenes(ref_hashes)) - set(done_before))[0]
    (out / f".tmp-{missing}-deadbeef").mkdir()
    (out / f".tmp-{missing}-deadbeef" / "rgba_00000.png").write_bytes(b"partial")

    proc = run_cli(ONE_CUBE, "--num-scenes", str(NUM_SCENES), "--output", str(out), "--workers", "2", *TINY)
    assert proc.returncode == 0, proc.stderr
    s = summary(out)
    assert s["counts"]["skipped"] == len(done_before) and s["counts"]["done"] == NUM_SCENES - len(done_before)
    # the planted one, and any the killed run left (a scene's folder exists from the start of its render)
    assert f".tmp-{missing}-deadbeef" in s["leftovers_removed"]
    assert all(name.split("-")[1] not in done_before for name in s["leftovers_removed"]), s["leftovers_removed"]
    assert not leftovers(out)
    assert scene_hashes(out) == ref_hashes


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@contextlib.contextmanager
def _driver(out: Path, tmp_path: Path):
    """A `run` of the baseline's scenes into `out`, in its own process group (killed at the end)."""
    args = [sys.executable, "-m", "kubric_gen.cli", "run", ONE_CUBE, "--num-scenes", str(NUM_SCENES),
            "--output", str(out), "--workers", "2", *TINY]
    driver = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=killable_env(tmp_path), start_new_session=True, preexec_fn=ctrl_c_default)
    try:
        yield driver
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()


def _render_children(driver: subprocess.Popen) -> list[int]:
    """The render children of a driver (started by its worker threads: its own children)."""
    if not Path("/proc").is_dir():
        return []
    pids = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    out = []
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            if _ppid(pid) == driver.pid and b"kubric_gen.pipeline.isolation" in _cmdline(pid):
                out.append(pid)
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through Linux /proc")
def test_sigkill_of_a_render_child_is_retried_and_the_dataset_is_identical(baseline, tmp_path):
    _, _, ref_hashes = baseline
    out = tmp_path / "child_killed"
    with _driver(out, tmp_path) as driver:
        deadline = time.monotonic() + 120
        killed = False
        while not killed and time.monotonic() < deadline and driver.poll() is None:
            # after the run registered (the trial build's child, which renders nothing, is gone by then)
            children = _render_children(driver) if list((out / "_runs").glob("*.json")) else []
            if children:
                os.kill(children[0], signal.SIGKILL)
                killed = True
            time.sleep(0.01)
        assert killed, "no render child to kill"
        _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 0, stderr
    s = summary(out)
    assert s["counts"]["done"] == NUM_SCENES and s["complete"]
    retried = [json.loads(p.read_text()) for p in (out / "_status").glob("*.json")]
    assert any(r["attempts"] == 2 and "SIGKILL" in r["errors"][0] for r in retried)
    assert scene_hashes(out) == ref_hashes and not leftovers(out)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through Linux /proc")
def test_ctrl_c_stops_the_run_with_one_line_and_no_orphans(baseline, tmp_path):
    _, _, ref_hashes = baseline
    out = tmp_path / "interrupted"
    with _driver(out, tmp_path) as driver:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None and not (
                list((out / "_runs").glob("*.json")) and _render_children(driver)):  # past the trial build
            time.sleep(0.02)
        os.killpg(driver.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        _, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 130, stderr
    assert "Traceback" not in stderr and "kubric-gen: interrupted" in stderr.splitlines()[-1], stderr
    assert _process_group_gone(driver.pid, timeout=10), "workers or children survived Ctrl-C"
    assert summary(out)["runs"][-1]["state"] == "interrupted"
    proc = run_cli(ONE_CUBE, "--num-scenes", str(NUM_SCENES), "--output", str(out), "--workers", "2", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert scene_hashes(out) == ref_hashes and not leftovers(out)


def test_overlapping_drivers_refuse_and_disjoint_shards_keep_their_records(baseline, tmp_path):
    import socket

    out = tmp_path / "shared"
    shutil.copytree(baseline[0], out)
    earlier = len(list((out / "_runs").glob("*.json")))
    live = {"run_id": "other", "state": "running", "seeds": [1, 9], "host": socket.gethostname(),
            "pid": os.getpid(), "started": "2026-01-01T00:00:00Z", "heartbeat": time.time()}
    (out / "_runs").mkdir(exist_ok=True)
    (out / "_runs" / "other.json").write_text(json.dumps(live))
    proc = run_cli(ONE_CUBE, "--num-scenes", str(NUM_SCENES), "--output", str(out), *TINY)
    assert proc.returncode == 2 and "seeds 1..1" in proc.stderr and "run other" in proc.stderr, proc.stderr
    proc = run_cli(ONE_CUBE, "--num-scenes", "1", "--output", str(out), *TINY)  # seed 0: no overlap
    assert proc.returncode == 0, proc.stderr
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / "_runs" / "other.json").write_text(json.dumps(dict(live, pid=int(dead.stdout))))  # a killed driver
    proc = run_cli(ONE_CUBE, "--num-scenes", "1", "--seed-offset", "1", "--output", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    runs = summary(out)["runs"]
    assert len(runs) == earlier + 3 and [r["seeds"] for r in runs if r["state"] == "finished"][-2:] == [[0, 0], [1, 1]]
    assert len(list((out / "_runs").glob("*.json"))) == earlier + 3


def ref_hashes_scenes(hashes: dict[str, str]) -> list[str]:
    return sorted({k.split("/")[0] for k in hashes})


def test_fsspec_url_output_gives_the_same_files(baseline, tmp_path):
    _, _, ref_hashes = baseline
    out = tmp_path / "remote"
    url = f"file://{out}"
    # a killed upload: a scene prefix without its completion marker
    (out / "scene_00000001").mkdir(parents=True)
    (out / "scene_00000001" / "rgba_00000.png").write_bytes(b"partial")
    proc = run_cli(ONE_CUBE, "--num-scenes", "2", "--output", url, "--workers", "2", *TINY)
    assert proc.returncode == 0, proc.stderr
    s = summary(out)
    assert s["counts"] == {"done": 2, "skipped": 0, "failed": 0, "total": 2} and s["output"] == url
    assert s["leftovers_removed"] == ["scene_00000001"]
    names = ["scene_00000000", "scene_00000001"]
    for name in names:
        marker = json.loads((out / name / COMPLETE_MARKER).read_text())
        assert "metadata.json" in marker["files"] and len(marker["content_sha256"]) == 64
    assert scene_hashes(out) == {k: v for k, v in ref_hashes.items() if k.split("/")[0] in names}
    again = run_cli(ONE_CUBE, "--num-scenes", "2", "--output", url, "--workers", "2", *TINY)
    assert again.returncode == 0, again.stderr
    assert summary(out)["counts"]["skipped"] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            if _process_group_gone(proc.pid, timeout=wait):
                return
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker --nthreads 1` on 127.0.0.1 (real processes)."""
    distributed = pytest.importorskip("distributed", reason="needs dask.distributed: pip install 'kubric_gen[dask]'")
    logs = tmp_path_factory.mktemp("dask")
    dask = str(Path(sys.executable).parent / "dask")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []

    env = dict(os.environ, TMPDIR=str(logs))  # what killed processes leave behind stays in pytest's tmp

    def start(name: str, *args: str) -> None:
        with open(logs / f"{name}.log", "wb") as log:
            procs.append(subprocess.Popen([dask, *args, "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT,
                                          cwd=logs, env=env, start_new_session=True))

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port))
        for i in range(2):
            start(f"worker{i}", "worker", f"tcp://{address}", "--nthreads", "1", "--local-directory", str(logs))
        with distributed.Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_dask_runner_on_a_local_cluster_gives_the_same_dataset(baseline, dask_cluster, tmp_path):
    _, _, ref_hashes = baseline
    out = tmp_path / "dask"
    proc = run_cli(ONE_CUBE, "--num-scenes", str(NUM_SCENES), "--output", str(out), *TINY,
                   "--runner", "dask", f"--dask_client_address={dask_cluster}")
    assert proc.returncode == 0, proc.stderr
    s = summary(out)
    assert s["counts"] == {"done": NUM_SCENES, "skipped": 0, "failed": 0, "total": NUM_SCENES} and s["runner"] == "dask"
    assert f"--dask_npartitions={NUM_SCENES}" in s["beam_options"]
    workers = {json.loads(p.read_text())["worker"] for p in (out / "_status").glob("*.json")}
    assert len(workers) == 2, workers  # both dask workers rendered
    assert scene_hashes(out) == ref_hashes


@pytest.mark.parametrize("args, message", [
    (["no_such_world"], "world 'no_such_world'"),
    ([ONE_CUBE, "--set", "bogus=1"], "config 'bogus': unknown key"),
    ([ONE_CUBE, "--set", "num_frames=many"], "config 'num_frames'"),
    ([ONE_CUBE, "--num-scenes", "0"], "--num-scenes"),
    ([ONE_CUBE, "--runner", "nosuch"], "--runner: unknown runner 'nosuch'"),
    ([ONE_CUBE, "--no_such_beam_option=1"], "unrecognized arguments: --no_such_beam_option=1"),
    ([ONE_CUBE, "--direct_num_workers=many"], "--direct_num_workers"),
    ([ONE_CUBE, "--direct_running_mode=multi_processing"], "every scene already runs in a child process"),
    ([ONE_CUBE, "--project", "p", "stray"], "unrecognized arguments: stray"),
    ([ONE_CUBE, "--samples", "0"], "--samples"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    argv = ["run", *args, "--output", str(out)]
    if "--num-scenes" not in args:
        argv += ["--num-scenes", "2"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kubric-gen: error: ") and message in err and "\n" not in err, err
    assert not out.exists()


def test_unwritable_output_is_exit_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    assert cli.main(["run", ONE_CUBE, "--num-scenes", "2", "--output", str(blocker / "out")]) == 2
    assert "--output: cannot create" in capsys.readouterr().err
    assert cli.main(["run", ONE_CUBE, "--num-scenes", "2", "--output", str(blocker)]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert blocker.read_text() == "not a directory"


def test_unknown_arguments_pass_through_to_beam():
    args = cli.build_parser().parse_args(
        ["run", "movi_a", "--num-scenes", "3", "--output", "out", "--dask_client_address=h:1", "--project=p",
         "--workers", "2", "--retries", "0"])
    assert args.beam_args == ["--dask_client_address=h:1", "--project=p"]
    assert (args.num_scenes, args.workers, args.retries, args.runner, args.seed_offset) == (3, 2, 0, "direct", 0)


def test_the_driver_takes_plain_run_options(tmp_path):
    """`drive` takes a RunOptions dataclass; the command line is converted by `run_options`."""
    from kubric_gen.errors import ConfigError
    from kubric_gen.pipeline.cli import run_options
    from kubric_gen.pipeline.driver import RunOptions, drive

    with pytest.raises(ConfigError, match="--num-scenes"):
        drive(RunOptions(world=ONE_CUBE, num_scenes=0, output=str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()
    args = cli.build_parser().parse_args(["run", ONE_CUBE, "--num-scenes", "2", "--output", "o", "--frames", "3",
                                          "--samples", "4", "--no-preview", "--project=p"])
    options = run_options(args)
    assert isinstance(options, RunOptions) and options.overrides == {"num_frames": 3}
    assert options.settings.samples == 4 and not options.preview and options.beam_args == ["--project=p"]


def test_importing_kubric_gen_does_not_import_beam():
    code = ("import sys, kubric_gen, kubric_gen.beam, kubric_gen.pipeline, kubric_gen.pipeline.cli, "
            "kubric_gen.pipeline.driver, kubric_gen.pipeline.isolation, kubric_gen.pipeline.task, "
            "kubric_gen.datasets.beam\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('apache_beam', 'bpy', 'dask', 'distributed')]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_add_commands_wires_run_into_the_kubric_gen_parser():
    import argparse

    from kubric_gen import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "run" in sub.choices
    args = parser.parse_args(["run", ONE_CUBE, "--num-scenes", "2", "--output", "o", "--runner", "dask",
                              "--dask_client_address=127.0.0.1:1", "-v", "--samples", "4"])
    assert args.func is cli._cmd_run and args.verbose
    assert args.beam_args == ["--dask_client_address=127.0.0.1:1"] and args.samples == 4
    with pytest.raises(Exception, match="unrecognized arguments"):
        parser.parse_args(["render", ONE_CUBE, "--seed", "0", "--output", "o", "--bogus=1"])


@pytest.mark.skipif(gpus.driver_gpus() == 0, reason="needs an NVIDIA driver")
def test_gpus_from_cuda_visible_devices_get_their_share_of_render_children(baseline, tmp_path):
    """Each render child is pinned to one of the GPUs listed in CUDA_VISIBLE_DEVICES, round robin;
    what the children saw in CUDA_VISIBLE_DEVICES is in their status records."""
    listed = [str(i) for i in range(gpus.driver_gpus())]
    out = tmp_path / "pinned"
    proc = run_cli(ONE_CUBE, "--num-scenes", str(2 * len(listed)), "--output", str(out), "--workers-per-gpu", "1",
                   *TINY, env=dict(os.environ, CUDA_VISIBLE_DEVICES=",".join(listed)))
    assert proc.returncode == 0, proc.stderr
    assert f"{len(listed)} workers on {len(listed)} GPU(s) ({', '.join(listed)})" in proc.stderr
    records = [json.loads(p.read_text()) for p in sorted((out / "_status").glob("scene_*.json"))]
    assert sorted(r["gpu"] for r in records) == sorted(listed * 2)
    assert summary(out)["gpus"] == listed and summary(out)["workers"] == len(listed)
    assert not gpus.slot_directory(summary(out)["run_id"]).exists()  # the run removed its slot files


@pytest.mark.skipif(gpus.driver_gpus() > 0, reason="checks a machine without an NVIDIA driver")
def test_without_a_driver_cuda_visible_devices_plans_no_gpu(baseline, tmp_path):
    """Garbage (or any) CUDA_VISIBLE_DEVICES on a machine without an NVIDIA driver plans no GPU:
    the run renders on the CPU with the usual workers and records no GPU."""
    out = tmp_path / "no_driver"
    proc = run_cli(ONE_CUBE, "--num-scenes", "2", "--output", str(out), "--workers", "2", *TINY,
                   env=dict(os.environ, CUDA_VISIBLE_DEVICES="abc,,-1"))
    assert proc.returncode == 0, proc.stderr
    assert "GPU" not in proc.stderr
    s = summary(out)
    assert s["gpus"] == [] and s["workers"] == 2
    assert [json.loads(p.read_text())["gpu"] for p in sorted((out / "_status").glob("scene_*.json"))] == [None, None]
    reference = {k: v for k, v in baseline[2].items() if k.split("/")[0] in {scene_name(s) for s in range(2)}}
    assert scene_hashes(out) == reference


def test_the_driver_prepares_a_library_once_for_all_workers(tmp_path):
    from assetgen import make_gso_folder

    from kubric_gen.assets import AssetLibrary, convert_folder

    library_dir = tmp_path / "lib"
    convert_folder(make_gso_folder(tmp_path), library_dir, collision="lazy", progress=False)
    assert len(AssetLibrary.load(library_dir).unprepared()) == 2
    out = tmp_path / "dataset"
    proc = run_cli(str(ROOT / "tests" / "worlds" / "library_object.py"), "--num-scenes", "2", "--output", str(out),
                   "--workers", "2", *TINY, "--set", f"library={library_dir}")
    assert proc.returncode == 0, proc.stderr
    # the trial build of the first scene made its object's files; the driver prepares the rest
    assert "preparing 1 asset(s) of library lib once for all workers" in proc.stderr
    assert AssetLibrary.load(library_dir).unprepared() == []
    again = run_cli(str(ROOT / "tests" / "worlds" / "library_object.py"), "--num-scenes", "3", "--output", str(out),
                    "--workers", "2", *TINY, "--set", f"library={library_dir}")
    assert again.returncode == 0 and "preparing" not in again.stderr


# ---------------------------------------------------------------- resume keeps only the scenes asked for
MOVI_TINY = ["--resolution", "16x16", "--frames", "1", "--samples", "1", "--tracks", "4", "--no-preview"]


def _listing(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def _refused(capsys, args: list[str], fragment: str) -> None:
    """`kubric-gen run ARGS` refuses with one line (in this process: refusing renders nothing, and
    tests/test_bad_input.py runs such refusals as processes of their own)."""
    capsys.readouterr()
    status = cli.main(["run", *args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("kubric-gen: error: "), lines
    assert fragment in lines[0], lines[0]


def test_resume_refuses_scenes_made_otherwise_and_overwrite_renders_them_again(tmp_path, capsys):
    """A complete scene is skipped only when it was made with this run's world, seed, config and
    render settings; otherwise one line names the first difference (exit 2, nothing written),
    and --overwrite renders it again, moving a folder that holds a user's file aside."""
    out = tmp_path / "OUT"
    first = run_cli("movi_a", "--num-scenes", "1", "--output", str(out), *MOVI_TINY)
    assert first.returncode == 0, first.stderr
    again = run_cli("movi_a", "--num-scenes", "1", "--output", str(out), *MOVI_TINY)
    assert again.returncode == 0 and "1 of 1 scenes already complete, skipping them" in again.stderr, again.stderr
    before = _listing(out)
    scene = out / "scene_00000000"
    resolution = [a if a != "16x16" else "24x24" for a in MOVI_TINY]
    _refused(capsys, ["movi_a", "--num-scenes", "1", "--output", str(out), *resolution],
             f"{scene} was made with config 'resolution' [16, 16], this run asks [24, 24]; use --overwrite")
    _refused(capsys, ["movi_b", "--num-scenes", "1", "--output", str(out), *MOVI_TINY],
             f"{scene} was made with world 'movi_a', this run asks 'movi_b'")
    samples = [*MOVI_TINY[:4], "--samples", "2", *MOVI_TINY[6:]]
    _refused(capsys, ["movi_a", "--num-scenes", "1", "--output", str(out), *samples],
             "was made with render setting 'samples' 1, this run asks 2")
    _refused(capsys, ["movi_a", "--num-scenes", "1", "--output", str(out), *MOVI_TINY, "--tracks", "8"],
             "was made with output option 'num_tracks' 4, this run asks 8")
    _refused(capsys, ["movi_a", "--num-scenes", "1", "--output", str(out), *MOVI_TINY, "--float-layers"],
             "was made with output option 'float_layers' false, this run asks true")
    assert _listing(out) == before  # nothing written, nothing rendered
    # a scene copied under another seed's name, with a file of the user's in it
    shutil.copytree(scene, out / "scene_00000001")
    (out / "scene_00000001" / "my_notes.txt").write_text("mine")
    _refused(capsys, ["movi_a", "--num-scenes", "2", "--output", str(out), *MOVI_TINY],
             f"{out / 'scene_00000001'} was made with seed 0, this run asks 1")
    # --overwrite: both scenes again at 24x24; the copy (with the user's file) moved aside, not deleted
    proc = run_cli("movi_a", "--num-scenes", "2", "--output", str(out), *resolution, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert "rendering 2 scene(s) made with other settings again (--overwrite)" in proc.stderr
    [moved] = (out / "_replaced").iterdir()
    assert moved.name.startswith("scene_00000001.") and (moved / "my_notes.txt").read_text() == "mine"
    assert f"moved scene_00000001 to {moved}" in proc.stderr
    for seed in (0, 1):
        meta = json.loads((out / scene_name(seed) / "metadata.json").read_text())
        assert meta["metadata"]["seed"] == seed and meta["metadata"]["resolution"] == [24, 24]
    assert summary(out)["counts"] == {"done": 2, "skipped": 0, "failed": 0, "total": 2}
    assert run_cli("movi_a", "--num-scenes", "2", "--output", str(out), *resolution).returncode == 0


def test_an_incomplete_scene_with_a_users_file_is_moved_aside_not_deleted(baseline, tmp_path):
    out, _, hashes = baseline
    copy = tmp_path / "dataset"
    shutil.copytree(out, copy)
    (copy / "scene_00000001" / "depth_00000.tiff").unlink()  # incomplete
    (copy / "scene_00000001" / "notes.txt").write_text("my notes")  # and a file that is not ours
    (copy / "scene_00000000" / "depth_00000.tiff").unlink()  # incomplete, only our files
    proc = run_cli(ONE_CUBE, "--num-scenes", "2", "--output", str(copy), "--workers", "2", *TINY)
    assert proc.returncode == 0, proc.stderr
    [moved] = (copy / "_incomplete").iterdir()
    assert moved.name.startswith("scene_00000001.") and (moved / "notes.txt").read_text() == "my notes"
    assert f"moved incomplete scene_00000001 aside to {moved}" in proc.stderr
    assert "removed 1 leftovers of an interrupted run: scene_00000000" in proc.stderr
    assert scene_hashes(copy) == {k: v for k, v in hashes.items() if k.split("/")[0] in ("scene_00000000",
                                                                                         "scene_00000001")}
    assert summary(copy)["leftovers_removed"] == ["scene_00000000", f"scene_00000001 -> {moved}"]


# ---------------------------------------------------------------- a world's crash never takes the driver down
@pytest.mark.parametrize("name, body, args, reason", [
    ("segfaults", "import ctypes\n\ndef build(rng, config):\n    ctypes.string_at(0)\n", [],
     "the child process was killed by signal SIGSEGV"),
    ("exits", "import os\n\ndef build(rng, config):\n    os._exit(3)\n", [], "the child process exited with status 3"),
    ("raises", "def build(rng, config):\n    raise ValueError('no scene today')\n", [],
     "ValueError: no scene today"),
    ("loops", "def build(rng, config):\n    while True:\n        pass\n", ["--scene-timeout", "2"],
     "timed out after 2 s (--scene-timeout)"),
], ids=["segfaults", "exits", "raises", "loops"])
def test_a_world_that_crashes_or_hangs_is_a_failed_scene_not_a_dead_driver(tmp_path, name, body, args, reason):
    """The driver's trial build (which finds the asset libraries to prepare) runs the world in a
    child process too: the run ends with its own summary, exit status 1, the seed reported."""
    world = tmp_path / f"{name}.py"
    world.write_text("CONFIG = {}\n\n" + body)
    out = tmp_path / "out"
    t0 = time.perf_counter()
    proc = run_cli(str(world), "--num-scenes", "1", "--output", str(out), "--workers", "1", "--retries", "0",
                   *TINY, *args, timeout=120)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stdout.startswith("kubric-gen run: 1 scenes: 0 done, 0 skipped, 1 failed in "), proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("kubric-gen: failed: scene_00000000 (seed 0) after 1 attempts: ") and \
        reason in lines[-1], lines
    s = summary(out)
    assert [f["seed"] for f in s["failed"]] == [0] and reason in s["failed"][0]["reason"]
    assert reason in s["trial_build_error"]  # the trial build met the same end, in its own child
    if name == "loops":
        assert seconds < 60, seconds
