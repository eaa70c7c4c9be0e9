"""Checks made before any expensive work: can the output be written, is there room for it,
is there memory for the resolution, is the GPU asked for there. Each failure is a
`ConfigError` naming the option and the value, so commands stop with one line and exit 2
before simulating, rendering or starting workers.

The estimates are deliberately rough (measured on MOVi-A scenes, see the constants); they
exist to refuse what cannot work (a 100000x100000 frame, a full disk), not to plan.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kubric_gen.errors import ConfigError

# memory per pixel: all frames' ground-truth layers held at once (~60 B per pixel and frame:
# float depth, normals, object coordinates, flows, ids, masks) plus Cycles' buffers (~200 B)
TRUTH_BYTES_PER_PIXEL_FRAME = 60
RENDER_BYTES_PER_PIXEL = 200
INTRINSICS_BYTES_PER_PIXEL_FRAME = 60  # --intrinsics: five float32 RGB images per frame until written
BASE_PROCESS_BYTES = 700 * 2 ** 20  # bpy, pybullet, embree and Python in a render process
# a scene directory on disk: measured 23 B per pixel and frame on the demo's MOVi-A scenes (PNG, TIFF,
# JSON, scene flow, amodal masks); intrinsic_images.npz adds 8-10 (benchmarks/README.md)
DISK_BYTES_PER_PIXEL_FRAME = 24
INTRINSICS_DISK_BYTES_PER_PIXEL_FRAME = 10
GIB = 2 ** 30


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def scene_memory(resolution: tuple[int, int], num_frames: int, cameras: int = 1, intrinsics: bool = False) -> int:
    """Bytes a render process needs: every camera's ground truth (and intrinsic images) is held
    until all are rendered (several cameras share one instance order), plus the cross-view
    occlusion masks (1 B per pixel, frame and camera pair); Cycles renders one camera at a time."""
    width, height = resolution
    pixels = width * height
    per_frame = TRUTH_BYTES_PER_PIXEL_FRAME + (INTRINSICS_BYTES_PER_PIXEL_FRAME if intrinsics else 0)
    truth = cameras * num_frames * per_frame + (cameras ** 2 if cameras > 1 else 0) * num_frames
    return BASE_PROCESS_BYTES + pixels * (truth + RENDER_BYTES_PER_PIXEL)


def check_memory(resolution: tuple[int, int], num_frames: int, processes: int = 1, cameras: int = 1,
                 intrinsics: bool = False) -> None:
    """ConfigError when `processes` scenes of this size cannot fit in the available memory."""
    need = scene_memory(resolution, num_frames, cameras, intrinsics) * max(1, processes)
    have = available_memory()
    if have is not None and need > have:
        width, height = resolution
        per = f" ({processes} workers)" if processes > 1 else ""
        seen = f" seen by {cameras} cameras" if cameras > 1 else ""
        raise ConfigError(f"--resolution: {width}x{height} with {num_frames} frames{seen} needs about {_gib(need)} "
                          f"of memory{per}, this machine has {_gib(have)} available; use a smaller resolution, fewer "
                          f"frames{', fewer cameras' if cameras > 1 else ''} or fewer workers")


def check_free_space(directory: str | os.PathLike, resolution: tuple[int, int], num_frames: int,
                     num_scenes: int = 1, option: str = "--output", cameras: int = 1, intrinsics: bool = False) -> None:
    """ConfigError when the file system of `directory` (or its nearest existing parent) has
    less free space than the scenes (with `cameras` views each, and intrinsic images when asked
    for) are expected to take."""
    width, height = resolution
    per = DISK_BYTES_PER_PIXEL_FRAME + (INTRINSICS_DISK_BYTES_PER_PIXEL_FRAME if intrinsics else 0)
    need = num_scenes * cameras * width * height * num_frames * per
    path = Path(directory).expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return
    if need > free:
        raise ConfigError(f"{option}: {num_scenes} scene(s) of {width}x{height}x{num_frames} need about {_gib(need)}, "
                          f"{path} has {_gib(free)} free")


def check_writable_target(target: str | os.PathLike, option: str = "--output", overwrite: bool = False) -> Path:
    """A directory to be created at `target`: its nearest existing parent must be a writable
    directory; an existing target must be a directory that `overwrite` allows replacing (never
    the working directory or one of its parents)."""
    path = Path(target).expanduser()
    absolute = path.absolute()
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise ConfigError(f"{option}: {target} exists and is not a directory")
        if not overwrite:
            raise ConfigError(f"{option}: {target} already exists (pass --overwrite to replace it)")
        cwd = Path.cwd().resolve()
        if path.resolve() == cwd or path.resolve() in cwd.parents:
            raise ConfigError(f"{option}: {target} is the working directory or holds it; refusing to replace it")
    _check_creatable(absolute, target, option)
    return absolute


def _check_creatable(path: Path, shown: str | os.PathLike, option: str) -> None:
    """The nearest existing parent of `path` must be a writable directory."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option}: cannot create {shown}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option}: cannot create {shown}: {parent} is not writable")


def check_writable_dir(directory: str | os.PathLike, option: str) -> Path:
    """A directory that is written into: an existing one must be a writable directory, a
    missing one must be creatable (its nearest existing parent a writable directory)."""
    path = Path(directory).expanduser().absolute()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{option}: {directory} is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{option}: {directory} is not writable")
        return path
    _check_creatable(path, directory, option)
    return path


def nvidia_driver_present() -> bool:
    """Whether this machine has an NVIDIA driver (CUDA and OptiX need one)."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def check_device(device: str, option: str = "--device") -> None:
    """ConfigError when a GPU kind is asked for on a machine without an NVIDIA driver."""
    if device in ("cuda", "optix") and not nvidia_driver_present():
        raise ConfigError(f"{option}: {device} needs an NVIDIA GPU, and this machine has no NVIDIA driver "
                          f"(/proc/driver/nvidia is missing); use --device auto or cpu")


def check_scene(config: dict, device: str, workers: int = 1, intrinsics: bool = False) -> None:
    """Before any scene is built: memory for `workers` scenes at once at the config's
    resolution (with the intrinsic images when asked for), and the GPU asked for."""
    resolution = tuple(config.get("resolution") or (256, 256))
    if len(resolution) == 2 and all(isinstance(v, int) and v > 0 for v in resolution):
        check_memory(resolution, int(config.get("num_frames") or 24), workers, intrinsics=intrinsics)
    check_device(device)
