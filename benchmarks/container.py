"""The container images, built and run without any container registry: harness and benchmark.

`tests/test_container.py` (CI) uses the functions below; run as a script, it measures the image
and prints one JSON object. Steps, each timed:

1. base image: Debian 12 (bookworm), `debootstrap --variant=minbase` with Python 3.11 and the
   packages that docker/Dockerfile's first RUN asks for (read from the Dockerfile), trimmed like
   debian:bookworm-slim, kept as a tarball under the cache folder (below) while its inputs are
   unchanged, `podman import`ed and tagged as the Dockerfile's FROM (debian:bookworm-slim) in a
   podman store of its own (CACHE/storage), so nothing is pulled and no other image is touched.
2. wheelhouse: `docker/install.sh --fill-wheelhouse CACHE/wheels` with this Python (3.11), which
   takes the wheels from pip's cache (filled by the venv's own install) or downloads them once.
3. build: `podman build --pull=never` of docker/Dockerfile with the wheelhouse bind-mounted at
   /srv (pip takes wheels from it instead of downloading; the image is the same without it)
   and the host's CA bundle's folder at /mnt for pip (never copied into the image).
4. run: `podman run --network=none` of the image rendering tests/worlds/one_cube.py into a
   mounted folder; the time from `podman run` to the first rendered frame; the same on the host
   (no container) as the baseline of the same run.

    .venv/bin/python benchmarks/container.py                        # warm: cached base image
    .venv/bin/python benchmarks/container.py --cold --compressed --output benchmarks/results/container.json

`--cold` first deletes the cached base tarball and image, debootstrap's package cache and the
wheelhouse, as on a new machine (pip's own cache stays: in CI the venv's install fills it).
Needs root, podman, buildah, runc and debootstrap (Debian: apt-get install podman buildah
debootstrap runc uidmap). CACHE: $KUBRIC_GEN_CONTAINER_CACHE, else
$XDG_CACHE_HOME/kubric_gen/container (~/.cache/kubric_gen/container).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
INSTALL_SH = ROOT / "docker" / "install.sh"
TEST_WORLDS = ROOT / "tests" / "worlds"
BASE_TAG = "docker.io/library/debian:bookworm-slim"  # the Dockerfile's default BASE_IMAGE
TEST_IMAGE = "localhost/kubric-gen-test:cpu"  # the image tests/test_container.py builds and runs
SUITE = "bookworm"
BASE_RECIPE = 1  # bump when ensure_base() builds the base differently
BASE_LABEL = "kubric_gen.container-base"
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""
# What debian:bookworm-slim leaves out (its dpkg path-excludes), removed from the base too.
SLIM_TRIM = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/groff",
             "usr/share/lintian", "var/cache/apt", "var/lib/apt/lists")

Log = Callable[[str], None]


class Unavailable(RuntimeError):
    """The container tools cannot run here; the message says why."""


def cache_dir() -> Path:
    root = os.environ.get("KUBRIC_GEN_CONTAINER_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubric_gen" / "container"


def dockerfile_arg(name: str, dockerfile: Path = DOCKERFILE) -> str:
    """The default value of `ARG name=value` in the Dockerfile."""
    match = re.search(rf"^ARG {name}=(\S+)$", dockerfile.read_text(), re.M)
    if not match:
        raise ValueError(f"{dockerfile} has no ARG {name}=...")
    return match.group(1).strip('"')


def base_packages(dockerfile: Path = DOCKERFILE) -> list[str]:
    """The Debian packages of the Dockerfile's first RUN (`for p in ...; do`)."""
    text = dockerfile.read_text().replace("\\\n", " ")
    match = re.search(r"for p in (.*?); do", text)
    if not match:
        raise ValueError(f"{dockerfile}: no `for p in PACKAGES; do` in the apt step")
    return match.group(1).split()


