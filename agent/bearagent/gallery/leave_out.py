"""The gallery's own queries: each encounter searched with itself, or its individual, left out.

- *genuine*: each encounter's normalised mean embedding, searched with that
  encounter's references left out (leave-one-encounter-out) — its individual is
  still there through its other encounters;
- *strangers*: the same query with all of its individual's references left out
  (leave-one-individual-out) — whoever it matches is wrong.

One pass over (a sample of) the encounters gives both, and the cohort rows of the
cohort scores (`bearagent.decisions.cohort`): a stranger query's ranked
individuals are exactly its encounter's cohort. Memory stays near the references
themselves: only the sampled encounters' means are formed, and each block of
queries masks its own rows in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bearagent.decisions import open_set_score
from bearagent.decisions.cohort import Cohort, EnrolmentRows
from bearagent.decisions.scores import COHORT_SCORES, COHORT_SIZE, NEIGHBOURS

#: Queries per similarity block (block x references float32 stays small).
_BLOCK = 16

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class LeaveOut:
    """Ranked individuals of the gallery's genuine and stranger queries, and the cohort."""

    genuine: FloatArray  # (G, NEIGHBOURS) best-first, NaN padded
    genuine_best: IntArray  # (G,) index of the best-ranked individual
    genuine_row: IntArray  # (G,) the query's row in the cohort's enrolment rows
    correct: NDArray[np.bool_]  # (G,) the best-ranked individual is its own
    strangers: FloatArray  # (S, NEIGHBOURS)
    strangers_best: IntArray  # (S,)
    strangers_owner: IntArray  # (S,) the query's own individual (left out)
    eligible: int  # individuals with two or more encounters
    cohort: Cohort
    encounter_keys: tuple[tuple[str, str], ...]  # (individual, encounter) of each cohort row

    def scores(self, score: str) -> tuple[FloatArray, FloatArray]:
        """(genuine, stranger) scores of `score`, the cohort scores leaving out what the
        query leaves out."""
        if score not in COHORT_SCORES:
            return open_set_score(score, self.genuine), open_set_score(score, self.strangers)
        g_stats = self.cohort.stats(self.genuine_best, leave_out_encounter=self.genuine_row)
        s_stats = self.cohort.stats(self.strangers_best, leave_out_individual=self.strangers_owner)
        return (
            open_set_score(score, self.genuine, g_stats),
            open_set_score(score, self.strangers, s_stats),
        )


