"""Measuring an exported detector on held-out scenes, through the agent's own code path.

The ONNX file runs in `bearagent.detection.OnnxDetector` (letterbox, decoder, NMS,
boxes back in frame pixels), exactly as on the box. AP uses every box scoring at
least `AP_FLOOR`; recall and precision use the card's score threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bearagent.detection.onnx_detector import OnnxDetector, SessionSettings
from beartrain.detector.metrics import (
    Matched,
    average_precision,
    best_threshold,
    match_all,
    recall_precision,
)
from beartrain.scenes import read_scenes

#: Lowest score kept when the precision-recall curve is drawn.
AP_FLOOR = 0.01


@dataclass(frozen=True)
class DetectorScore:
    """A detector's quality on a set of scenes (per face box, IoU 0.5)."""

    map50: float
    recall: float
    precision: float
    threshold: float
    scenes: int
    faces: int
    by_light: dict[str, float] = field(default_factory=dict)  # recall at night / by day

    def line(self) -> str:
        """One line for a report."""
        light = ", ".join(f"{k} {v:.3f}" for k, v in self.by_light.items())
        return (
            f"mAP@0.5 {self.map50:.3f}, recall {self.recall:.3f}, precision {self.precision:.3f} "
            f"at score >= {self.threshold:.2f} ({self.faces} faces in {self.scenes} scenes; "
            f"recall {light})"
        )


def detect_scenes(
    detector: OnnxDetector, root: Path, files: list[str]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The detector's boxes and scores on each scene file (frame pixels)."""
    out = []
    for file in files:
        image = cv2.imread(str(root / file), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read scene {root / file}")
        found = detector.detect(image)
        out.append((found.xyxy, found.scores))
    return out


def score_matches(
    matched: Matched, threshold: float, scenes: int, by_light: dict[str, float]
) -> DetectorScore:
    """A `DetectorScore` from matched detections."""
    recall, precision = recall_precision(matched, threshold)
    return DetectorScore(
        average_precision(matched), recall, precision, threshold, scenes, matched.faces, by_light
    )


def match_scenes(model: Path, scenes: Path) -> tuple[Matched, list[bool]]:
    """Every detection (score >= `AP_FLOOR`) on the scenes, matched; and which are night."""
    detector = OnnxDetector(model, SessionSettings(score_threshold=AP_FLOOR))
    records = read_scenes(scenes)
    predictions = detect_scenes(detector, scenes, [r.file for r in records])
    truths = [np.array([[f.x1, f.y1, f.x2, f.y2] for f in r.faces]).reshape(-1, 4) for r in records]
    detector.close()
    return match_all(predictions, truths), [r.night for r in records]


def calibrate_threshold(model: Path, scenes: Path, floor: float = 0.3) -> float:
    """The score threshold with the best F1 (per face box, IoU 0.5) on validation scenes."""
    return best_threshold(match_scenes(model, scenes)[0], floor)


def evaluate_detector(model: Path, scenes: Path, threshold: float | None = None) -> DetectorScore:
    """mAP@0.5, recall and precision of the detector `model` on the scenes folder `scenes`."""
    detector = OnnxDetector(model, SessionSettings(score_threshold=AP_FLOOR))
    threshold = detector.card.thresholds.score if threshold is None else threshold
    records = read_scenes(scenes)
    predictions = detect_scenes(detector, scenes, [r.file for r in records])
    truths = [np.array([[f.x1, f.y1, f.x2, f.y2] for f in r.faces]).reshape(-1, 4) for r in records]
    by_light = {}
    for name, night in (("night", True), ("day", False)):
        keep = [i for i, r in enumerate(records) if r.night == night]
        part = match_all([predictions[i] for i in keep], [truths[i] for i in keep])
        by_light[name] = recall_precision(part, threshold)[0]
    detector.close()
    return score_matches(match_all(predictions, truths), threshold, len(records), by_light)
