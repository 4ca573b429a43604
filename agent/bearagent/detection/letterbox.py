"""A frame to detector input and detector boxes back to frame pixels.

YOLO's own preprocessing: resize keeping the aspect ratio, pad the rest with grey
114 (centred), RGB, scaled to 0-1, NCHW. `Placement` remembers how the frame was
put into the input, so boxes found in the input map back to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bearagent.detection.card import DetectorInput


@dataclass(frozen=True)
class Placement:
    """Where the frame went in the input: input = frame * (scale_x, scale_y) + (left, top)."""

    scale_x: float
    scale_y: float
    left: float
    top: float
    frame_width: int
    frame_height: int

    def to_frame(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Input-pixel boxes (N, 4) x1 y1 x2 y2 -> frame pixels, clipped to the frame."""
        out = np.empty_like(boxes_xyxy, dtype=np.float32)
        out[:, [0, 2]] = (boxes_xyxy[:, [0, 2]] - self.left) / self.scale_x
        out[:, [1, 3]] = (boxes_xyxy[:, [1, 3]] - self.top) / self.scale_y
        np.clip(out[:, [0, 2]], 0, self.frame_width, out=out[:, [0, 2]])
        np.clip(out[:, [1, 3]], 0, self.frame_height, out=out[:, [1, 3]])
        return out


def place(image_bgr: np.ndarray, spec: DetectorInput) -> tuple[np.ndarray, Placement]:
    """The frame resized (and padded) to the input size, as uint8 HWC, and its placement."""
    h, w = image_bgr.shape[:2]
    if spec.resize == "stretch":
        sx, sy = spec.width / w, spec.height / h
        resized = cv2.resize(image_bgr, (spec.width, spec.height), interpolation=_filter(sx, sy))
        return resized, Placement(sx, sy, 0.0, 0.0, w, h)
    scale = min(spec.width / w, spec.height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    left, top = (spec.width - new_w) // 2, (spec.height - new_h) // 2
    canvas = np.full((spec.height, spec.width, 3), spec.pad_value, np.uint8)
    canvas[top : top + new_h, left : left + new_w] = cv2.resize(
        image_bgr, (new_w, new_h), interpolation=_filter(scale, scale)
    )
    return canvas, Placement(new_w / w, new_h / h, float(left), float(top), w, h)


def _filter(sx: float, sy: float) -> int:
    """Area averaging when shrinking (a 4000 px frame to 640: no aliasing), else linear."""
    return cv2.INTER_AREA if min(sx, sy) < 1 else cv2.INTER_LINEAR


def to_tensor(placed_bgr: np.ndarray, spec: DetectorInput, dtype: type = np.float32) -> np.ndarray:
    """uint8 HWC BGR -> (1, 3, H, W) in the card's colour order, times its scale."""
    pixels = (
        cv2.cvtColor(placed_bgr, cv2.COLOR_BGR2RGB) if spec.colour_order == "RGB" else placed_bgr
    )
    tensor = pixels.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(spec.scale)
    return np.ascontiguousarray(tensor, dtype=dtype)


def prepare(
    image_bgr: np.ndarray, spec: DetectorInput, dtype: type = np.float32
) -> tuple[np.ndarray, Placement]:
    """A frame as the network's input tensor, and how to map its boxes back."""
    placed, placement = place(image_bgr, spec)
    return to_tensor(placed, spec, dtype), placement
