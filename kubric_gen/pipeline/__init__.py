"""Many scenes with Apache Beam: `kubric-gen run` (see docs/pipeline.md).

- `cli`: the `run` subcommand (`add_commands`) and its options.
- `run`: the driver: validation, skipping complete scenes, the Beam pipeline, `_run.json`.
- `transforms`: the Beam transforms (the only module importing apache_beam; imported lazily).
- `task`: one scene as a worker does it: skip / render in a child process / retry / status record.
- `child`: the child process that renders a scene, and its parent-side handle.
- `outputs`: local directories and fsspec URLs: completeness, leftovers, status records.
- `progress`: the driver's progress bar / log lines.

Importing this package imports neither apache_beam nor bpy.
"""

from kubric_gen.pipeline.outputs import COMPLETE_MARKER, RUN_FILE, STATUS_DIR, open_output, scene_name, seed_of

__all__ = ["COMPLETE_MARKER", "RUN_FILE", "STATUS_DIR", "open_output", "scene_name", "seed_of"]
