"""Simulation: a scene's objects moved through time with PyBullet (`physics`), recorded as
a `Trajectory` of per-frame poses, velocities and collisions (`trajectory`)."""

from kubric_gen.simulate.physics import place_without_overlap, settle, simulate
from kubric_gen.simulate.trajectory import Collision, Trajectory

__all__ = ["Collision", "Trajectory", "place_without_overlap", "settle", "simulate"]
