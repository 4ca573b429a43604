"""From a detected box to a chip: a crop with a margin, a minimum size and a blur filter.

Sharpness is the variance of the Laplacian of the crop in grey, measured after
scaling the crop to `SHARPNESS_SIDE` pixels on its short side, so one threshold
means the same for a 40 px and a 400 px face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

#: Short side (pixels) a crop is scaled to before its sharpness is measured.
SHARPNESS_SIDE = 64

Refusal = Literal["too_small", "blurred"]


@dataclass(frozen=True)
class CropRules:
    """How boxes become chips."""

    margin: float = 0.15  # share of the box's side added on each side
    square: bool = True  # widen the shorter side first, so chips are square
    min_size_px: int = 32  # a box narrower or lower than this (frame pixels) makes no chip
    min_sharpness: float = 0.0  # variance of the Laplacian at SHARPNESS_SIDE px; 0: no filter


@dataclass(frozen=True)
class Chip:
    """An accepted crop: its pixels, where it lies in the frame, and the detection."""

    image: np.ndarray  # BGR uint8
    box_xywh: tuple[float, float, float, float]  # the detected box (no margin), frame pixels
    score: float
    sharpness: float


def crop_rect(
    box_xyxy: np.ndarray, rules: CropRules, frame_w: int, frame_h: int
) -> tuple[int, int, int, int]:
    """The crop (x1, y1, x2, y2) around a box: squared, with the margin, inside the frame."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    if rules.square:
        w = h = max(w, h)
    w, h = w * (1 + 2 * rules.margin), h * (1 + 2 * rules.margin)
    left, top = max(0, round(cx - w / 2)), max(0, round(cy - h / 2))
    right, bottom = min(frame_w, round(cx + w / 2)), min(frame_h, round(cy + h / 2))
    return left, top, max(left + 1, right), max(top + 1, bottom)


def sharpness(image_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the image in grey, at `SHARPNESS_SIDE` px short side."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    scale = SHARPNESS_SIDE / min(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def make_chip(
    frame_bgr: np.ndarray, box_xyxy: np.ndarray, score: float, rules: CropRules
) -> Chip | Refusal:
    """The chip of one detected box, or why the box makes none."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    if min(x2 - x1, y2 - y1) < rules.min_size_px:
        return "too_small"
    h, w = frame_bgr.shape[:2]
    left, top, right, bottom = crop_rect(box_xyxy, rules, w, h)
    image = np.ascontiguousarray(frame_bgr[top:bottom, left:right])
    sharp = sharpness(image)
    if sharp < rules.min_sharpness:
        return "blurred"
    box = (round(x1, 1), round(y1, 1), round(x2 - x1, 1), round(y2 - y1, 1))
    return Chip(image, box, float(score), sharp)
