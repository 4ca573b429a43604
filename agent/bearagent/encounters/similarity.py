"""The same-individual similarity of tracks: when a chip joins an open track of its camera.

bear-train calibrates it on val: *same* similarities are each chip's to the rest
of its own encounter (what joining its track would compare), *different* ones a
chip's to encounters of other individuals. The threshold lets at most a target
share of different-individual chips join a track (two bears in one encounter
lose one bear's visit); the share of own chips that fall below it and would
open a second track is the split rate (tracks later decided as the same
individual merge again).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TrackCalibration:
    """A same-individual similarity and what it does on the calibration pairs."""

    threshold: float
    target_false_join_rate: float
    false_join_rate: float
    split_rate: float
    same: int
    different: int


def same_individual_threshold(
    same: FloatArray, different: FloatArray, target_false_join_rate: float = 0.02
) -> TrackCalibration:
    """The lowest similarity at which at most the target share of `different` would join."""
    s = np.asarray(same, np.float64)
    d = np.sort(np.asarray(different, np.float64))[::-1]
    if len(d) == 0:
        raise ValueError("no different-individual similarities to calibrate tracks on")
    m = math.floor(target_false_join_rate * len(d) + 1e-9)
    threshold = float(np.nextafter(d[m], np.inf)) if m < len(d) else float(d[-1])
    threshold = min(1.0, max(-1.0, threshold))
    return TrackCalibration(
        threshold=threshold,
        target_false_join_rate=target_false_join_rate,
        false_join_rate=float(np.mean(d >= threshold)),
        split_rate=float(np.mean(s < threshold)) if len(s) else float("nan"),
        same=len(s),
        different=len(d),
    )


def chip_to_track_similarity(
    chip: NDArray[np.float32], track_mean: NDArray[np.float32], recent: NDArray[np.float32]
) -> float:
    """How well a chip matches a track: the better of its mean and its recent chips.

    `track_mean` is the normalised mean of the track's chips, `recent` (R, E) its
    latest chips; all rows L2-normalised.
    """
    best = float(chip @ track_mean)
    if len(recent):
        best = max(best, float((recent @ chip).max()))
    return best
