"""Choosing the two thresholds of a `DecisionRule` for target error rates.

Inputs are scores of *genuine* queries (their individual is in the gallery),
whether each one's best candidate is its true individual, and scores of
*stranger* queries (their individual is not in the gallery). bear-train
calibrates on its val split; the agent on its own gallery
(`bearagent.gallery.calibration`: leave-one-encounter-out for genuine,
leave-one-individual-out for strangers). Both call `calibrate`.

At thresholds (known, unknown):

- accepted: score >= known; the *automatic error* is the share of accepted
  queries that are wrong: a genuine one given another id, or a stranger;
- flagged unknown: score < unknown; the *false-unknown rate* is the share of
  genuine queries flagged, the *detection rate* the share of strangers flagged;
- the rest goes to review.

The thresholds are chosen in `bearagent.decisions.thresholds`: each is kept only
where the upper confidence bound of its error rate is within its target; where
none is, that kind of automatic decision is withheld and `Calibration.withheld`
says why (both withheld: everything goes to review).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from bearagent.decisions.bounds import DEFAULT_CONFIDENCE, upper_bound
from bearagent.decisions.scores import NEVER_KNOWN, NEVER_UNKNOWN
from bearagent.decisions.thresholds import (
    CalibrationError,
    choose,
    choose_thresholds,
    known_threshold,
    unknown_threshold,
)

__all__ = [
    "Calibration",
    "CalibrationError",
    "OperatingPoint",
    "auroc",
    "calibrate",
    "choose_thresholds",
    "known_threshold",
    "operating_point",
    "review_curve",
    "unknown_threshold",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def auroc(known: FloatArray, unknown: FloatArray) -> float:
    """P(score of a random genuine query > that of a random stranger), ties counting half."""
    known, unknown = np.asarray(known, np.float64), np.asarray(unknown, np.float64)
    if len(known) == 0 or len(unknown) == 0:
        return float("nan")
    values = np.concatenate([known, unknown])
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    n_k, n_u = len(known), len(unknown)
    return float((ranks[:n_k].sum() - n_k * (n_k + 1) / 2) / (n_k * n_u))


@dataclass(frozen=True)
class OperatingPoint:
    """What a pair of thresholds does to a set of genuine and stranger queries."""

    known_threshold: float
    unknown_threshold: float
    genuine: int
    strangers: int
    automatic_share: float  # decided without a person (accepted or flagged unknown)
    automatic_error: float  # wrong among accepted: wrong id or stranger (NaN: none accepted)
    wrong_id_rate: float  # genuine accepted with another individual's id, of all genuine
    stranger_accepted_rate: float  # strangers accepted as someone, of all strangers
    false_unknown_rate: float  # genuine flagged unknown, of all genuine
    unknown_detection_rate: float  # strangers flagged unknown, of all strangers
    review_share: float  # of all queries

    def as_dict(self) -> dict[str, float | int]:
        """Plain numbers (NaN kept), for JSON and tables."""
        return asdict(self)


def _rate(count: float, total: int) -> float:
    return float(count) / total if total else float("nan")


def operating_point(
    genuine: FloatArray, correct: BoolArray, strangers: FloatArray, known: float, unknown: float
) -> OperatingPoint:
    """The figures of thresholds (known, unknown) on these queries."""
    g, c, s = (np.asarray(genuine, np.float64), np.asarray(correct, bool),
               np.asarray(strangers, np.float64))  # fmt: skip
    g_acc, s_acc = g >= known, s >= known
    g_unk, s_unk = g < unknown, s < unknown
    accepted = int(g_acc.sum() + s_acc.sum())
    wrong = int((g_acc & ~c).sum() + s_acc.sum())
    total = len(g) + len(s)
    automatic = accepted + int(g_unk.sum() + s_unk.sum())
    return OperatingPoint(
        known_threshold=float(known),
        unknown_threshold=float(unknown),
        genuine=len(g),
        strangers=len(s),
        automatic_share=_rate(automatic, total),
        automatic_error=_rate(wrong, accepted),
        wrong_id_rate=_rate(int((g_acc & ~c).sum()), len(g)),
        stranger_accepted_rate=_rate(int(s_acc.sum()), len(s)),
        false_unknown_rate=_rate(int(g_unk.sum()), len(g)),
        unknown_detection_rate=_rate(int(s_unk.sum()), len(s)),
        review_share=_rate(total - automatic, total),
    )


@dataclass(frozen=True)
class Calibration:
    """Thresholds chosen for targets, and what they do on the calibration queries.

    `error_bound` / `false_unknown_bound`: the upper confidence bounds of the
    automatic error and the false-unknown rate at the chosen thresholds (NaN where
    nothing is counted); `withheld`: why a kind of automatic decision is not made.
    """

    score: str
    target_error: float
    target_false_unknown: float
    point: OperatingPoint
    auroc: float
    confidence: float | None = DEFAULT_CONFIDENCE
    error_bound: float = math.nan
    false_unknown_bound: float = math.nan
    withheld: tuple[str, ...] = ()

    @property
    def known(self) -> float:
        """The known threshold."""
        return self.point.known_threshold

    @property
    def unknown(self) -> float:
        """The unknown threshold."""
        return self.point.unknown_threshold

    @property
    def decides_known(self) -> bool:
        """Whether some queries are accepted automatically."""
        return self.known < NEVER_KNOWN

    @property
    def decides_unknown(self) -> bool:
        """Whether some queries are flagged unknown automatically."""
        return self.unknown > NEVER_UNKNOWN

    @property
    def why(self) -> str:
        """One line: what the thresholds promise, or why decisions are withheld."""
        if not (self.decides_known or self.decides_unknown):
            return "everything to review: " + "; ".join(self.withheld)
        level = "" if self.confidence is None else f" at {100 * self.confidence:g} % confidence"
        parts = []
        if self.decides_known:
            parts.append(f"automatic error <= {self.target_error:g}{level}")
        if self.decides_unknown:
            parts.append(f"false-unknown <= {self.target_false_unknown:g}{level}")
        return "; ".join(["keeps " + " and ".join(parts), *self.withheld])


def calibrate(
    score: str,
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target_error: float = 0.05,
    target_false_unknown: float = 0.05,
    confidence: float | None = DEFAULT_CONFIDENCE,
) -> Calibration:
    """Choose the thresholds of score `score` on these queries (scores already computed)."""
    choice = choose(genuine, correct, strangers, target_error, target_false_unknown, confidence)
    point = operating_point(genuine, correct, strangers, choice.known, choice.unknown)
    level = confidence if confidence is not None else DEFAULT_CONFIDENCE
    g, c = np.asarray(genuine, np.float64), np.asarray(correct, bool)
    s = np.asarray(strangers, np.float64)
    g_acc, s_acc = g >= choice.known, s >= choice.known
    accepted = int(g_acc.sum() + s_acc.sum())
    wrong = int((g_acc & ~c).sum() + s_acc.sum())
    flagged = int((g < choice.unknown).sum())
    return Calibration(
        score=score,
        target_error=target_error,
        target_false_unknown=target_false_unknown,
        point=point,
        auroc=auroc(genuine, strangers),
        confidence=confidence,
        error_bound=float(upper_bound(wrong, accepted, level)),
        false_unknown_bound=float(upper_bound(flagged, len(g), level)),
        withheld=choice.withheld,
    )


def review_curve(
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target_false_unknown: float = 0.05,
    steps: int = 50,
) -> list[OperatingPoint]:
    """Review share against automatic error as the known threshold rises (unknown fixed)."""
    unknown = unknown_threshold(genuine, target_false_unknown, None)
    scores = np.concatenate([np.asarray(genuine, np.float64), np.asarray(strangers, np.float64)])
    top = float(scores.max()) if len(scores) else unknown
    knowns = np.unique(np.concatenate([[unknown], np.linspace(unknown, top, steps)]))
    return [operating_point(genuine, correct, strangers, float(k), unknown) for k in knowns]
