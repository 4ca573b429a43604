"""Open-set scores: how much a query (a chip, or an encounter's mean embedding) looks like
the individual it matches best. Higher means "looks known".

Every score is a function of the query's similarities to its best-ranked distinct
individuals, sorted from best down (``ranked``, shape (Q, K)):

- ``best``: the best similarity;
- ``margin``: best minus the second best (a known bear stands out from the crowd;
  a stranger is about as close to several);
- ``margin3``: best minus the mean of the next three (less noisy than ``margin``);
- ``blend``: ``best + margin3``, both at once.

A missing neighbour (a gallery of fewer individuals than the score looks at)
counts as similarity 0, an unrelated individual; a query with no candidate at all
scores -1 (``best``) or 0 (the margins), and `bearagent.decisions.decide` calls
it unknown whatever the thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

#: The scores, in report order.
SCORE_NAMES = ("best", "margin", "margin3", "blend")
#: How many ranked individuals the scores look at: search at least this deep.
NEIGHBOURS = 4

FloatArray = NDArray[np.float64]


class Ranked(Protocol):
    """Anything with a similarity (a matcher's candidate)."""

    @property
    def similarity(self) -> float: ...


def ranked_matrix(rows: Sequence[Sequence[Ranked]], k: int = NEIGHBOURS) -> FloatArray:
    """(Q, k) best-first similarities of each row's candidates, NaN where a row has fewer."""
    out = np.full((len(rows), k), np.nan)
    for i, row in enumerate(rows):
        sims = [float(c.similarity) for c in row[:k]]
        out[i, : len(sims)] = sims
    return out


def open_set_score(name: str, ranked: FloatArray) -> FloatArray:
    """Score `name` of each row of `ranked` ((Q, K) best-first similarities, NaN padded)."""
    if name not in SCORE_NAMES:
        raise ValueError(f"unknown open-set score {name!r}: choose one of {', '.join(SCORE_NAMES)}")
    r = np.atleast_2d(np.asarray(ranked, dtype=np.float64))
    if r.shape[1] < NEIGHBOURS:
        r = np.pad(r, ((0, 0), (0, NEIGHBOURS - r.shape[1])), constant_values=np.nan)
    has_best = np.isfinite(r[:, 0])
    best = np.where(has_best, r[:, 0], -1.0)
    rest = np.where(np.isfinite(r[:, 1:NEIGHBOURS]), r[:, 1:NEIGHBOURS], 0.0)
    margin = np.where(has_best, best - rest[:, 0], 0.0)
    margin3 = np.where(has_best, best - rest.mean(axis=1), 0.0)
    scores: dict[str, FloatArray] = {
        "best": best,
        "margin": margin,
        "margin3": margin3,
        "blend": np.where(has_best, best + margin3, -1.0),
    }
    return scores[name]
