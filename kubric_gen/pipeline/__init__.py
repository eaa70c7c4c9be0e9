"""Many scenes with Apache Beam: `kubric-gen run` (see docs/pipeline.md).

- `cli`: the `run` subcommand's options (`add_run_parser`) and their `RunOptions` (`run_options`).
- `driver`: `drive(RunOptions)`: validation, skipping complete scenes, the Beam pipeline, `_run.json`.
- `transforms`: the Beam transforms (`GenerateScenes`; apache_beam through `kubric_gen.beam`, lazily).
- `task`: one scene as a worker does it (`process_scene`): skip / generate in a child process /
  retry / status record.
- `isolation`: the child process that generates a scene (`serve_request`), and its parent-side
  handles (`ChildProcess`, `IsolatedScenes`).
- `runs`: the registry of runs sharing an output (`_runs/`).
- `outputs`: local directories and fsspec URLs: completeness, leftovers, status records.
- `progress`: the driver's progress bar / log lines.

Importing this package imports neither apache_beam nor bpy.
"""

from kubric_gen.pipeline.outputs import COMPLETE_MARKER, RUN_FILE, STATUS_DIR, open_output, scene_name, seed_of

__all__ = ["COMPLETE_MARKER", "RUN_FILE", "STATUS_DIR", "open_output", "scene_name", "seed_of"]
