"""Deformable bodies in PyBullet's deformable world: load, anchor and read back their vertices.

physics.py owns the PyBullet client and hands it here. A deformable object becomes a
mass-spring soft body whose nodes are the object's own mesh vertices, in order: the mesh is
written to an OBJ file in the world frame (PyBullet's loader keeps the file's `v` lines as its
nodes and the first shape's triangles as its faces), so the vertices read back each frame are
the rendered mesh's, with no remapping.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from kubric_gen.scene import DeformableObject

UNSTABLE_STRETCH = 3.0  # an edge this many times its rest length: the mass-spring solver went unstable
SPARSE_SDF_VOXEL_SIZE = 0.25  # m: the grid PyBullet's deformable world uses for soft-rigid contacts


def start(p: ModuleType, client: int) -> None:
    """Turn the (still empty) world into PyBullet's deformable world."""
    p.resetSimulation(p.RESET_USE_DEFORMABLE_WORLD, physicsClientId=client)
    p.setPhysicsEngineParameter(sparseSdfVoxelSize=SPARSE_SDF_VOXEL_SIZE, physicsClientId=client)


def load(p: ModuleType, client: int, obj: DeformableObject, path: str, start_velocity: np.ndarray) -> int:
    """A soft body of `obj` at its initial pose, moving at `start_velocity`; its OBJ is written to `path`."""
    faces = np.asarray(obj.rest_mesh().faces) + 1
    with open(path, "w") as f:
        f.writelines(f"v {x!r} {y!r} {z!r}\n" for x, y, z in obj.posed_vertices(0).tolist())
        f.writelines(f"f {a} {b} {c}\n" for a, b, c in faces.tolist())
    body = p.loadSoftBody(path, mass=float(obj.mass or 0.0), useNeoHookean=0, useMassSpring=1, useBendingSprings=1,
                          springElasticStiffness=obj.stiffness, springDampingStiffness=obj.damping,
                          springBendingStiffness=obj.bending_stiffness, springDampingAllDirections=1,
                          useSelfCollision=int(obj.self_collision), frictionCoeff=obj.friction, useFaceContact=1,
                          collisionMargin=obj.collision_margin, physicsClientId=client)
    if any(start_velocity):
        p.resetBaseVelocity(body, list(start_velocity), [0.0, 0.0, 0.0], physicsClientId=client)
    return body


def anchor(p: ModuleType, client: int, body: int, obj: DeformableObject, bodies: dict[str, int]) -> None:
    """Pin `obj`'s pinned vertices in place and attach its attached ones to their rigid bodies."""
    for vertex in obj.pinned:
        p.createSoftBodyAnchor(body, vertex, -1, -1, physicsClientId=client)
    for vertex, name in obj.attached:
        p.createSoftBodyAnchor(body, vertex, bodies[name], -1, physicsClientId=client)


def vertices(p: ModuleType, client: int, body: int) -> np.ndarray:
    """The soft body's node positions (V, 3), in the object's vertex order."""
    _, points = p.getMeshData(body, -1, flags=p.MESH_DATA_SIMULATION_MESH, physicsClientId=client)
    return np.asarray(points, dtype=np.float64)


def stretch(obj: DeformableObject, vertices: np.ndarray) -> float:
    """The largest ratio of an edge's length in any frame (vertices (T, V, 3)) to its rest length."""
    mesh = obj.rest_mesh()
    edges = mesh.edges_unique
    rest = np.linalg.norm(np.diff(mesh.vertices[edges], axis=1)[:, 0] * np.asarray(obj.scale), axis=1)
    lengths = np.linalg.norm(np.diff(vertices[:, edges], axis=2)[:, :, 0], axis=-1)
    return float((lengths / np.maximum(rest, 1e-12)).max())


def before(obj: DeformableObject, start: np.ndarray, frame_time: float) -> np.ndarray:
    """The vertices one frame before the first: moved back at the initial velocity (pinned and
    attached vertices, which do not share it, stay)."""
    out = start - np.asarray(obj.velocity) * frame_time
    held = list(obj.pinned) + [v for v, _ in obj.attached]
    out[held] = start[held]
    return out