@dataclass
class Podman:
    """podman with a store of its own under the cache folder."""

    store: Path
    runroot: Path
    conf: Path

    def command(self, *args: str) -> list[str]:
        return ["podman", "--root", str(self.store), "--runroot", str(self.runroot), *args]

    def run(self, *args: str, timeout: float = 600, check: bool = True, nice: int = 0) -> subprocess.CompletedProcess:
        """podman ARGS; `nice` lowers the priority of podman and what it starts (a build's steps)."""
        env = {**os.environ, "CONTAINERS_CONF": str(self.conf)}
        proc = subprocess.run(self.command(*args), env=env, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=(lambda: os.nice(nice)) if nice else None)
        if check and proc.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args[:3])} ... failed ({proc.returncode}):\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def images(self) -> list[tuple[str, str]]:
        """(ID, repository:tag) of every image, intermediate ones included."""
        out = self.run("images", "--all", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").stdout
        return [(line.split()[0], line.split()[1]) for line in out.splitlines() if line.strip()]

    def image_size(self, tag: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())

    def label(self, tag: str, name: str) -> str | None:
        proc = self.run("image", "inspect", "--format", f'{{{{index .Labels "{name}"}}}}', tag, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def remove_images_except(self, *keep: str) -> None:
        """Remove every container and every image but `keep` (and what they are made of)."""
        self.run("rm", "--all", "--force", check=False)
        images = self.images()
        kept = {image_id for image_id, name in images if name in keep}
        doomed = sorted({image_id for image_id, _ in images if image_id not in kept})
        if doomed:
            self.run("rmi", "--force", *doomed, check=False)
        self.run("image", "prune", "--force", check=False)

    def prune(self) -> None:
        """Remove every container, and every image that no tag keeps (earlier builds' layers);
        the tagged images stay, and with them the layer cache of the next build."""
        self.run("rm", "--all", "--force", check=False)
        self.run("image", "prune", "--force", check=False)


def podman(cache: Path | None = None) -> Podman:
    """A working podman, or Unavailable saying what is missing."""
    if shutil.which("podman") is None:
        raise Unavailable("podman is not installed (Debian: apt-get install podman buildah debootstrap runc uidmap)")
    if os.geteuid() != 0:
        raise Unavailable("the container tests need root (debootstrap, and podman's store of their own)")
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    conf = cache / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    pm = Podman(cache / "storage", Path(tempfile.gettempdir()) / f"kubric_gen-podman-{os.getuid()}", conf)
    proc = pm.run("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=120, check=False)
    if proc.returncode != 0:
        raise Unavailable(f"podman cannot run here: {(proc.stderr or proc.stdout).strip()[-500:]}")
    return pm


def base_key(packages: Sequence[str], mirror: str) -> str:
    recipe = {"recipe": BASE_RECIPE, "suite": SUITE, "variant": "minbase", "packages": sorted(packages),
              "mirror": mirror, "trim": SLIM_TRIM}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def ensure_base(pm: Podman, cache: Path | None = None, log: Log = print) -> dict:
    """Make BASE_TAG in pm's store: debootstrap (unless cached), tar, import (unless there)."""
    cache = cache or cache_dir()
    mirror = os.environ.get("KUBRIC_GEN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    packages = base_packages()
    key = base_key(packages, mirror)
    tarball = cache / f"base-{SUITE}-{key}.tar"
    timings: dict = {"key": key, "packages": packages}
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            raise Unavailable("debootstrap is not installed (Debian: apt-get install debootstrap)")
        for old in cache.glob(f"base-{SUITE}-*.tar"):
            old.unlink()
        debs = cache / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix="rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            log(f"debootstrap {SUITE} ({len(packages)} packages) ...")
            t0 = time.perf_counter()
            proc = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
                                   f"--cache-dir={debs}", SUITE, str(rootfs), mirror],
                                  capture_output=True, text=True, timeout=1200)
            if proc.returncode != 0:
                raise RuntimeError(f"debootstrap failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                                   f"{proc.stderr[-2000:]}")
            timings["debootstrap_s"] = time.perf_counter() - t0
            for sub in SLIM_TRIM:
                for entry in (rootfs / sub).glob("*"):
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
            t0 = time.perf_counter()
            partial = tarball.with_suffix(".tar.partial")
            subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
            partial.rename(tarball)
            timings["tar_s"] = time.perf_counter() - t0
    timings["tarball_cached"] = "debootstrap_s" not in timings
    timings["tarball_bytes"] = tarball.stat().st_size
    if pm.label(BASE_TAG, BASE_LABEL) == key:
        timings["imported"] = False
        return timings
    t0 = time.perf_counter()
    pm.run("import", "--change", f"LABEL {BASE_LABEL}={key}", "--change", 'CMD ["bash"]', str(tarball), BASE_TAG)
    timings["import_s"] = time.perf_counter() - t0
    timings["imported"] = True
    return timings


def fill_wheelhouse(cache: Path | None = None, python: str = sys.executable, extras: str = "dask") -> dict:
    """Wheels of what the image installs, for the image's Python (3.11 like this one)."""
    wheels = (cache or cache_dir()) / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)  # exactly this resolution's wheels; pip's cache keeps the rest
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", str(INSTALL_SH), "--python", python, "--extras", extras,
                           "--beam-version", dockerfile_arg("BEAM_VERSION"), "--fill-wheelhouse", str(wheels),
                           "--quiet", str(ROOT)], capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(f"install.sh --fill-wheelhouse failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return {"path": str(wheels), "seconds": time.perf_counter() - t0, "wheels": len(list(wheels.glob("*.whl")))}


def build(pm: Podman, tag: str, *, dockerfile: Path = DOCKERFILE, target: str | None = None,
          build_args: dict[str, str] | None = None, wheelhouse: str | os.PathLike | None = None,
          timeout: float = 1200, context: Path = ROOT, nice: int = 0) -> float:
    """podman build from the repository root (or another context), no registry; returns the
    seconds it took. `nice`: the build's priority (the tests build beside other tests)."""
    args = ["build", "--pull=never", "-f", str(dockerfile), "-t", tag]
    if target:
        args += ["--target", target]
    # /srv and /mnt exist (empty) in Debian images: mounting there leaves nothing in the image.
    if wheelhouse:
        args += ["-v", f"{wheelhouse}:/srv:ro"]
    ca = next((Path(path) for path in CA_BUNDLES if os.path.isfile(path)), None)
    if ca:
        args += ["-v", f"{ca.parent}:/mnt:ro", "--build-arg", f"PIP_CERT=/mnt/{ca.name}"]
    for name, value in (build_args or {}).items():
        args += ["--build-arg", f"{name}={value}"]
    t0 = time.perf_counter()
    pm.run(*args, str(context), timeout=timeout, nice=nice)
    return time.perf_counter() - t0


def edited_context(folder: Path) -> Path:
    """A copy of the build context (the files the Dockerfile copies) with one line added to
    kubric_gen's code: what a commit that changes only code gives the layer cache."""
    context = folder / "context"
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "docker/install.sh", "docker/entrypoint.sh"):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, context / name)
    for name in ("kubric_gen", "worlds", "assets"):
        shutil.copytree(ROOT / name, context / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    with open(context / "kubric_gen" / "__init__.py", "a") as f:
        f.write("# an edit\n")
    return context


def run(pm: Podman, image: str, *args: str, mounts: Sequence[tuple[Path, str, str]] = (),
        options: Sequence[str] = (), timeout: float = 600, check: bool = False) -> subprocess.CompletedProcess:
    """podman run --rm --network=none IMAGE ARGS with (host, container, mode) bind mounts."""
    volumes = [item for host, inside, mode in mounts for item in ("-v", f"{host}:{inside}:{mode}")]
    return pm.run("run", "--rm", "--network=none", *volumes, *options, image, *args, timeout=timeout, check=check)


FIRST_FRAME = """
import json, sys, time
t_start = float(sys.argv[1])
from kubric_gen.generate import generate_scene
from kubric_gen.render.settings import RenderSettings
first = []
def progress(done, total):
    if not first:
        first.append(time.time())
generate_scene(sys.argv[2], 3, sys.argv[3], RenderSettings(device="cpu"), progress=progress)
print(json.dumps({"first_frame_s": first[0] - t_start, "scene_s": time.time() - t_start}))
"""


def first_frame(command: Sequence[str], env: dict | None = None) -> dict:
    """Run COMMAND (python -c FIRST_FRAME, WORLD, OUTPUT: the start time goes before WORLD)."""
    t0 = time.time()
    proc = subprocess.run([*command[:-2], f"{t0:.6f}", *command[-2:]], capture_output=True, text=True,
                          timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"first-frame run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.time() - t0
    return result


def compressed_size(pm: Podman, tag: str) -> int:
    """Bytes of `podman save IMAGE | gzip -6`: about what a registry stores and a worker pulls."""
    save = subprocess.Popen(pm.command("save", tag), stdout=subprocess.PIPE,
                            env={**os.environ, "CONTAINERS_CONF": str(pm.conf)})
    gzip = subprocess.run(["gzip", "-6"], stdin=save.stdout, stdout=subprocess.PIPE, check=True)
    save.stdout.close()
    if save.wait() != 0:
        raise RuntimeError(f"podman save {tag} failed")
    return len(gzip.stdout)


def benchmark(cold: bool, log: Log, compressed: bool = False) -> dict:
    cache = cache_dir()
    pm = podman(cache)
    result: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                "podman": pm.run("--version").stdout.strip()}}
    if cold:  # as on a new machine, but for pip's own cache
        for tarball in cache.glob(f"base-{SUITE}-*.tar"):
            tarball.unlink()
        shutil.rmtree(cache / "debs", ignore_errors=True)
        shutil.rmtree(cache / "wheels", ignore_errors=True)
        pm.remove_images_except()
    else:
        pm.remove_images_except(BASE_TAG)
    t0 = time.perf_counter()
    result["base"] = ensure_base(pm, cache, log)
    result["base"]["seconds"] = time.perf_counter() - t0
    result["base"]["image_bytes"] = pm.image_size(BASE_TAG)
    log("wheelhouse ...")
    result["wheelhouse"] = fill_wheelhouse(cache)
    tag = "localhost/kubric-gen-bench:cpu"
    log("build ...")
    result["build_s"] = build(pm, tag, wheelhouse=result["wheelhouse"]["path"])
    log("build again after a change to the code ...")
    with tempfile.TemporaryDirectory(prefix="kubric_gen-context-") as tmp:
        result["rebuild_after_code_change_s"] = build(pm, tag + "-edited", wheelhouse=result["wheelhouse"]["path"],
                                                      context=edited_context(Path(tmp)))
    result["image_bytes"] = pm.image_size(tag)
    result["image_added_bytes"] = result["image_bytes"] - result["base"]["image_bytes"]
    if compressed:
        log("podman save | gzip ...")
        result["image_gzip_bytes"] = compressed_size(pm, tag)
    with tempfile.TemporaryDirectory(prefix="kubric_gen-bench-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        mounts = [(TEST_WORLDS, "/worlds", "ro"), (out, "/out", "rw")]
        t0 = time.perf_counter()
        run(pm, tag, "true", check=True)
        result["container_start_s"] = time.perf_counter() - t0
        log("render ...")
        t0 = time.perf_counter()
        run(pm, tag, "render", "/worlds/one_cube.py", "--seed", "3", "--output", "/out/render", mounts=mounts,
            check=True)
        result["render_one_cube_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("kubric-gen")), "render", str(TEST_WORLDS / "one_cube.py"),
                        "--seed", "3", "--output", str(out / "host_render")], check=True, capture_output=True)
        result["host_render_one_cube_s"] = time.perf_counter() - t0
        podman_cmd = pm.command("run", "--rm", "--network=none", "-v", f"{TEST_WORLDS}:/worlds:ro",
                                "-v", f"{out}:/out:rw", tag, "python", "-c", FIRST_FRAME)
        result["first_frame"] = first_frame([*podman_cmd, "/worlds/one_cube.py", "/out/first_frame"],
                                            env={**os.environ, "CONTAINERS_CONF": str(pm.conf)})
        result["host_first_frame"] = first_frame([sys.executable, "-c", FIRST_FRAME, str(TEST_WORLDS / "one_cube.py"),
                                                  str(out / "host_first_frame")])
    result["render_ratio_container_vs_host"] = result["render_one_cube_s"] / result["host_render_one_cube_s"]
    result["first_frame_ratio_container_vs_host"] = (result["first_frame"]["first_frame_s"]
                                                     / result["host_first_frame"]["first_frame_s"])
    pm.remove_images_except(BASE_TAG)
    return result