def factorize(values: list[str]) -> tuple[IntArray, int]:
    """Each value's index among the distinct values (first seen first), and how many."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
    return codes, len(index)


def _rows_of_encounters(encounter_of: IntArray, wanted: IntArray) -> dict[int, IntArray]:
    """The reference rows of each wanted encounter."""
    keep = np.isin(encounter_of, wanted)
    rows = np.flatnonzero(keep)
    out: dict[int, list[int]] = {}
    for row, e in zip(rows.tolist(), encounter_of[keep].tolist(), strict=True):
        out.setdefault(e, []).append(row)
    return {e: np.asarray(r, np.int64) for e, r in out.items()}


def _top(by_individual: NDArray[np.float32], k: int) -> tuple[FloatArray, IntArray]:
    """The k best similarities of each row, best first (NaN padded), and their columns."""
    k_ = min(k, by_individual.shape[1])
    order = np.argsort(-by_individual, axis=1, kind="stable")[:, :k_]
    values = np.take_along_axis(by_individual, order, axis=1).astype(np.float64)
    finite = np.isfinite(values)
    out = np.full((len(values), k), np.nan)
    ids = np.full((len(values), k), -1, np.int64)
    out[:, :k_], ids[:, :k_] = np.where(finite, values, np.nan), np.where(finite, order, -1)
    return out, ids


def leave_out(
    embeddings: NDArray[np.float32],
    individuals: list[str],
    encounters: list[str],
    max_queries: int = 1000,
    seed: int = 0,
) -> LeaveOut:
    """The genuine and stranger queries of a gallery, and its cohort (module docstring)."""
    owner_of, _ = factorize(individuals)
    order = np.argsort(owner_of, kind="stable")
    grouped = bool(np.all(order == np.arange(len(order))))  # as the database returns them
    refs = np.asarray(embeddings, np.float32)
    refs = refs if grouped else refs[order]  # no second copy of a large gallery when grouped
    owner = owner_of[order]
    names = [individuals[i] for i in order[np.append(True, owner[1:] != owner[:-1])].tolist()]
    pairs = [f"{individuals[i]}\x00{encounters[i]}" for i in order.tolist()]
    encounter_of, n_encounters = factorize(pairs)
    starts = np.flatnonzero(np.append(True, owner[1:] != owner[:-1]))
    enc_owner = np.zeros(n_encounters, np.int64)
    enc_owner[encounter_of] = owner
    per_individual = np.bincount(enc_owner, minlength=len(starts))
    queries = np.arange(n_encounters)
    if n_encounters > max_queries:
        queries = np.sort(np.random.default_rng(seed).choice(queries, max_queries, replace=False))
    rows_of = _rows_of_encounters(encounter_of, queries)
    first_row = np.zeros(n_encounters, np.int64)
    first_row[encounter_of[::-1]] = np.arange(len(encounter_of))[::-1]
    split = (pairs[int(first_row[q])].partition("\x00") for q in queries.tolist())
    keys = tuple((who, key) for who, _, key in split)
    depth = max(NEIGHBOURS, COHORT_SIZE + 1)
    n_q = len(queries)
    cohort = np.full((n_q, COHORT_SIZE + 1), np.nan)
    cohort_ids = np.full((n_q, COHORT_SIZE + 1), -1, np.int64)
    own_sim = np.full(n_q, np.nan)
    strangers = np.full((n_q, NEIGHBOURS), np.nan)
    s_best = np.full(n_q, -1, np.int64)
    genuine, g_best, g_row = [], [], []
    for lo in range(0, n_q, _BLOCK):
        q = queries[lo : lo + _BLOCK]
        rows = np.arange(lo, lo + len(q))
        means = np.stack([refs[rows_of[e]].sum(axis=0) for e in q.tolist()])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        sims = means @ refs.T  # (B, N)
        own = enc_owner[q]
        block = np.arange(len(q))
        alone = np.maximum.reduceat(sims, starts, axis=1)  # (B, M)
        alone[block, own] = -np.inf  # leave the whole individual out: a stranger
        top, top_ids = _top(alone, depth)
        strangers[rows] = top[:, :NEIGHBOURS]
        s_best[rows] = top_ids[:, 0]
        cohort[rows], cohort_ids[rows] = top[:, : COHORT_SIZE + 1], top_ids[:, : COHORT_SIZE + 1]
        for r, e in zip(block.tolist(), q.tolist(), strict=True):
            sims[r, rows_of[e]] = -np.inf  # leave the query's own encounter out
        left = np.maximum.reduceat(sims, starts, axis=1)
        own_value = left[block, own].astype(np.float64)
        has_more = per_individual[own] >= 2
        own_sim[rows] = np.where(has_more & np.isfinite(own_value), own_value, np.nan)
        if has_more.any():
            g_top, g_ids = _top(left[has_more], NEIGHBOURS)
            genuine.append(g_top)
            g_best.append(g_ids[:, 0])
            g_row.append(rows[has_more])
    enrolment = EnrolmentRows(enc_owner[queries], cohort, cohort_ids, own_sim)
    cat = np.concatenate
    g_best_all = cat(g_best) if g_best else np.zeros(0, np.int64)
    g_row_all = cat(g_row) if g_row else np.zeros(0, np.int64)
    return LeaveOut(
        genuine=cat(genuine) if genuine else np.zeros((0, NEIGHBOURS)),
        genuine_best=g_best_all,
        genuine_row=g_row_all,
        correct=g_best_all == enc_owner[queries][g_row_all],
        strangers=strangers,
        strangers_best=s_best,
        strangers_owner=enc_owner[queries],
        eligible=int((per_individual >= 2).sum()),
        cohort=Cohort(names, enrolment),
        encounter_keys=keys,
    )
