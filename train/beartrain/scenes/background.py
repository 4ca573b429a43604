"""Camera-trap backgrounds: forest, meadow, rocks and snow, drawn from a seed.

Each is a few layers of smooth noise and shapes (trunks, grass blades, boulders)
in earthy colours, so that a detector cannot find faces by colour or texture
alone: fur-brown trunks, rocks and shadows are everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

KINDS = ("forest", "meadow", "rocks", "snow")


def smooth_noise(
    rng: np.random.Generator, h: int, w: int, cells: int, channels: int = 1
) -> np.ndarray:
    """Noise around 0 (std about 1) varying over about `cells` cells across the image."""
    gh, gw = max(2, cells * h // max(h, w)), max(2, cells * w // max(h, w))
    small = rng.normal(0.0, 1.0, (gh, gw, channels)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return big.reshape(h, w, channels)


def _base(rng: np.random.Generator, h: int, w: int, colour: tuple[int, int, int]) -> np.ndarray:
    shade = 1.0 + 0.25 * smooth_noise(rng, h, w, 5) + 0.08 * smooth_noise(rng, h, w, 24, 3)
    return np.clip(np.asarray(colour, np.float32) * shade, 0, 255)


def _forest(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    image = _base(rng, h, w, (40, 80, 60))
    for _ in range(int(rng.integers(3, 9))):
        x, width = int(rng.integers(0, w)), int(rng.integers(w // 40, w // 10))
        bark = tuple(int(v) for v in rng.integers((20, 35, 45), (70, 90, 110)))
        cv2.rectangle(image, (x, 0), (x + width, h), bark, -1)
    return image


def _meadow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    image = _base(rng, h, w, (50, 120, 90))
    horizon = int(h * rng.uniform(0.1, 0.4))
    image[:horizon] = _base(rng, horizon, w, (200, 170, 150))
    for _ in range(int(rng.integers(80, 200))):
        x, y = int(rng.integers(0, w)), int(rng.integers(horizon, h))
        length = int(rng.integers(h // 30, h // 8))
        tip = (x + int(rng.integers(-length // 3, length // 3 + 1)), y - length)
        colour = tuple(int(v) for v in rng.integers((30, 90, 60), (90, 170, 140)))
        cv2.line(image, (x, y), tip, colour, int(rng.integers(1, 3)), cv2.LINE_AA)
    return image


def _rocks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    image = _base(rng, h, w, (90, 100, 105))
    for _ in range(int(rng.integers(4, 12))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(w // 30, w // 6)), int(rng.integers(h // 30, h // 6)))
        grey = int(rng.integers(50, 170))
        colour = (grey, grey + int(rng.integers(-10, 10)), grey + int(rng.integers(0, 25)))
        cv2.ellipse(
            image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA
        )
    return image


def _snow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    image = _base(rng, h, w, (225, 220, 215))
    for _ in range(int(rng.integers(1, 5))):
        x, width = int(rng.integers(0, w)), int(rng.integers(w // 60, w // 15))
        cv2.rectangle(image, (x, 0), (x + width, h), (40, 45, 55), -1)
    return image


_DRAW: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "forest": _forest,
    "meadow": _meadow,
    "rocks": _rocks,
    "snow": _snow,
}


def draw_background(kind: str, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A (h, w, 3) float32 BGR background of `kind` (one of `KINDS`)."""
    return _DRAW[kind](rng, h, w)
