"""Reading and writing scene directories (MOVi layout)."""

from kubric_gen.io.layers import read_float_layers, read_layers, read_tracks, write_layers
from kubric_gen.io.scene_dir import atomic_directory, read_metadata, read_rgba, write_scene

__all__ = ["atomic_directory", "read_float_layers", "read_layers", "read_metadata", "read_rgba", "read_tracks",
           "write_layers", "write_scene"]