def build_image(tag: str, nice: int = 0, log: Log = print) -> dict:
    """The base, the wheelhouse and docker/Dockerfile's default target as `tag`, each step timed;
    what tests/conftest.py starts in the background when a test session begins."""
    pm = podman()
    result: dict = {}
    t0 = time.perf_counter()
    result["base"] = ensure_base(pm, log=log)
    result["base_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result["wheelhouse"] = fill_wheelhouse()
    result["wheelhouse_s"] = time.perf_counter() - t0
    result["build_s"] = build(pm, tag, wheelhouse=result["wheelhouse"]["path"], nice=nice)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="rebuild the cached base image (debootstrap) first")
    parser.add_argument("--build-only", metavar="TAG", nargs="?", const=TEST_IMAGE,
                        help=f"only build the image as TAG (default {TEST_IMAGE}, the tests' image): base, "
                             f"wheelhouse, build; print the steps' timings")
    parser.add_argument("--nice", type=int, default=0, help="with --build-only: the build's priority")
    parser.add_argument("--compressed", action="store_true",
                        help="also measure the gzip-compressed image (podman save | gzip; ~2 minutes)")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    try:
        if args.build_only:
            result = build_image(args.build_only, args.nice, log)
        else:
            result = benchmark(args.cold, log=log, compressed=args.compressed)
    except Unavailable as e:
        print(f"container benchmark: {e}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
