"""Detection quality: matching boxes at an IoU, average precision, recall and precision.

Per image, detections are taken best score first; each one matches the unmatched
ground-truth box it overlaps most, if that IoU reaches `iou` (a true positive),
else it is a false positive (the PASCAL VOC rule). AP is the area under the
precision-recall curve with precision made monotone (all-point interpolation,
VOC 2010 and later); mAP@0.5 over one class is that AP at IoU 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bearagent.detection.nms import iou_matrix


@dataclass(frozen=True)
class Matched:
    """Every detection's score and whether it was a true positive, and how many faces."""

    scores: np.ndarray
    true_positive: np.ndarray
    faces: int


def match_image(
    pred_xyxy: np.ndarray, pred_scores: np.ndarray, gt_xyxy: np.ndarray, iou: float = 0.5
) -> np.ndarray:
    """Whether each detection of one image is a true positive (in the given order)."""
    hits = np.zeros(len(pred_scores), bool)
    if len(pred_scores) == 0 or len(gt_xyxy) == 0:
        return hits
    overlaps = iou_matrix(pred_xyxy, gt_xyxy)
    taken = np.zeros(len(gt_xyxy), bool)
    for i in np.argsort(-np.asarray(pred_scores), kind="stable"):
        candidates = np.where(taken, -1.0, overlaps[i])
        best = int(np.argmax(candidates))
        if candidates[best] >= iou:
            taken[best] = True
            hits[i] = True
    return hits


def match_all(
    predictions: Sequence[tuple[np.ndarray, np.ndarray]],
    truths: Sequence[np.ndarray],
    iou: float = 0.5,
) -> Matched:
    """Match every image's (boxes, scores) against its ground-truth boxes."""
    scores, hits = [], []
    for (boxes, s), gt in zip(predictions, truths, strict=True):
        scores.append(np.asarray(s, np.float64))
        hits.append(match_image(boxes, s, gt, iou))
    faces = int(sum(len(g) for g in truths))
    if not scores:
        return Matched(np.zeros(0), np.zeros(0, bool), faces)
    return Matched(np.concatenate(scores), np.concatenate(hits), faces)


def average_precision(m: Matched) -> float:
    """Area under the monotone precision-recall curve (0 when there are no faces)."""
    if m.faces == 0:
        return 0.0
    order = np.argsort(-m.scores, kind="stable")
    tp = np.cumsum(m.true_positive[order])
    fp = np.cumsum(~m.true_positive[order])
    recall = np.concatenate([[0.0], tp / m.faces, [1.0]])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.where(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def best_threshold(m: Matched, floor: float = 0.3) -> float:
    """The score threshold (at least `floor`) with the best F1; the higher one on a tie."""
    best, best_f1 = floor, -1.0
    for threshold in sorted({float(s) for s in m.scores if s >= floor}, reverse=True):
        recall, precision = recall_precision(m, threshold)
        f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


def recall_precision(m: Matched, threshold: float) -> tuple[float, float]:
    """Recall and precision of the detections scoring at least `threshold`."""
    kept = m.scores >= threshold
    tp = int(np.sum(m.true_positive & kept))
    found = int(np.sum(kept))
    return (tp / m.faces if m.faces else 0.0), (tp / found if found else 1.0)
