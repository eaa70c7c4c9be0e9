"""The asset library: manifests, asset sources, conversion and backgrounds.

- `AssetLibrary`: a manifest plus where its files live; `make(id, ...)` gives a
  `kubric_gen.MeshObject`. Built-in sources: `AssetLibrary.kubasic()` (Kubric's basic
  shapes, generated), `AssetLibrary.pybullet_data()` (pybullet_data's meshes),
  `AssetLibrary.load(path_or_url)` (any manifest, folder, archive or fsspec URL),
  `AssetLibrary.from_hdri_folder(folder)` (HDRI backgrounds).
- `convert_folder(src, out)`: any folder of meshes (e.g. Google Scanned Objects) into a library.
- `dome_mesh`, `make_dome`: an HDRI dome with a floor.
- `extract_archive`: safe archive extraction.

The manifest format is documented in `assets/README.md` and `docs/assets.md`.
Importing this package imports nothing heavy (no trimesh, pybullet or bpy): each name below
is imported from its module when first used, so `kubric-gen`, which registers the `assets`
commands, starts quickly.
"""

from typing import TYPE_CHECKING

from kubric_gen.lazy import lazy_exports

if TYPE_CHECKING:
    from kubric_gen.assets.archive import extract_archive
    from kubric_gen.assets.convert import ConvertResult, convert_folder, convert_mesh
    from kubric_gen.assets.dome import dome_mesh, make_dome
    from kubric_gen.assets.library import AssetLibrary
    from kubric_gen.assets.manifest import AssetEntry, Manifest, parse_manifest

__all__ = ["AssetEntry", "AssetLibrary", "ConvertResult", "Manifest", "convert_folder", "convert_mesh", "dome_mesh",
           "extract_archive", "make_dome", "parse_manifest"]
__getattr__ = lazy_exports(__name__, {
    "extract_archive": "kubric_gen.assets.archive", "ConvertResult": "kubric_gen.assets.convert",
    "convert_folder": "kubric_gen.assets.convert", "convert_mesh": "kubric_gen.assets.convert",
    "dome_mesh": "kubric_gen.assets.dome", "make_dome": "kubric_gen.assets.dome",
    "AssetLibrary": "kubric_gen.assets.library", "AssetEntry": "kubric_gen.assets.manifest",
    "Manifest": "kubric_gen.assets.manifest", "parse_manifest": "kubric_gen.assets.manifest"})
