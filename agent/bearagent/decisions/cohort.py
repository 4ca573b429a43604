"""What the cohort scores (``asnorm``, ``individual``) know of each gallery individual.

The cohort of an individual is the gallery's other individuals. Each of its
encounters (the normalised mean of the encounter's references) is compared with
them: its best similarity to every other individual, the top `COHORT_SIZE + 1`
kept (`EnrolmentRows.cohort`), and its best similarity to its own individual's
*other* encounters (`EnrolmentRows.own`: a leave-one-encounter-out genuine score).

Per individual, pooled over its encounters:

- ``cohort_mean`` / ``cohort_spread``: mean and standard deviation of the top
  `COHORT_SIZE` cohort similarities (the candidate side of AS-norm);
- ``offset`` (the ``individual`` score): its own threshold minus the gallery's
  typical one. Its threshold lies halfway between its cohort level and its
  genuine level (the mean ``own``), the genuine level shrunk towards the
  gallery's typical gap by n / (n + 1) for n genuine scores.

`Cohort.stats` gives these for each query's best candidate, optionally leaving
out an individual (a stranger query in leave-one-individual-out calibration: the
stranger must not be in its candidate's cohort) and an encounter (a genuine query
left out of its own individual). Leaving out an individual is exact, since the
lists keep one individual more than they use; leaving out an encounter drops its
row (the other encounters' ``own`` still count its references).

`CohortSummary` is the compact per-individual table the agent decides with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bearagent.decisions.scores import COHORT_SIZE, SPREAD_FLOOR, CandidateStats

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class CohortSummary:
    """Per-individual cohort statistics, by individual id (equal when their key is)."""

    ids: tuple[str, ...]
    cohort_mean: FloatArray
    cohort_spread: FloatArray
    offset: FloatArray
    key: str = ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CohortSummary):
            return NotImplemented
        return self.key == other.key and self.as_json() == other.as_json()

    def __hash__(self) -> int:
        return hash((self.key, self.ids))

    def lookup(self, best_ids: Sequence[str | None]) -> CandidateStats:
        """Statistics of each query's best candidate; the gallery's medians for an individual
        the table does not hold (one enrolled after it was computed, a provisional one)."""
        index = {name: i for i, name in enumerate(self.ids)}
        rows = np.array([index.get(str(b), -1) if b is not None else -1 for b in best_ids])
        fallback = self.typical()

        def pick(values: FloatArray, default: float) -> FloatArray:
            if len(values) == 0:
                return np.full(len(rows), default)
            return np.where(rows >= 0, values[np.maximum(rows, 0)], default)

        return CandidateStats(
            pick(self.cohort_mean, fallback[0]),
            pick(self.cohort_spread, fallback[1]),
            pick(self.offset, fallback[2]),
        )

    def typical(self) -> tuple[float, float, float]:
        """The medians (mean, spread) and offset 0: for an individual without statistics."""
        if len(self.ids) == 0:
            return 0.0, SPREAD_FLOOR, 0.0
        return float(np.median(self.cohort_mean)), float(np.median(self.cohort_spread)), 0.0

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ids and rounded numbers)."""
        return {
            "ids": list(self.ids),
            "cohort_mean": [round(float(v), 6) for v in self.cohort_mean],
            "cohort_spread": [round(float(v), 6) for v in self.cohort_spread],
            "offset": [round(float(v), 6) for v in self.offset],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], key: str = "") -> CohortSummary:
        """The table `as_json` wrote."""
        return cls(
            tuple(str(i) for i in data["ids"]),
            np.asarray(data["cohort_mean"], np.float64),
            np.asarray(data["cohort_spread"], np.float64),
            np.asarray(data["offset"], np.float64),
            key,
        )


@dataclass(frozen=True)
class EnrolmentRows:
    """Each gallery encounter against the rest of the gallery (see the module docstring)."""

    owner: IntArray  # (E,) index of the encounter's individual
    cohort: FloatArray  # (E, COHORT_SIZE + 1) best-first similarities to other individuals
    cohort_ids: IntArray  # (E, COHORT_SIZE + 1) the individual of each (-1: none)
    own: FloatArray  # (E,) best similarity to its individual's other encounters (NaN: none)


