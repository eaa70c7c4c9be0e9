"""Reading and writing scene directories (MOVi layout): `format` names every file,
`layers` and `scene_dir` write them, `reader.SceneDir` reads them (ours and Kubric's)."""

from kubric_gen.io.layers import write_layers
from kubric_gen.io.reader import SceneDir, SceneDirError, read_float_layers, read_layers, read_tracks
from kubric_gen.io.scene_dir import atomic_directory, read_metadata, read_rgba, write_scene

__all__ = ["SceneDir", "SceneDirError", "atomic_directory", "read_float_layers", "read_layers", "read_metadata",
           "read_rgba", "read_tracks", "write_layers", "write_scene"]
