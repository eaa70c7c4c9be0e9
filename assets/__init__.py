"""Shipped asset manifests (installed as the package `kubric_gen.assets.manifests`).

`kubasic.json` describes Kubric's basic shapes, whose meshes kubric_gen generates on
first use; `README.md` documents the manifest format. No code lives here.
"""
