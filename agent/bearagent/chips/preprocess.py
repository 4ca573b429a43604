"""Turn a decoded chip into network input, following the model card's `InputSpec`.

This is the one preprocessing rule of bearid: the agent applies it to every
chip, and `beartrain` applies the same function when it evaluates, so that a model
sees at the field box exactly what it was measured on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import cv2
import numpy as np

from bearagent.modelcard.schema import ColourOrder, InputSpec, Interpolation, ResizeRule

_CV2_INTERPOLATION: Final = {
    Interpolation.LINEAR: cv2.INTER_LINEAR,
    Interpolation.AREA: cv2.INTER_AREA,
    Interpolation.CUBIC: cv2.INTER_CUBIC,
    Interpolation.NEAREST: cv2.INTER_NEAREST,
}


def resize_chip(image_bgr: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize per `spec.resize`; returns the image and its (top, left) offset in the input.

    For ``letterbox`` the returned image is smaller than the input on one axis and
    the offset says where it goes; for the other rules it fills the input exactly.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image_bgr.shape}")
    h, w = image_bgr.shape[:2]
    out_h, out_w = spec.height, spec.width
    interp = _CV2_INTERPOLATION[spec.interpolation]
    if spec.resize is ResizeRule.STRETCH:
        return cv2.resize(image_bgr, (out_w, out_h), interpolation=interp), (0, 0)
    if spec.resize is ResizeRule.LETTERBOX:
        scale = min(out_h / h, out_w / w)
        new_h = min(out_h, max(1, round(h * scale)))
        new_w = min(out_w, max(1, round(w * scale)))
        resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=interp)
        return resized, ((out_h - new_h) // 2, (out_w - new_w) // 2)
    # CENTER_CROP: cover the target, then cut the overhang evenly.
    scale = max(out_h / h, out_w / w)
    new_h, new_w = max(out_h, math.ceil(h * scale)), max(out_w, math.ceil(w * scale))
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=interp)
    top, left = (new_h - out_h) // 2, (new_w - out_w) // 2
    return resized[top : top + out_h, left : left + out_w], (0, 0)


def preprocess(image_bgr: np.ndarray, spec: InputSpec) -> np.ndarray:
    """One chip (H, W, 3) uint8 BGR -> (3, height, width) float32, normalised per `spec`.

    Order: resize (in BGR), reorder channels, scale to 0-1, subtract mean, divide by
    std, HWC -> CHW. Letterbox padding is zero after normalisation (the mean colour).
    """
    resized, (top, left) = resize_chip(image_bgr, spec)
    if spec.colour_order is ColourOrder.RGB:
        resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    # (x / 255 - mean) / std as one multiply-add per element, written straight into CHW.
    std = np.asarray(spec.std, dtype=np.float32)
    scale = (1.0 / (255.0 * std)).astype(np.float32)[:, None, None]
    offset = (-np.asarray(spec.mean, dtype=np.float32) / std)[:, None, None]
    out = np.zeros((3, spec.height, spec.width), dtype=np.float32)
    region = out[:, top : top + resized.shape[0], left : left + resized.shape[1]]
    np.multiply(resized.transpose(2, 0, 1), scale, out=region)
    region += offset
    return out


def preprocess_batch(images_bgr: Sequence[np.ndarray], spec: InputSpec) -> np.ndarray:
    """Several chips -> one (N, 3, height, width) float32 batch."""
    batch = np.empty((len(images_bgr), 3, spec.height, spec.width), dtype=np.float32)
    for i, image in enumerate(images_bgr):
        batch[i] = preprocess(image, spec)
    return batch
