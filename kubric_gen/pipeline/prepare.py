"""Preparing a world's asset libraries once before a run, in a child process.

The driver of `kubric-gen run` wants every asset file made once, not by each worker at the
same time. Finding out which libraries a world uses means building one of its scenes, which
runs the world's code; that code may segfault, `os._exit`, or loop forever, so it runs in a
child process (`isolation.ChildProcess`, with the run's `--scene-timeout`), never in the
driver. Two requests go to the same child: `build` (build the scene of one seed, answer the
libraries it used and how many of their assets are unprepared) and `libraries` (prepare
them; our code, without a time limit). `serve(request)` answers them in the child.
"""

from __future__ import annotations

import time
from typing import Any


def serve(request: dict[str, Any], world_ref: str) -> dict[str, Any]:
    """In the child: the `build` or `libraries` stage of a prepare request."""
    from kubric_gen.assets.library import used_libraries

    if request.get("stage") == "build":
        from kubric_gen.world import build_scene, load_world, resolve_config

        world = load_world(world_ref)
        config = resolve_config(world, request.get("overrides") or {})
        used_libraries(reset=True)
        build_scene(world, int(request["seed"]), config)
        return {"libraries": [{"name": lib.name, "unprepared": len(lib.unprepared())} for lib in used_libraries()]}
    prepared = []
    for library in used_libraries():
        start = time.perf_counter()
        if library.unprepared():
            library.prepare()
            prepared.append({"name": library.name, "seconds": time.perf_counter() - start})
    return {"prepared": prepared}
