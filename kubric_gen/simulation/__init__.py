"""Simulation: a scene's objects moved through time with PyBullet (`physics`), recorded as
a `Trajectory` of per-frame poses, velocities and collisions (`trajectory`).

`physics` (which imports trimesh and pybullet) is imported when one of its functions is
first used here, so importing `Trajectory` stays cheap."""

from typing import TYPE_CHECKING

from kubric_gen.lazy import lazy_exports
from kubric_gen.simulation.trajectory import Collision, Trajectory

if TYPE_CHECKING:
    from kubric_gen.simulation.physics import place_without_overlap, settle, simulate

__all__ = ["Collision", "Trajectory", "place_without_overlap", "settle", "simulate"]
__getattr__ = lazy_exports(__name__, {name: "kubric_gen.simulation.physics"
                                      for name in ("place_without_overlap", "settle", "simulate")})
