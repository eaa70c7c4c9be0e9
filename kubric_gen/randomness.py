"""Seeded samplers for worlds. Each takes an explicit `numpy.random.Generator`;
nothing here touches global random state."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from kubric_gen import geometry

T = TypeVar("T")


def make_rng(seed: int) -> np.random.Generator:
    """The generator a world receives for scene `seed` (seed 0 is a seed)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed)))


def random_rotation(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A uniformly distributed rotation (w, x, y, z), w >= 0."""
    q = rng.normal(size=4)
    while np.linalg.norm(q) < 1e-8:  # practically never
        q = rng.normal(size=4)
    # 4 floats: tuple() of a generator has no fixed length for mypy
    return tuple(float(v) for v in geometry.quat_normalize(q))  # type: ignore[return-value]


def random_z_rotation(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A rotation about the world Z axis by a uniform angle."""
    # 4 floats: tuple() of a generator has no fixed length for mypy
    return tuple(float(v) for v in geometry.quat_from_axis_angle((0, 0, 1), rng.uniform(0, 2 * np.pi)))  # type: ignore[return-value]


def point_in_box(rng: np.random.Generator, low: Sequence[float], high: Sequence[float]) -> tuple[float, float, float]:
    """A uniform point in the axis-aligned box [low, high]."""
    # 3 floats: tuple() of a generator has no fixed length for mypy
    return tuple(float(v) for v in rng.uniform(low, high))  # type: ignore[return-value]


def point_in_half_sphere_shell(rng: np.random.Generator, inner_radius: float, outer_radius: float,
                               offset: Sequence[float] = (0.0, 0.0, 0.0)) -> tuple[float, float, float]:
    """A uniform point (by volume) in the upper (z >= 0) half of a spherical shell."""
    direction = rng.normal(size=3)
    while np.linalg.norm(direction) < 1e-8:
        direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    direction[2] = abs(direction[2])
    r3 = rng.uniform(inner_radius ** 3, outer_radius ** 3)
    # 3 floats: tuple() of a generator has no fixed length for mypy
    return tuple(float(v) for v in direction * r3 ** (1 / 3) + np.asarray(offset, dtype=float))  # type: ignore[return-value]


def random_hue_color(rng: np.random.Generator, saturation: float = 1.0,
                     value: float = 1.0) -> tuple[float, float, float]:
    """An RGB colour of uniformly random hue."""
    # 3 floats: tuple() of a generator has no fixed length for mypy
    return tuple(float(v) for v in colorsys.hsv_to_rgb(rng.uniform(), saturation, value))  # type: ignore[return-value]


def choice(rng: np.random.Generator, options: Sequence[T], weights: Sequence[float] | None = None) -> T:
    """One of `options`, optionally with (unnormalised) weights."""
    if len(options) == 0:
        raise ValueError("choice from an empty sequence")
    p = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(options),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be non-negative, one per option, not all zero")
        p = w / w.sum()
    return options[int(rng.choice(len(options), p=p))]
