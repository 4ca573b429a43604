"""Open-set queries of a subset: each query's ranked individuals, as the agent would see them.

A query (a chip, or an encounter's normalised mean embedding) is matched against a
gallery; its distinct individuals are ranked by their best similarity (docs/design.md,
accuracy@k) and the top `bearagent.decisions.NEIGHBOURS` of them make its
``ranked`` row, the input of `bearagent.decisions.open_set_score`.

*Genuine* queries have their individual in the gallery (and ``correct`` says
whether it ranks first); *strangers* do not. Where they come from depends on the
split kind:

- open split: gallery = the train chips; genuine = the subset's chips of known
  individuals; strangers = its chips of held-out individuals;
- disjoint split: the subset is its own gallery; genuine = each query against the
  chips of other encounters (never its own: a burst would make it trivial);
  strangers = each query against the chips of *other individuals* only
  (leave-one-individual-out, as the agent calibrates on its own gallery).

The cohort scores (``asnorm``, ``individual``) also need the gallery's statistics of
each query's best candidate (`bearagent.decisions.cohort`): on an open split from
the train chips; on a disjoint split from the subset itself, leaving out what the
query leaves out (its own encounter for a genuine query, its individual for a
stranger), as the agent's gallery calibration does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bearagent.decisions import COHORT_SCORES, NEIGHBOURS, CandidateStats, open_set_score
from bearagent.gallery.leave_out import LeaveOut, leave_out
from beartrain.evaluation.embedded import EmbeddedSet
from beartrain.evaluation.metrics import (
    FloatArray,
    aggregate_encounters,
    individual_scores,
    similarities,
)

Level = Literal["chip", "encounter"]
LEVELS: tuple[Level, ...] = ("chip", "encounter")


@dataclass(frozen=True)
class OpenSetQueries:
    """Ranked similarities of genuine and stranger queries at one level."""

    level: Level
    genuine: NDArray[np.float64]  # (N, NEIGHBOURS) best-first, NaN-padded
    correct: NDArray[np.bool_]  # (N,) the best-ranked individual is the true one
    strangers: NDArray[np.float64]  # (M, NEIGHBOURS)
    genuine_stats: CandidateStats | None = None  # of each best candidate (cohort scores)
    stranger_stats: CandidateStats | None = None

    def scores(self, name: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(genuine, stranger) scores of the open-set score `name`."""
        return (
            open_set_score(name, self.genuine, self.genuine_stats),
            open_set_score(name, self.strangers, self.stranger_stats),
        )

    def scorable(self, names: Sequence[str]) -> tuple[str, ...]:
        """The scores of `names` these queries can give: a cohort score needs the cohort
        statistics of both the genuine and the stranger queries' candidates."""
        has_stats = self.genuine_stats is not None and self.stranger_stats is not None
        return tuple(n for n in names if has_stats or n not in COHORT_SCORES)

    def describe(self, subset: str) -> str:
        """What the queries are, for a card's ``validation_set``."""
        what = "encounters (mean embeddings)" if self.level == "encounter" else "chips"
        return f"{subset}: {len(self.genuine)} known and {len(self.strangers)} unknown {what}"


def ranked_against(
    query: FloatArray,
    gallery: FloatArray,
    gallery_labels: Sequence[str],
    exclude: NDArray[np.bool_] | None = None,
    k: int = NEIGHBOURS,
) -> tuple[NDArray[np.float64], NDArray[np.str_]]:
    """(Q, k) best-first similarities of each query's distinct individuals and its top-1 name.

    Excluded pairs do not count; an individual with no chip left, or a gallery of
    fewer than k individuals, leaves NaN (and "" as name when there is none at all).
    """
    if len(query) == 0 or len(gallery_labels) == 0:
        return np.full((len(query), k), np.nan), np.full(len(query), "", dtype=str)
    names, scores = individual_scores(similarities(query, gallery, exclude), gallery_labels)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    ranked = np.take_along_axis(scores, order, axis=1)
    top = names[order[:, 0]]
    ranked = np.where(np.isfinite(ranked), ranked, np.nan)
    if ranked.shape[1] < k:
        ranked = np.pad(ranked, ((0, 0), (0, k - ranked.shape[1])), constant_values=np.nan)
    top = np.where(np.isfinite(ranked[:, 0]), top, "")
    return ranked, top


