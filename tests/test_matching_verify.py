"""Local-feature verification (SIFT / ORB + RANSAC): one scene matches, two do not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from bearagent.matching.verify import LocalVerifier


def scene(seed: int, side: int = 240) -> NDArray[np.uint8]:
    """A textured picture (random blobs and lines), BGR uint8."""
    rng = np.random.default_rng(seed)
    img = np.full((side, side, 3), 128, np.uint8)
    for _ in range(60):
        centre = (int(rng.integers(0, side)), int(rng.integers(0, side)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(img, centre, int(rng.integers(3, 18)), colour, -1)
        end = (int(rng.integers(0, side)), int(rng.integers(0, side)))
        cv2.line(img, centre, end, colour, 2)
    return img


@pytest.mark.parametrize("detector", ["sift", "orb"])
def test_two_views_of_one_scene_share_many_inliers_and_two_scenes_few(detector: str) -> None:
    verifier = LocalVerifier(detector)  # type: ignore[arg-type]
    a = scene(1)
    shifted = np.ascontiguousarray(a[20:, 10:])  # a crop: the same pixels, moved
    matrix = cv2.getRotationMatrix2D((120, 120), 8, 1.05)
    rotated = np.asarray(cv2.warpAffine(a, matrix, (240, 240)), dtype=np.uint8)
    other = scene(2)
    fa = verifier.features(a)
    same = [verifier.inliers(fa, verifier.features(v)) for v in (shifted, rotated)]
    different = verifier.inliers(fa, verifier.features(other))
    assert min(same) >= 20, same
    assert different <= 8 < min(same)


def test_blank_chips_have_no_inliers() -> None:
    verifier = LocalVerifier("sift")
    blank = verifier.features(np.full((64, 64, 3), 90, np.uint8))
    assert verifier.inliers(blank, verifier.features(scene(3))) == 0
    with pytest.raises(ValueError, match="detector must be 'sift' or 'orb'"):
        LocalVerifier("surf")  # type: ignore[arg-type]
