"""Local-feature verification of a match: SIFT or ORB keypoints and a RANSAC homography.

The global embedding ranks the gallery's individuals; a second look at the few
best candidates compares the query chip with their reference chips pixel
pattern by pixel pattern: keypoints matched with Lowe's ratio test, then the
matches a single homography explains (RANSAC) are counted. Two photos of one
individual's face share many such inliers; two individuals few. No weights to
download: OpenCV alone. The count is a raw score; `bench/bench_embedder.py`
calibrates it with the global similarity on val (a logistic fusion) before it
re-ranks candidates. Torch-free, like the rest of the agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

Detector = Literal["sift", "orb"]


@dataclass(frozen=True)
class LocalFeatures:
    """Keypoint positions (K, 2) and descriptors (K, D) of one chip."""

    points: NDArray[np.float32]
    descriptors: NDArray[np.float32 | np.uint8] | None


class LocalVerifier:
    """Counts the RANSAC-consistent keypoint matches between two chips."""

    def __init__(
        self,
        detector: Detector = "sift",
        max_features: int = 500,
        ratio: float = 0.8,
        ransac_px: float = 4.0,
        side: int = 192,
    ) -> None:
        if detector not in ("sift", "orb"):
            raise ValueError(f"detector must be 'sift' or 'orb', got {detector!r}")
        self.detector = detector
        self.ratio, self.ransac_px, self.side = ratio, ransac_px, side
        self._extractor: cv2.Feature2D
        if detector == "sift":
            self._extractor = cv2.SIFT.create(nfeatures=max_features)
            self._matcher = cv2.BFMatcher(cv2.NORM_L2)
        else:
            self._extractor = cv2.ORB.create(nfeatures=max_features, edgeThreshold=15)
            self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def features(self, bgr: NDArray[np.uint8]) -> LocalFeatures:
        """Keypoints of a decoded chip, on grey scaled so its longer side is `side` pixels."""
        grey = bgr if bgr.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        scale = self.side / max(grey.shape[:2])
        if abs(scale - 1.0) > 1e-3:
            size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)  # day and infrared night frames alike
        keypoints, descriptors = self._extractor.detectAndCompute(grey, None)
        points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
        return LocalFeatures(points, None if descriptors is None else np.asarray(descriptors))

    def inliers(self, a: LocalFeatures, b: LocalFeatures) -> int:
        """Matches of `a` in `b` that pass the ratio test and one RANSAC homography."""
        if a.descriptors is None or b.descriptors is None:
            return 0
        if len(a.points) < 2 or len(b.points) < 2:
            return 0
        pairs = self._matcher.knnMatch(a.descriptors, b.descriptors, k=2)
        good = [
            m for m, n in (p for p in pairs if len(p) == 2) if m.distance < self.ratio * n.distance
        ]
        if len(good) < 4:
            return 0
        src = a.points[[m.queryIdx for m in good]]
        dst = b.points[[m.trainIdx for m in good]]
        _, mask = cv2.findHomography(src, dst, cv2.RANSAC, self.ransac_px)
        return int(mask.sum()) if mask is not None else 0
