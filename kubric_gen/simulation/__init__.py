"""Simulation: a scene's objects moved through time with PyBullet (`physics`), recorded as
a `Trajectory` of per-frame poses, velocities and collisions (`trajectory`)."""

from kubric_gen.simulation.physics import place_without_overlap, settle, simulate
from kubric_gen.simulation.trajectory import Collision, Trajectory

__all__ = ["Collision", "Trajectory", "place_without_overlap", "settle", "simulate"]
