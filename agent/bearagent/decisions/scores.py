"""Open-set scores: how much a query (a chip, or an encounter's mean embedding) looks like
the individual it matches best. Higher means "looks known".

Every score is a function of the query's similarities to its best-ranked distinct
individuals, sorted from best down (``ranked``, shape (Q, K)):

- ``best``: the best similarity;
- ``margin``: best minus the second best (a known bear stands out from the crowd;
  a stranger is about as close to several);
- ``margin3``: best minus the mean of the next three (less noisy than ``margin``);
- ``blend``: ``best + margin3``, both at once.

The *cohort scores* also need what the gallery knows of the best candidate
(`CandidateStats`, from `bearagent.decisions.cohort`: the cohort is the gallery's
other individuals):

- ``asnorm``: adaptive symmetric score normalisation, as speaker verification
  calibrates open-set scores against an impostor cohort: the best similarity as a
  z-score against the query's own next `COHORT_SIZE` individuals, averaged with
  its z-score against the candidate's top-`COHORT_SIZE` similarities to the other
  individuals;
- ``individual``: the best similarity minus the candidate's own threshold offset
  (per-individual thresholds from the gallery's leave-one-out scores).

A missing neighbour (a gallery of fewer individuals than the score looks at)
counts as similarity 0 for the margins, and is left out of the cohort; a query
with no candidate at all scores -1 (``best``, ``blend``, the cohort scores) or 0
(the margins), and `bearagent.decisions.decide` calls it unknown whatever the
thresholds. Every score lies within +-`SCORE_LIMIT`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

#: Scores that need only the ranked similarities.
RANK_SCORES = ("best", "margin", "margin3", "blend")
#: Scores that also need the gallery's cohort statistics of the best candidate.
COHORT_SCORES = ("asnorm", "individual")
#: The scores, in report order.
SCORE_NAMES = RANK_SCORES + COHORT_SCORES
#: Individuals in a cohort (the adaptive top-N of AS-norm).
COHORT_SIZE = 10
#: How many ranked individuals the scores look at: search at least this deep.
NEIGHBOURS = 1 + COHORT_SIZE
#: Every score is clipped to +-this (a z-score of a near-duplicate can be huge).
SCORE_LIMIT = 100.0
#: A known threshold no score reaches, and an unknown threshold no score falls below: a
#: rule with these makes no automatic decision of that kind (finite, so every payload
#: and table can carry it).
NEVER_KNOWN = 10 * SCORE_LIMIT
NEVER_UNKNOWN = -NEVER_KNOWN
#: The smallest spread a cohort z-score divides by.
SPREAD_FLOOR = 0.01

FloatArray = NDArray[np.float64]


class Ranked(Protocol):
    """Anything with a similarity (a matcher's candidate)."""

    @property
    def similarity(self) -> float: ...


@dataclass(frozen=True)
class CandidateStats:
    """What the gallery knows of each query's best candidate (arrays of shape (Q,))."""

    cohort_mean: FloatArray  # mean of the candidate's top cohort similarities
    cohort_spread: FloatArray  # their standard deviation (floored)
    offset: FloatArray  # the candidate's own threshold minus the gallery's typical one


def ranked_matrix(rows: Sequence[Sequence[Ranked]], k: int = NEIGHBOURS) -> FloatArray:
    """(Q, k) best-first similarities of each row's candidates, NaN where a row has fewer."""
    out = np.full((len(rows), k), np.nan)
    for i, row in enumerate(rows):
        sims = [float(c.similarity) for c in row[:k]]
        out[i, : len(sims)] = sims
    return out


def check_score_name(name: str) -> None:
    """Refuse a name that is not an open-set score, listing the choices."""
    if name not in SCORE_NAMES:
        raise ValueError(f"unknown open-set score {name!r}: choose one of {', '.join(SCORE_NAMES)}")


def _query_cohort(r: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Mean and spread of each query's next COHORT_SIZE individuals, and where there are 2+."""
    cohort = r[:, 1:NEIGHBOURS]
    count = np.isfinite(cohort).sum(axis=1)
    enough = count >= 2
    filled = np.where(np.isfinite(cohort), cohort, 0.0)
    mean = filled.sum(axis=1) / np.maximum(count, 1)
    var = (np.where(np.isfinite(cohort), (cohort - mean[:, None]) ** 2, 0.0)).sum(axis=1)
    spread = np.sqrt(var / np.maximum(count, 1))
    return mean, np.maximum(spread, SPREAD_FLOOR), enough


def _asnorm(best: FloatArray, r: FloatArray, stats: CandidateStats) -> FloatArray:
    """Half the query-side z-score plus half the candidate-side one (candidate side alone
    where the query has fewer than two cohort individuals)."""
    q_mean, q_spread, enough = _query_cohort(r)
    e_spread = np.maximum(np.asarray(stats.cohort_spread, np.float64), SPREAD_FLOOR)
    candidate = (best - np.asarray(stats.cohort_mean, np.float64)) / e_spread
    query = (best - q_mean) / q_spread
    return np.where(enough, 0.5 * (query + candidate), candidate)


def open_set_score(
    name: str, ranked: FloatArray, stats: CandidateStats | None = None
) -> FloatArray:
    """Score `name` of each row of `ranked` ((Q, K) best-first similarities, NaN padded).

    The cohort scores need `stats` of each row's best candidate.
    """
    check_score_name(name)
    r = np.atleast_2d(np.asarray(ranked, dtype=np.float64))
    if r.shape[1] < NEIGHBOURS:
        r = np.pad(r, ((0, 0), (0, NEIGHBOURS - r.shape[1])), constant_values=np.nan)
    has_best = np.isfinite(r[:, 0])
    best = np.where(has_best, r[:, 0], -1.0)
    if name in COHORT_SCORES:
        if stats is None:
            raise ValueError(
                f"open-set score {name!r} needs the gallery's cohort statistics of each "
                "query's best candidate (bearagent.decisions.cohort)"
            )
        if name == "asnorm":
            value = _asnorm(best, r, stats)
        else:
            value = best - np.asarray(stats.offset, np.float64)
        return np.where(has_best, np.clip(value, -SCORE_LIMIT, SCORE_LIMIT), -1.0)
    rest = np.where(np.isfinite(r[:, 1:4]), r[:, 1:4], 0.0)
    if name == "best":
        return best
    if name == "margin":
        return np.where(has_best, best - rest[:, 0], 0.0)
    margin3 = np.where(has_best, best - rest.mean(axis=1), 0.0)
    if name == "margin3":
        return margin3
    return np.where(has_best, best + margin3, -1.0)
