"""Where kubric_gen caches derived files (VHACD decompositions, asset libraries' meshes and
downloads): one place, below physics and assets, which both use it."""

from __future__ import annotations

import os


def cache_dir() -> str:
    """$KUBRIC_GEN_CACHE, else $XDG_CACHE_HOME/kubric_gen (~/.cache/kubric_gen)."""
    if os.environ.get("KUBRIC_GEN_CACHE"):
        return os.environ["KUBRIC_GEN_CACHE"]
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kubric_gen")
