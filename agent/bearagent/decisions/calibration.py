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

`choose_thresholds` takes the highest unknown threshold whose false-unknown rate
meets its target, and the lowest known threshold whose automatic error meets
its target; where they cross there is no review band.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class CalibrationError(ValueError):
    """Thresholds cannot be chosen from these queries."""


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


def unknown_threshold(genuine: FloatArray, target_false_unknown: float) -> float:
    """The highest threshold that flags at most the target share of genuine queries.

    With genuine scores sorted ascending s[0] <= s[1] <= ... and m = floor(target * n),
    it is s[m]: exactly the m lowest fall below it (fewer on ties).
    """
    g = np.sort(np.asarray(genuine, np.float64))
    if len(g) == 0:
        raise CalibrationError("no genuine queries: the unknown threshold needs known individuals")
    m = math.floor(target_false_unknown * len(g) + 1e-9)
    return float(g[min(m, len(g) - 1)])


def known_threshold(
    genuine: FloatArray, correct: BoolArray, strangers: FloatArray, target_error: float
) -> float:
    """The lowest threshold whose accepted queries are wrong at most `target_error` of the time.

    Queries are taken best score first; the threshold is the score of the last one
    in the longest such prefix that meets the target (ties taken together). When
    even the best-scoring query is wrong, it lies just above every score.
    """
    scores = np.concatenate([np.asarray(genuine, np.float64), np.asarray(strangers, np.float64)])
    wrong = np.concatenate([~np.asarray(correct, bool), np.ones(len(strangers), bool)])
    if len(scores) == 0:
        raise CalibrationError("no queries to calibrate the known threshold on")
    order = np.argsort(-scores, kind="stable")
    s, w = scores[order], wrong[order]
    errors = np.cumsum(w) / np.arange(1, len(s) + 1)
    # A prefix may end only where the next score is lower (ties go together).
    ends = np.flatnonzero(np.append(s[1:] < s[:-1], True))
    ok = ends[errors[ends] <= target_error + 1e-12]
    if len(ok) == 0:
        return float(np.nextafter(s[0], np.inf))
    return float(s[ok[-1]])


def choose_thresholds(
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target_error: float = 0.05,
    target_false_unknown: float = 0.05,
) -> tuple[float, float]:
    """(known, unknown) thresholds for the two targets; known >= unknown always."""
    unknown = unknown_threshold(genuine, target_false_unknown)
    known = known_threshold(genuine, correct, strangers, target_error)
    return max(known, unknown), unknown


@dataclass(frozen=True)
class Calibration:
    """Thresholds chosen for targets, and what they do on the calibration queries."""

    score: str
    target_error: float
    target_false_unknown: float
    point: OperatingPoint
    auroc: float

    @property
    def known(self) -> float:
        """The known threshold."""
        return self.point.known_threshold

    @property
    def unknown(self) -> float:
        """The unknown threshold."""
        return self.point.unknown_threshold


def calibrate(
    score: str,
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target_error: float = 0.05,
    target_false_unknown: float = 0.05,
) -> Calibration:
    """Choose the thresholds of score `score` on these queries (scores already computed)."""
    known, unknown = choose_thresholds(
        genuine, correct, strangers, target_error, target_false_unknown
    )
    return Calibration(
        score=score,
        target_error=target_error,
        target_false_unknown=target_false_unknown,
        point=operating_point(genuine, correct, strangers, known, unknown),
        auroc=auroc(genuine, strangers),
    )


def review_curve(
    genuine: FloatArray,
    correct: BoolArray,
    strangers: FloatArray,
    target_false_unknown: float = 0.05,
    steps: int = 50,
) -> list[OperatingPoint]:
    """Review share against automatic error as the known threshold rises (unknown fixed)."""
    unknown = unknown_threshold(genuine, target_false_unknown)
    scores = np.concatenate([np.asarray(genuine, np.float64), np.asarray(strangers, np.float64)])
    top = float(scores.max()) if len(scores) else unknown
    knowns = np.unique(np.concatenate([[unknown], np.linspace(unknown, top, steps)]))
    return [operating_point(genuine, correct, strangers, float(k), unknown) for k in knowns]
