"""Fetching manifests and asset files from URLs (fsspec), cached on local disk.

Any URL fsspec opens works (`gs://`, `s3://`, `https://`, `memory://`, ...) where the
user's environment has the filesystem package and can reach it. Fetched files are
cached under `kubric_gen.cache.cache_dir()/assets/remote/<hash of the library URL>/`
with their relative paths, written atomically, and never fetched twice; manifests are
fetched again on each load (falling back to the cached copy when the fetch fails).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from kubric_gen.errors import AssetError

log = logging.getLogger(__name__)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(source: str) -> bool:
    return bool(_URL.match(source)) and not source.startswith("file://")


def local_path(source: str) -> str:
    """A file:// URL as a local path (other sources unchanged)."""
    if source.startswith("file://"):
        return unquote(urlparse(source).path)
    return source


def assets_cache() -> Path:
    from kubric_gen.cache import cache_dir

    return Path(cache_dir()) / "assets"


def mirror_dir(root_url: str) -> Path:
    """The local folder mirroring the library at `root_url` (keyed by the URL)."""
    key = hashlib.sha256(root_url.rstrip("/").encode()).hexdigest()[:16]
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "_", root_url.rstrip("/").rsplit("/", 1)[-1])[:40]
    return assets_cache() / "remote" / f"{tail}-{key}"


def join(root_url: str, relative: str) -> str:
    return root_url.rstrip("/") + "/" + relative


def fetch(url: str, target: Path, refresh: bool = False) -> Path:
    """Copy `url` to the local file `target` (atomically) unless it is cached there already."""
    if target.exists() and not refresh:
        return target
    try:
        import fsspec
    except ImportError:
        raise AssetError(f"{url}: reading URLs needs the fsspec package (pip install fsspec)") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with fsspec.open(url, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
            except FileNotFoundError:
                raise AssetError(f"{url}: not found") from None
            except (ImportError, ValueError) as e:  # unknown protocol or its package missing
                raise AssetError(f"{url}: cannot open this URL ({e})") from None
            except OSError as e:
                raise AssetError(f"{url}: cannot fetch ({type(e).__name__}: {e})") from None
        os.replace(tmp, target)
        log.info("fetched %s -> %s", url, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def fetch_manifest(url: str) -> Path:
    """Fetch a manifest (always, so updates are seen); use the cached copy if the fetch fails."""
    root = url.rsplit("/", 1)[0]
    target = mirror_dir(root) / url.rsplit("/", 1)[1]
    try:
        return fetch(url, target, refresh=True)
    except AssetError as e:
        if target.exists():
            log.warning("%s; using the cached copy %s", e, target)
            return target
        raise


def fetch_archive(url: str) -> Path:
    """Fetch an archive once (cached by URL)."""
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", url.rsplit("/", 1)[-1])[-60:]
    return fetch(url, assets_cache() / "archives" / f"{key}-{name}")