def _queries(
    level: Level, gallery: EmbeddedSet, queries: EmbeddedSet
) -> tuple[FloatArray, list[str], list[str]]:
    if level == "chip":
        return queries.embeddings, queries.labels, queries.encounters
    enc, labels, keys = aggregate_encounters(
        queries.embeddings, queries.labels, queries.encounters, queries.weights
    )
    return enc, labels, keys


def gallery_leave_out(gallery: EmbeddedSet) -> LeaveOut:
    """The gallery's leave-out queries and cohort (every encounter: no sampling)."""
    return leave_out(gallery.embeddings, gallery.labels, gallery.encounters, max_queries=1 << 62)


def _best_index(lo: LeaveOut, top: NDArray[np.str_]) -> NDArray[np.int64]:
    index = {name: i for i, name in enumerate(lo.cohort.ids)}
    return np.array([index.get(str(t), -1) for t in top], np.int64)


def open_queries(gallery: EmbeddedSet, queries: EmbeddedSet, level: Level) -> OpenSetQueries:
    """Open-split queries at `level`: known ones are genuine, held-out ones strangers."""
    known, unknown = queries.select(queries.known), queries.select(~queries.known)
    g, gl = gallery.embeddings, gallery.labels
    q, labels, _ = _queries(level, gallery, known)
    ranked, top = ranked_against(q, g, gl)
    s, _, _ = _queries(level, gallery, unknown)
    strangers, s_top = ranked_against(s, g, gl)
    lo = gallery_leave_out(gallery)
    return OpenSetQueries(
        level,
        ranked,
        top == np.asarray(labels, dtype=str),
        strangers,
        lo.cohort.stats(_best_index(lo, top)),
        lo.cohort.stats(_best_index(lo, s_top)),
    )


def disjoint_queries(queries: EmbeddedSet, level: Level) -> OpenSetQueries:
    """Disjoint-split queries at `level` within the subset (see the module docstring)."""
    g, gl = queries.embeddings, queries.labels
    chip_enc = np.asarray(queries.encounters, dtype=str)
    chip_ind = np.asarray(gl, dtype=str)
    q, labels, keys = _queries(level, queries, queries)
    q_enc = np.asarray(keys, dtype=str)
    q_ind = np.asarray(labels, dtype=str)
    own_encounter = q_enc[:, None] == chip_enc[None, :]
    own_individual = q_ind[:, None] == chip_ind[None, :]
    ranked, top = ranked_against(q, g, gl, exclude=own_encounter)
    # A query whose individual has no other encounter cannot be genuine: leave it out.
    findable = (own_individual & ~own_encounter).any(axis=1)
    strangers, s_top = ranked_against(q, g, gl, exclude=own_individual)
    correct = top == q_ind
    lo = gallery_leave_out(queries)
    row_of = {key: i for i, key in enumerate(lo.encounter_keys)}
    own_row = np.array(
        [row_of.get((str(i), str(e)), -1) for i, e in zip(q_ind, q_enc, strict=True)]
    )
    index = {name: i for i, name in enumerate(lo.cohort.ids)}
    own_ind = np.array([index.get(str(i), -1) for i in q_ind], np.int64)
    g_stats = lo.cohort.stats(_best_index(lo, top[findable]), leave_out_encounter=own_row[findable])
    s_stats = lo.cohort.stats(_best_index(lo, s_top), leave_out_individual=own_ind)
    return OpenSetQueries(level, ranked[findable], correct[findable], strangers, g_stats, s_stats)


def subset_queries(
    kind: str, gallery: EmbeddedSet, queries: EmbeddedSet, level: Level
) -> OpenSetQueries:
    """The open-set queries of a subset under the protocol of split `kind`."""
    if kind == "disjoint":
        return disjoint_queries(queries, level)
    return open_queries(gallery, queries, level)
