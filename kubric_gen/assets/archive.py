"""Safe extraction of asset archives (.zip, .tar, .tar.gz/.tgz, .tar.bz2, .tar.xz).

Every member is checked before anything is written: an absolute path, a '..'
component, a drive letter, a link (symbolic or hard) whose target leaves the target
folder, a device or FIFO member all reject the whole archive with an `AssetError`
naming the archive and the member. Extraction goes to a temporary folder beside the
target and is renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path

from kubric_gen.errors import AssetError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def is_archive(name: str | os.PathLike) -> bool:
    return os.fspath(name).lower().endswith(ARCHIVE_SUFFIXES)


def _member_path(archive: str, name: str) -> str:
    """The normalised relative path of a member; AssetError if it would leave the target."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or not clean.strip("/"):
        raise AssetError(f"{archive}: member {name!r} has an absolute path; refusing to extract the archive")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise AssetError(f"{archive}: member {name!r} contains '..' (a path escape); refusing to extract the archive")
    return "/".join(parts)


def _check_link(archive: str, member: str, target: str) -> None:
    """A link at `member` pointing at `target` must stay inside the extraction folder."""
    if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        raise AssetError(f"{archive}: link {member!r} points to the absolute path {target!r}; "
                         "refusing to extract the archive")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member), target))
    if resolved == ".." or resolved.startswith("../"):
        raise AssetError(f"{archive}: link {member!r} points outside the target folder ({target!r}); "
                         "refusing to extract the archive")


def _check_zip(path: str, zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        name = _member_path(path, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            target = zf.read(info).decode("utf-8", "replace")
            _check_link(path, name, target)
            raise AssetError(f"{path}: member {info.filename!r} is a symbolic link; links in zip archives "
                             "are not supported")


def _check_tar(path: str, tf: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = tf.getmembers()
    for m in members:
        name = _member_path(path, m.name)
        if m.issym():
            _check_link(path, name, m.linkname)
        elif m.islnk():
            _member_path(path, m.linkname)  # hard link targets are archive paths
        elif not (m.isfile() or m.isdir()):
            raise AssetError(f"{path}: member {m.name!r} is a device or FIFO; refusing to extract the archive")
    return members


def extract_archive(path: str | os.PathLike, target: str | os.PathLike) -> list[str]:
    """Extract the archive `path` into the folder `target` (created; must not exist or be empty).

    Returns the extracted files' paths relative to `target`. Raises `AssetError` for an
    unreadable archive or an unsafe member, and then writes nothing.
    """
    path, target = os.fspath(path), Path(target)
    if not os.path.isfile(path):
        raise AssetError(f"{path}: archive not found")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AssetError(f"{target}: extraction target exists and is not an empty folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.extract-"))
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                _check_zip(path, zf)
                zf.extractall(tmp)
        else:
            try:
                tf = tarfile.open(path, "r:*")
            except (tarfile.TarError, OSError) as e:
                raise AssetError(f"{path}: not a zip or tar archive ({e})") from None
            with tf:
                members = _check_tar(path, tf)
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - Python < 3.11.4; members were checked above
                    tf.extractall(tmp, members=members)
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file() or p.is_symlink())
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
        return files
    except tarfile.FilterError as e:  # the standard library's own checks, as a second line
        raise AssetError(f"{path}: unsafe member ({e}); refusing to extract the archive") from None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise AssetError(f"{path}: damaged archive ({type(e).__name__}: {e})") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