def _pooled(values: FloatArray) -> tuple[float, float, int]:
    """Sum, sum of squares and count of the finite values."""
    finite = values[np.isfinite(values)]
    return float(finite.sum()), float((finite**2).sum()), len(finite)


class Cohort:
    """Cohort statistics of a gallery's individuals, with leave-out on demand."""

    def __init__(self, ids: Sequence[str], rows: EnrolmentRows) -> None:
        self.ids = tuple(ids)
        self.rows = rows
        self._rows_of: list[IntArray] = [
            np.flatnonzero(rows.owner == i).astype(np.int64) for i in range(len(self.ids))
        ]
        self._summary = self._summarise()

    @property
    def summary(self) -> CohortSummary:
        """The per-individual table (nothing left out)."""
        return self._summary

    def _summarise(self) -> CohortSummary:
        m = len(self.ids)
        top = self.rows.cohort[:, :COHORT_SIZE]
        finite = np.isfinite(top)
        values = np.where(finite, top, 0.0)
        owner = self.rows.owner

        def per_individual(weights: FloatArray) -> FloatArray:
            return np.asarray(np.bincount(owner, weights, minlength=m), np.float64)

        total = per_individual(values.sum(axis=1))
        squares = per_individual((values**2).sum(axis=1))
        count = per_individual(finite.sum(axis=1).astype(np.float64))
        own_ok = np.isfinite(self.rows.own)
        own_sum = per_individual(np.where(own_ok, self.rows.own, 0.0))
        own_n = per_individual(own_ok.astype(np.float64))
        mean, spread = _moments(total, squares, count)
        self._gap = _typical_gap(mean, own_sum, own_n)
        threshold = _thresholds(mean, own_sum, own_n, self._gap)
        self._typical_threshold = (
            float(np.nanmedian(threshold)) if np.isfinite(threshold).any() else 0.0
        )
        typical = (
            float(np.nanmedian(mean)) if np.isfinite(mean).any() else 0.0,
            float(np.nanmedian(spread)) if np.isfinite(spread).any() else SPREAD_FLOOR,
        )
        has = count > 0
        return CohortSummary(
            self.ids,
            np.where(has, mean, typical[0]),
            np.where(has, spread, typical[1]),
            np.where(has, threshold - self._typical_threshold, 0.0),
        )

    def stats(
        self,
        best: Sequence[int] | IntArray,
        leave_out_individual: Sequence[int] | IntArray | None = None,
        leave_out_encounter: Sequence[int] | IntArray | None = None,
    ) -> CandidateStats:
        """Statistics of each query's best candidate (index into `ids`; -1: none), leaving out
        one individual's cohort entries and one encounter row per query (-1: nothing)."""
        best_ = np.asarray(best, np.int64)
        q = len(best_)
        ind = np.full(q, -1) if leave_out_individual is None else np.asarray(leave_out_individual)
        enc = np.full(q, -1) if leave_out_encounter is None else np.asarray(leave_out_encounter)
        s = self._summary
        mean_t, spread_t, _ = s.typical()
        out_mean, out_spread, out_offset = np.full(q, mean_t), np.full(q, spread_t), np.zeros(q)
        for i in range(q):
            e = int(best_[i])
            if e < 0:
                continue
            rows = self._rows_of[e]
            touched = int(ind[i]) >= 0 and bool(np.any(self.rows.cohort_ids[rows] == ind[i]))
            if not touched and int(enc[i]) not in set(rows.tolist()):
                out_mean[i], out_spread[i], out_offset[i] = (
                    s.cohort_mean[e], s.cohort_spread[e], s.offset[e]
                )  # fmt: skip
                continue
            out_mean[i], out_spread[i], out_offset[i] = self._left_out(
                rows, int(ind[i]), int(enc[i])
            )
        return CandidateStats(out_mean, np.maximum(out_spread, SPREAD_FLOOR), out_offset)

    def _left_out(
        self, rows: IntArray, individual: int, encounter: int
    ) -> tuple[float, float, float]:
        """(mean, spread, offset) of one individual from `rows`, leaving the two out."""
        rows = rows[rows != encounter]
        if len(rows) == 0:
            mean_t, spread_t, _ = self._summary.typical()
            return mean_t, spread_t, 0.0
        values = np.where(self.rows.cohort_ids[rows] == individual, np.nan, self.rows.cohort[rows])
        top = -np.sort(-np.where(np.isfinite(values), values, -np.inf), axis=1)[:, :COHORT_SIZE]
        top = np.where(np.isfinite(top), top, np.nan)
        total, squares, count = _pooled(top)
        own = self.rows.own[rows]
        own_ok = np.isfinite(own)
        mean, spread = _moments(np.array([total]), np.array([squares]), np.array([float(count)]))
        threshold = _thresholds(
            mean, np.array([own[own_ok].sum()]), np.array([float(own_ok.sum())]), self._gap
        )
        if count == 0:
            mean_t, spread_t, _ = self._summary.typical()
            return mean_t, spread_t, 0.0
        return float(mean[0]), float(spread[0]), float(threshold[0]) - self._typical_threshold


