"""Reading and writing scene directories (MOVi layout)."""

from kubric_gen.io.scene_dir import atomic_directory, read_metadata, read_rgba, write_scene

__all__ = ["atomic_directory", "read_metadata", "read_rgba", "write_scene"]
