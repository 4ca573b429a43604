"""The decision rule: an open-set score and two thresholds split queries three ways.

``score >= known``: accepted automatically as the best-matching individual;
``score < unknown``: a stranger (a new provisional individual); in between: a
person decides (``review``). ``known == unknown`` is a rule without a review band
(what a format-1 model card gives).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bearagent.decisions.scores import SCORE_NAMES

#: Where the thresholds in force came from.
RuleSource = Literal["card", "gallery", "config"]


class Outcome(StrEnum):
    """What an encounter (or a chip) is decided to be."""

    KNOWN = "known"
    REVIEW = "review"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DecisionRule:
    """A score and its two thresholds, and where they came from."""

    score: str
    known: float
    unknown: float
    source: RuleSource = "card"

    def __post_init__(self) -> None:
        if self.score not in SCORE_NAMES:
            raise ValueError(
                f"unknown open-set score {self.score!r}: choose one of {', '.join(SCORE_NAMES)}"
            )
        if not (np.isfinite(self.known) and np.isfinite(self.unknown)):
            raise ValueError(f"thresholds must be finite numbers, got {self.known}, {self.unknown}")
        if self.known < self.unknown:
            raise ValueError(
                f"the known threshold ({self.known}) must not be below the unknown threshold "
                f"({self.unknown}): scores between them go to review"
            )

    @property
    def has_review_band(self) -> bool:
        """Whether some scores go to review."""
        return self.known > self.unknown

    def classify(self, scores: NDArray[np.float64]) -> NDArray[np.str_]:
        """The outcome of each score (vectorised; `decide` calls it with one)."""
        s = np.asarray(scores, dtype=np.float64)
        return np.where(
            s >= self.known,
            Outcome.KNOWN.value,
            np.where(s < self.unknown, Outcome.UNKNOWN.value, Outcome.REVIEW.value),
        )

    def describe(self) -> str:
        """One line for logs and `status`."""
        band = (
            f"known >= {self.known:.4f}, review from {self.unknown:.4f}"
            if self.has_review_band
            else f"known >= {self.known:.4f}, no review band"
        )
        return f"score {self.score}: {band} (from the {self.source})"
