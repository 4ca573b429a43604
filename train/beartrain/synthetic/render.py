"""Render a synthetic face chip: the individual's face, posed and spoiled like a camera would.

`render_face` draws the canonical face (identity only); `render_chip` places it
on a background with a pose (rotation, scale, shift) and adds the per-image
nuisance of camera traps: lighting and colour cast, infrared night frames, blur,
sensor noise and occlusion by a branch or grass.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from beartrain.synthetic.appearance import Appearance

_CANVAS = 256  # canonical face resolution; chips are resampled from it


def _pt(x: float, y: float) -> tuple[int, int]:
    """Face coordinates in [-1, 1] -> canvas pixels."""
    half = _CANVAS / 2
    return round(half + x * half * 0.95), round(half + y * half * 0.95)


def _axes(rx: float, ry: float) -> tuple[int, int]:
    half = _CANVAS / 2 * 0.95
    return max(1, round(rx * half)), max(1, round(ry * half))


def render_face(a: Appearance) -> tuple[np.ndarray, np.ndarray]:
    """The canonical face of `a`: a (256, 256, 3) BGR image and its (256, 256) float mask."""
    face = np.zeros((_CANVAS, _CANVAS, 3), np.uint8)
    mask = np.zeros((_CANVAS, _CANVAS), np.uint8)
    ear_dark = tuple(int(c * 0.6) for c in a.fur)
    for side in (-1, 1):
        centre = _pt(side * a.ear_spread, -a.head_ry + 0.05)
        for img, colour in ((face, a.fur), (mask, 255)):
            cv2.circle(img, centre, _axes(a.ear_size, 0)[0], colour, -1, cv2.LINE_AA)
        cv2.circle(face, centre, _axes(a.ear_size * 0.55, 0)[0], ear_dark, -1, cv2.LINE_AA)
    for img, colour in ((face, a.fur), (mask, 255)):
        cv2.ellipse(
            img, _pt(0, 0.05), _axes(a.head_rx, a.head_ry), 0, 0, 360, colour, -1, cv2.LINE_AA
        )
    # Fur texture: fixed low-frequency pattern per individual, multiplied in.
    tex_rng = np.random.default_rng(a.texture_seed)
    texture = cv2.resize(tex_rng.normal(1.0, 0.12, (12, 12)).astype(np.float32), (_CANVAS, _CANVAS))
    face = np.clip(face.astype(np.float32) * texture[..., None], 0, 255).astype(np.uint8)
    for m in a.marks:
        cv2.ellipse(
            face, _pt(m.x, m.y), _axes(m.rx, m.ry), m.angle_deg, 0, 360, m.colour, -1, cv2.LINE_AA
        )
    cv2.ellipse(
        face,
        _pt(0, 0.35),
        _axes(a.muzzle_size, a.muzzle_size * 0.75),
        0,
        0,
        360,
        a.muzzle,
        -1,
        cv2.LINE_AA,
    )
    cv2.ellipse(face, _pt(0, 0.22), _axes(0.09, 0.06), 0, 0, 360, a.nose, -1, cv2.LINE_AA)
    for side in (-1, 1):
        eye = _pt(side * a.eye_spacing, a.eye_height)
        cv2.circle(face, eye, _axes(a.eye_size, 0)[0], (15, 15, 20), -1, cv2.LINE_AA)
        glint = (eye[0] + 2, eye[1] - 2)
        cv2.circle(
            face, glint, max(1, _axes(a.eye_size, 0)[0] // 3), (200, 200, 200), -1, cv2.LINE_AA
        )
    face[mask == 0] = 0
    return face, mask.astype(np.float32) / 255.0


@dataclass(frozen=True)
class Shot:
    """Per-image conditions: pose, light, and what spoils the picture."""

    angle_deg: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0  # in chip widths
    shift_y: float = 0.0
    gain: float = 1.0
    gamma: float = 1.0
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)  # B, G, R multipliers
    infrared: bool = False
    blur_sigma: float = 0.0
    noise_sigma: float = 0.0
    occlusion: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in [0, 1]
    background: tuple[int, int, int] = (60, 90, 70)
    background_seed: int = 0
    noise_seed: int = 0


def _background(shot: Shot, size: int) -> np.ndarray:
    rng = np.random.default_rng(shot.background_seed)
    # Mostly shared across channels (light and shadow), a little per channel (foliage).
    shade = rng.normal(1.0, 0.25, (6, 6, 1)) + rng.normal(0.0, 0.08, (6, 6, 3))
    noise: np.ndarray = cv2.resize(shade.astype(np.float32), (size, size))
    base = np.asarray(shot.background, np.float32)[None, None, :]
    background: np.ndarray = np.clip(base * noise, 0, 255)
    return background


def render_chip(face: np.ndarray, mask: np.ndarray, shot: Shot, size: int) -> np.ndarray:
    """Place a canonical face into a `size` x `size` chip under `shot`'s conditions (BGR uint8)."""
    zoom = size / _CANVAS * shot.scale
    matrix = cv2.getRotationMatrix2D((_CANVAS / 2, _CANVAS / 2), shot.angle_deg, zoom)
    matrix[0, 2] += size / 2 - _CANVAS / 2 + shot.shift_x * size
    matrix[1, 2] += size / 2 - _CANVAS / 2 + shot.shift_y * size
    warped = cv2.warpAffine(face, matrix, (size, size), flags=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.warpAffine(mask, matrix, (size, size), flags=cv2.INTER_LINEAR)[..., None]
    chip: np.ndarray = warped + (1 - alpha) * _background(shot, size)
    if shot.occlusion is not None:
        x0, y0, x1, y1 = (int(v * size) for v in shot.occlusion)
        cv2.line(chip, (x0, y0), (x1, y1), (30.0, 45.0, 35.0), max(2, size // 14), cv2.LINE_AA)
    chip = shot.gain * 255.0 * (np.clip(chip, 0, 255) / 255.0) ** shot.gamma
    if shot.infrared:
        grey = cv2.cvtColor(np.clip(chip, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)
        chip = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR).astype(np.float32)
    else:
        chip = chip * np.asarray(shot.cast, np.float32)[None, None, :]
    if shot.blur_sigma > 0:
        chip = cv2.GaussianBlur(chip, (0, 0), shot.blur_sigma)
    if shot.noise_sigma > 0:
        rng = np.random.default_rng(shot.noise_seed)
        chip = chip + rng.normal(0, shot.noise_sigma, chip.shape).astype(np.float32)
    return np.clip(chip, 0, 255).astype(np.uint8)
