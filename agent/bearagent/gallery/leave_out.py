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


@dataclass
class _Layout:
    """The gallery's references grouped by owner, and which encounter each row is."""

    refs: NDArray[np.float32]  # rows sorted by owner
    starts: IntArray  # first row of each individual
    names: list[str]  # each individual's id
    encounter_of: IntArray  # each row's encounter
    enc_owner: IntArray  # each encounter's individual
    pairs: list[str]  # each row's "individual\x00encounter"

    @property
    def per_individual(self) -> IntArray:
        """Encounters of each individual."""
        return np.bincount(self.enc_owner, minlength=len(self.starts))


def _layout(embeddings: NDArray[np.float32], individuals: list[str], encounters: list[str]
            ) -> _Layout:  # fmt: skip
    owner_of, _ = factorize(individuals)
    order = np.argsort(owner_of, kind="stable")
    grouped = bool(np.all(order == np.arange(len(order))))  # as the database returns them
    refs = np.asarray(embeddings, np.float32)
    refs = refs if grouped else refs[order]  # no second copy of a large gallery when grouped
    owner = owner_of[order]
    first = np.append(True, owner[1:] != owner[:-1])
    names = [individuals[i] for i in order[first].tolist()]
    pairs = [f"{individuals[i]}\x00{encounters[i]}" for i in order.tolist()]
    encounter_of, n_encounters = factorize(pairs)
    enc_owner = np.zeros(n_encounters, np.int64)
    enc_owner[encounter_of] = owner
    return _Layout(refs, np.flatnonzero(first), names, encounter_of, enc_owner, pairs)


class _Collected:
    """The per-query results of `leave_out`, filled block by block."""

    def __init__(self, n: int) -> None:
        self.cohort = np.full((n, COHORT_SIZE + 1), np.nan)
        self.cohort_ids = np.full((n, COHORT_SIZE + 1), -1, np.int64)
        self.own_sim = np.full(n, np.nan)
        self.strangers = np.full((n, NEIGHBOURS), np.nan)
        self.s_best = np.full(n, -1, np.int64)
        self.genuine: list[FloatArray] = []
        self.g_best: list[IntArray] = []
        self.g_row: list[IntArray] = []

    def block(self, g: _Layout, rows: IntArray, q: IntArray, rows_of: dict[int, IntArray]
              ) -> None:  # fmt: skip
        """Search one block of query encounters `q` (result rows `rows`)."""
        means = np.stack([g.refs[rows_of[e]].sum(axis=0) for e in q.tolist()])
        means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        sims = means @ g.refs.T  # (B, N)
        own, block = g.enc_owner[q], np.arange(len(q))
        alone = np.maximum.reduceat(sims, g.starts, axis=1)  # (B, M)
        alone[block, own] = -np.inf  # leave the whole individual out: a stranger
        top, top_ids = _top(alone, max(NEIGHBOURS, COHORT_SIZE + 1))
        self.strangers[rows], self.s_best[rows] = top[:, :NEIGHBOURS], top_ids[:, 0]
        self.cohort[rows] = top[:, : COHORT_SIZE + 1]
        self.cohort_ids[rows] = top_ids[:, : COHORT_SIZE + 1]
        for r, e in zip(block.tolist(), q.tolist(), strict=True):
            sims[r, rows_of[e]] = -np.inf  # leave the query's own encounter out
        left = np.maximum.reduceat(sims, g.starts, axis=1)
        own_value = left[block, own].astype(np.float64)
        has_more = g.per_individual[own] >= 2
        self.own_sim[rows] = np.where(has_more & np.isfinite(own_value), own_value, np.nan)
        if has_more.any():
            g_top, g_ids = _top(left[has_more], NEIGHBOURS)
            self.genuine.append(g_top)
            self.g_best.append(g_ids[:, 0])
            self.g_row.append(rows[has_more])


def leave_out(
    embeddings: NDArray[np.float32],
    individuals: list[str],
    encounters: list[str],
    max_queries: int = 1000,
    seed: int = 0,
) -> LeaveOut:
    """The genuine and stranger queries of a gallery, and its cohort (module docstring)."""
    g = _layout(embeddings, individuals, encounters)
    n_encounters = len(g.enc_owner)
    queries = np.arange(n_encounters)
    if n_encounters > max_queries:
        queries = np.sort(np.random.default_rng(seed).choice(queries, max_queries, replace=False))
    rows_of = _rows_of_encounters(g.encounter_of, queries)
    out = _Collected(len(queries))
    for lo in range(0, len(queries), _BLOCK):
        q = queries[lo : lo + _BLOCK]
        out.block(g, np.arange(lo, lo + len(q)), q, rows_of)
    first_row = np.zeros(n_encounters, np.int64)
    first_row[g.encounter_of[::-1]] = np.arange(len(g.encounter_of))[::-1]
    split = (g.pairs[int(first_row[q])].partition("\x00") for q in queries.tolist())
    cat = np.concatenate
    g_best = cat(out.g_best) if out.g_best else np.zeros(0, np.int64)
    g_row = cat(out.g_row) if out.g_row else np.zeros(0, np.int64)
    owners = g.enc_owner[queries]
    return LeaveOut(
        genuine=cat(out.genuine) if out.genuine else np.zeros((0, NEIGHBOURS)),
        genuine_best=g_best,
        genuine_row=g_row,
        correct=g_best == owners[g_row],
        strangers=out.strangers,
        strangers_best=out.s_best,
        strangers_owner=owners,
        eligible=int((g.per_individual >= 2).sum()),
        cohort=Cohort(g.names, EnrolmentRows(owners, out.cohort, out.cohort_ids, out.own_sim)),
        encounter_keys=tuple((who, key) for who, _, key in split),
    )