def _moments(
    total: FloatArray, squares: FloatArray, count: FloatArray
) -> tuple[FloatArray, FloatArray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
        var = np.maximum(squares / count - mean**2, 0.0)
    return mean, np.maximum(np.sqrt(var), SPREAD_FLOOR)


def _typical_gap(mean: FloatArray, own_sum: FloatArray, own_n: FloatArray) -> float:
    """The gallery's median gap between an individual's genuine and cohort levels."""
    ok = (own_n > 0) & np.isfinite(mean)
    if not ok.any():
        return 0.0
    return float(np.median(own_sum[ok] / own_n[ok] - mean[ok]))


def _thresholds(mean: FloatArray, own_sum: FloatArray, own_n: FloatArray, gap: float) -> FloatArray:
    """Halfway between the cohort level and the (shrunk) genuine level."""
    with np.errstate(divide="ignore", invalid="ignore"):
        own_gap = np.where(own_n > 0, own_sum / np.maximum(own_n, 1) - mean, gap)
    weight = own_n / (own_n + 1.0)
    return mean + 0.5 * (weight * own_gap + (1.0 - weight) * gap)


def enrolment_rows(
    means: FloatArray,
    means_owner: IntArray,
    means_encounter: IntArray,
    references: NDArray[np.float32],
    starts: IntArray,
    reference_encounter: IntArray,
    block: int = 16,
) -> EnrolmentRows:
    """`EnrolmentRows` of encounter `means` against `references` grouped by owner.

    `references` rows are sorted by owner (individual j's rows start at ``starts[j]``);
    `reference_encounter` and `means_encounter` say which encounter each row and mean is.
    """
    m = len(starts)
    depth = COHORT_SIZE + 1
    e = len(means)
    cohort = np.full((e, depth), np.nan)
    cohort_ids = np.full((e, depth), -1, np.int64)
    own = np.full(e, np.nan)
    refs = np.asarray(references, np.float32)
    for lo in range(0, e, block):
        sl = slice(lo, lo + block)
        sims = np.asarray(means[sl], np.float32) @ refs.T
        sims[means_encounter[sl, None] == reference_encounter[None, :]] = -np.inf
        per = np.maximum.reduceat(sims, starts, axis=1).astype(np.float64) if m else sims[:, :0]
        r = np.arange(len(per))
        own_value = per[r, means_owner[sl]].copy()
        own[sl] = np.where(np.isfinite(own_value), own_value, np.nan)
        per[r, means_owner[sl]] = -np.inf
        k = min(depth, m)
        order = np.argsort(-per, axis=1, kind="stable")[:, :k]
        values = np.take_along_axis(per, order, axis=1)
        finite = np.isfinite(values)
        cohort[sl, :k] = np.where(finite, values, np.nan)
        cohort_ids[sl, :k] = np.where(finite, order, -1)
    return EnrolmentRows(np.asarray(means_owner, np.int64), cohort, cohort_ids, own)
