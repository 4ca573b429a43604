"""Open-set figures: is a query's individual in the gallery at all?

The score of a query is its best cosine similarity to the gallery. A threshold
is calibrated on known queries only, for a target false-unknown rate; the
detection rate on queries of held-out individuals and the AUROC of known vs
unknown say how well it separates them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bearagent.errors import BearIdError
from bearagent.modelcard import ThresholdSpec


class CalibrationError(BearIdError):
    """Open-set calibration that cannot be done with the data given."""


def auroc(known: NDArray[np.float64], unknown: NDArray[np.float64]) -> float:
    """P(score of a random known query > that of a random unknown one), ties counting half."""
    if len(known) == 0 or len(unknown) == 0:
        return float("nan")
    ranks = _average_ranks(np.concatenate([known, unknown]))
    n_k, n_u = len(known), len(unknown)
    return float((ranks[:n_k].sum() - n_k * (n_k + 1) / 2) / (n_k * n_u))


def _average_ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks, tied values sharing the mean of their ranks (Mann-Whitney U)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # rank of the last member of each group of equal values
    average: NDArray[np.float64] = (last - (counts - 1) / 2.0)[inverse]
    return average


def choose_threshold(known: NDArray[np.float64], target_false_unknown_rate: float) -> float:
    """The highest threshold that calls at most the target share of known queries unknown.

    With known scores sorted ascending, s[0] <= s[1] <= ..., and m = floor(target * n),
    the threshold is s[m]: exactly the m lowest known queries fall below it (fewer on ties).
    """
    if len(known) == 0:
        raise CalibrationError(
            "no known queries to calibrate the unknown threshold on: val needs chips of "
            "individuals that are in train"
        )
    ordered = np.sort(np.asarray(known, dtype=np.float64))
    m = math.floor(target_false_unknown_rate * len(ordered) + 1e-9)
    return float(np.clip(ordered[min(m, len(ordered) - 1)], -1.0, 1.0))


@dataclass(frozen=True)
class OpenSetFigures:
    """Open-set figures at one threshold."""

    threshold: float
    false_unknown_rate: float
    detection_rate: float
    auroc: float
    known: int
    unknown: int


def figures_at(
    known: NDArray[np.float64], unknown: NDArray[np.float64], threshold: float
) -> OpenSetFigures:
    """False-unknown rate (known below threshold) and detection rate (unknown below it)."""
    fur = float(np.mean(known < threshold)) if len(known) else float("nan")
    det = float(np.mean(unknown < threshold)) if len(unknown) else float("nan")
    return OpenSetFigures(threshold, fur, det, auroc(known, unknown), len(known), len(unknown))


def calibrate(
    known: NDArray[np.float64],
    unknown: NDArray[np.float64],
    target_false_unknown_rate: float = 0.05,
    validation_set: str | None = None,
) -> tuple[ThresholdSpec, OpenSetFigures]:
    """Choose the threshold on val and describe it as the model card's `ThresholdSpec`."""
    figures = figures_at(known, unknown, choose_threshold(known, target_false_unknown_rate))

    def finite(x: float) -> float | None:
        return None if math.isnan(x) else x

    spec = ThresholdSpec(
        value=figures.threshold,
        method="calibrated",
        target_false_unknown_rate=target_false_unknown_rate,
        false_unknown_rate=finite(figures.false_unknown_rate),
        unknown_detection_rate=finite(figures.detection_rate),
        auroc=finite(figures.auroc),
        validation_set=validation_set
        or f"val: {figures.known} known, {figures.unknown} unknown queries",
    )
    return spec, figures
