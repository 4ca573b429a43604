"""The decision rule: an open-set score and two thresholds split queries three ways.

``score >= known``: accepted automatically as the best-matching individual;
``score < unknown``: a stranger (a new provisional individual); in between: a
person decides (``review``). ``known == unknown`` is a rule without a review band
(what a format-1 model card gives). A known threshold of `NEVER_KNOWN` accepts
nothing and an unknown threshold of `NEVER_UNKNOWN` flags nothing: with both, the
rule sends everything to review (`DecisionRule.review_everything`), what a
calibration that cannot keep its promise gives.

The cohort scores (``asnorm``, ``individual``) also need the gallery's
per-individual statistics: the rule carries them (`cohort`) when the agent
decides with such a score.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bearagent.decisions.cohort import CohortSummary
from bearagent.decisions.scores import (
    COHORT_SCORES,
    NEVER_KNOWN,
    NEVER_UNKNOWN,
    SCORE_LIMIT,
    check_score_name,
)

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
    cohort: CohortSummary | None = None

    def __post_init__(self) -> None:
        check_score_name(self.score)
        if not (np.isfinite(self.known) and np.isfinite(self.unknown)):
            raise ValueError(f"thresholds must be finite numbers, got {self.known}, {self.unknown}")
        if self.known < self.unknown:
            raise ValueError(
                f"the known threshold ({self.known}) must not be below the unknown threshold "
                f"({self.unknown}): scores between them go to review"
            )

    @classmethod
    def review_everything(cls, score: str, source: RuleSource = "card") -> DecisionRule:
        """A rule that makes no automatic decision: every query goes to review."""
        return cls(score, NEVER_KNOWN, NEVER_UNKNOWN, source)

    @property
    def has_review_band(self) -> bool:
        """Whether some scores go to review."""
        return self.known > self.unknown

    @property
    def decides_known(self) -> bool:
        """Whether some scores are accepted automatically (the known threshold is reachable)."""
        return self.known <= SCORE_LIMIT

    @property
    def decides_unknown(self) -> bool:
        """Whether some scores are flagged unknown automatically."""
        return self.unknown > -SCORE_LIMIT

    @property
    def needs_cohort(self) -> bool:
        """Whether the score needs the gallery's cohort statistics."""
        return self.score in COHORT_SCORES

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
        if not (self.decides_known or self.decides_unknown):
            band = "no automatic decision, everything to review"
        elif not self.decides_known:
            band = f"no automatic known; unknown below {self.unknown:.4f}, review above"
        elif not self.decides_unknown:
            band = f"known >= {self.known:.4f}; no automatic unknown, review below"
        elif self.has_review_band:
            band = f"known >= {self.known:.4f}, review from {self.unknown:.4f}"
        else:
            band = f"known >= {self.known:.4f}, no review band"
        return f"score {self.score}: {band} (from the {self.source})"
