"""Non-maximum suppression per class (OpenCV's ``NMSBoxesBatched``), and box overlap."""

from __future__ import annotations

import cv2
import numpy as np

from bearagent.detection.decoders import Boxes


def suppress(boxes: Boxes, iou_threshold: float, max_detections: int) -> Boxes:
    """The boxes left after class-wise NMS, best score first, at most `max_detections`."""
    if len(boxes) == 0:
        return boxes
    xywh = boxes.xyxy.astype(np.float64).copy()
    xywh[:, 2:] -= xywh[:, :2]
    kept = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(),
        boxes.scores.astype(np.float64).tolist(),
        boxes.classes.astype(np.int32).tolist(),
        0.0,
        iou_threshold,
    )
    index = np.asarray(kept, dtype=np.int64).reshape(-1)
    index = index[np.argsort(-boxes.scores[index], kind="stable")][:max_detections]
    return boxes.take(index)


def iou_matrix(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of two sets of x1 y1 x2 y2 boxes."""
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
