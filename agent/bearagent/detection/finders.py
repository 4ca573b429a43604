"""Face finders: one detector, or an animal detector followed by a face detector.

The two-stage setup runs the animal detector (e.g. MegaDetector) on the whole
frame, then the face detector on each animal's crop (with a margin), and maps the
faces back to frame pixels; faces found twice in overlapping animals are merged
by NMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bearagent.detection.crops import CropRules, crop_rect
from bearagent.detection.decoders import Boxes
from bearagent.detection.errors import DetectorIncompatible
from bearagent.detection.nms import suppress
from bearagent.detection.onnx_detector import OnnxDetector


@dataclass(frozen=True)
class Findings:
    """What a finder saw in one image: face boxes (image pixels) and animal boxes found."""

    faces: Boxes
    animals: int = 0  # boxes of a two-stage setup's animal detector (0 for one stage)


class FaceFinder(Protocol):
    """Finds faces in a BGR image."""

    @property
    def name(self) -> str:
        """What the chips' sidecars name as their detector."""

    def find(self, image_bgr: np.ndarray) -> Findings:
        """Faces (and animals) in the image."""

    def close(self) -> None:
        """Release the models."""


def _require_role(detector: OnnxDetector, role: str, setting: str) -> None:
    if detector.card.role != role:
        raise DetectorIncompatible(
            f"{setting} {detector.path} is a detector of role '{detector.card.role}', but "
            f"{setting} needs role '{role}': swap detector.model and detector.animal_model, or "
            "fix 'role' in its card"
        )


class OneStage:
    """A face detector alone."""

    def __init__(self, faces: OnnxDetector) -> None:
        _require_role(faces, "face", "detector.model")
        self.faces = faces

    @property
    def name(self) -> str:
        return self.faces.name

    def find(self, image_bgr: np.ndarray) -> Findings:
        return Findings(self.faces.detect(image_bgr))

    def close(self) -> None:
        self.faces.close()


class TwoStage:
    """An animal detector, then the face detector on each animal's crop."""

    def __init__(self, animals: OnnxDetector, faces: OnnxDetector, margin: float) -> None:
        _require_role(animals, "animal", "detector.animal_model")
        _require_role(faces, "face", "detector.model")
        self.animals, self.faces = animals, faces
        self.rules = CropRules(margin=margin, square=False, min_size_px=1)

    @property
    def name(self) -> str:
        return f"{self.animals.name}+{self.faces.name}"

    def find(self, image_bgr: np.ndarray) -> Findings:
        h, w = image_bgr.shape[:2]
        animals = self.animals.detect(image_bgr)
        found: list[Boxes] = []
        for box in animals.xyxy:
            left, top, right, bottom = crop_rect(box, self.rules, w, h)
            faces = self.faces.detect(np.ascontiguousarray(image_bgr[top:bottom, left:right]))
            shifted = faces.xyxy + np.asarray([left, top, left, top], np.float32)
            found.append(Boxes(shifted, faces.scores, faces.classes))
        merged = suppress(
            Boxes.concat(found), self.faces.iou_threshold, self.faces.card.max_detections
        )
        return Findings(merged, len(animals))

    def close(self) -> None:
        self.animals.close()
        self.faces.close()
