"""Synthetic individuals: a stable, learnable face appearance per individual.

Each individual is a set of drawing parameters in a canonical unit face frame
(x, y in [-1, 1], y down): fur colour, head shape, ears, eyes, muzzle, and a few
pale markings at fixed places. Everything derives from one seed per individual,
so adding individuals to a population never changes the existing ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BGR = tuple[int, int, int]


@dataclass(frozen=True)
class Mark:
    """A pale or dark patch of fur, fixed on the face (an ellipse in face coordinates)."""

    x: float
    y: float
    rx: float
    ry: float
    angle_deg: float
    colour: BGR


@dataclass(frozen=True)
class Appearance:
    """Everything that makes one synthetic individual recognisable."""

    individual: str
    fur: BGR
    muzzle: BGR
    nose: BGR
    head_rx: float
    head_ry: float
    ear_size: float
    ear_spread: float
    eye_spacing: float
    eye_height: float
    eye_size: float
    muzzle_size: float
    marks: tuple[Mark, ...]
    texture_seed: int


def _brown(rng: np.random.Generator) -> BGR:
    """A fur colour from blond to near-black brown (bears vary a lot)."""
    value = rng.uniform(35, 200)
    hue_shift = rng.uniform(-0.25, 0.25)
    r = value
    g = value * rng.uniform(0.55, 0.85)
    b = value * rng.uniform(0.25, 0.55) * (1 + hue_shift)
    return (int(np.clip(b, 0, 255)), int(np.clip(g, 0, 255)), int(np.clip(r, 0, 255)))


def _shade(colour: BGR, factor: float) -> BGR:
    b, g, r = (int(np.clip(c * factor, 0, 255)) for c in colour)
    return (b, g, r)


def make_appearance(individual: str, seed: np.random.SeedSequence) -> Appearance:
    """Draw one individual's appearance from its own seed."""
    rng = np.random.default_rng(seed)
    fur = _brown(rng)
    nose = int(rng.integers(10, 40))
    marks = []
    for _ in range(int(rng.integers(2, 5))):
        factor = rng.choice([rng.uniform(1.5, 2.3), rng.uniform(0.3, 0.6)])
        marks.append(
            Mark(
                x=float(rng.uniform(-0.6, 0.6)),
                y=float(rng.uniform(-0.7, 0.5)),
                rx=float(rng.uniform(0.08, 0.25)),
                ry=float(rng.uniform(0.05, 0.18)),
                angle_deg=float(rng.uniform(0, 180)),
                colour=_shade(fur, float(factor)),
            )
        )
    return Appearance(
        individual=individual,
        fur=fur,
        muzzle=_shade(fur, float(rng.uniform(1.2, 1.8))),
        nose=(nose, nose, nose),
        head_rx=float(rng.uniform(0.72, 0.92)),
        head_ry=float(rng.uniform(0.68, 0.88)),
        ear_size=float(rng.uniform(0.13, 0.26)),
        ear_spread=float(rng.uniform(0.45, 0.75)),
        eye_spacing=float(rng.uniform(0.22, 0.42)),
        eye_height=float(rng.uniform(-0.3, -0.05)),
        eye_size=float(rng.uniform(0.04, 0.08)),
        muzzle_size=float(rng.uniform(0.22, 0.38)),
        marks=tuple(marks),
        texture_seed=int(rng.integers(0, 2**31 - 1)),
    )
