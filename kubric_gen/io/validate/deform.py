"""Material points of the stored deformable meshes (deformations.npz), for the checks of view.py.

A pixel or track point on a deformable instance is found again by casting its ray against that
instance's stored mesh of the frame (float32 vertices, ray cast in float64): the hit's triangle
and barycentrics name a material point, which gives its position in any other frame and its
rest-shape position (what the object coordinates name).
"""

from __future__ import annotations

import numpy as np

from kubric_gen.io.reader import SceneDir


class Meshes:
    """The scene's deformable instances' meshes: by instance index k (metadata.json's order)."""

    def __init__(self, sd: SceneDir) -> None:
        stored = sd.deformations() or {}
        names = list(stored)
        self.of: dict[int, dict[str, np.ndarray]] = {}
        for k, inst in enumerate(sd.metadata["instances"]):
            index = inst.get("deformation_index")
            if index is not None and 0 <= int(index) < len(names):
                self.of[k] = stored[names[int(index)]]

    def hits(self, k: int, frame: int, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, ...]:
        """Where rays (n, 3) first meet instance k's mesh at `frame`, every other object ignored:
        (hit (n,) bool, face (n,), barycentrics (n, 2))."""
        import trimesh

        from kubric_gen.truth.raycast import Poses, SceneBVH

        mesh = self.of[k]
        surface = trimesh.Trimesh(np.asarray(mesh["vertices"][frame], dtype=np.float64), mesh["faces"], process=False)
        identity = Poses.of(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]), np.ones((1, 3)))
        found = SceneBVH([surface]).cast(identity, origins, directions)
        return found.object >= 0, found.face, found.bary

    def point(self, k: int, frame: int | None, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """The material points (face, bary) of instance k in the world at `frame`, or in the rest
        shape (None)."""
        mesh = self.of[k]
        vertices = mesh["rest_vertices"] if frame is None else mesh["vertices"][frame]
        corners = np.asarray(vertices, dtype=np.float64)[mesh["faces"][face]]
        u, v = bary[:, 0:1], bary[:, 1:2]
        return (1 - u - v) * corners[:, 0] + u * corners[:, 1] + v * corners[:, 2]
