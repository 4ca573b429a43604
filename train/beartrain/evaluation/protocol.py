"""Which queries meet which gallery: the evaluation protocols of the two split kinds.

- open split: gallery = the train chips (all of known individuals); queries = the
  subset's chips of known individuals; chips of held-out individuals are the
  unknown queries of the open-set figures.
- disjoint split: the subset is its own gallery (its individuals are unseen in
  training); each query is matched against the other encounters' chips, never
  its own encounter (a burst would make the task trivial). No open-set figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from beartrain.evaluation.metrics import (
    FloatArray,
    accuracy_at_k,
    aggregate_encounters,
    image_top_k,
    individual_scores,
    similarities,
)
from beartrain.evaluation.openset import auroc
from beartrain.evaluation.openset_scores import (
    SCORE_NAMES,
    Cohort,
    gallery_cohort,
    open_set_scores,
)


@dataclass(frozen=True)
class EmbeddedSet:
    """Embeddings of some chips with their labels, encounters and known flags."""

    embeddings: NDArray[np.float32]
    labels: list[str]
    encounters: list[str]
    known: NDArray[np.bool_]

    def select(self, mask: NDArray[np.bool_]) -> EmbeddedSet:
        """The chips where `mask` is true."""
        idx = np.flatnonzero(mask)
        return EmbeddedSet(
            self.embeddings[idx],
            [self.labels[i] for i in idx],
            [self.encounters[i] for i in idx],
            self.known[idx],
        )


@dataclass
class SubsetResult:
    """Metrics of one subset plus the scores the open-set calibration needs.

    Scores are best similarities to the gallery, of chips and of encounters (the
    normalised mean of their chips' embeddings).
    """

    metrics: dict[str, float]
    known_scores: NDArray[np.float64]
    unknown_scores: NDArray[np.float64]
    enc_known_scores: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    enc_unknown_scores: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def scores(self, level: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(known, unknown) best similarities per 'chip' or per 'encounter'."""
        if level == "encounter":
            return self.enc_known_scores, self.enc_unknown_scores
        return self.known_scores, self.unknown_scores


def _best(
    query: NDArray[np.float64] | NDArray[np.float32], gallery: EmbeddedSet
) -> NDArray[np.float64]:
    if len(query) == 0 or len(gallery.labels) == 0:
        return np.zeros(len(query))
    best: NDArray[np.float64] = similarities(query, gallery.embeddings).max(axis=1)
    return best


def _add(metrics: dict[str, float], name: str, values: dict[int, float]) -> None:
    for k, v in values.items():
        metrics[f"{name}{k}"] = v


def evaluate_open(
    gallery: EmbeddedSet, queries: EmbeddedSet, ks: Sequence[int], prefix: str
) -> SubsetResult:
    """Open-split protocol: known queries against the train gallery, unknowns for open set."""
    known_q = queries.select(queries.known)
    unknown_q = queries.select(~queries.known)
    g, gl = gallery.embeddings, gallery.labels
    m: dict[str, float] = {}
    _add(m, f"{prefix}_chip_acc", accuracy_at_k(known_q.embeddings, known_q.labels, g, gl, ks))
    enc, enc_labels, _ = aggregate_encounters(
        known_q.embeddings, known_q.labels, known_q.encounters
    )
    _add(m, f"{prefix}_enc_acc", accuracy_at_k(enc, enc_labels, g, gl, ks))
    _add(m, f"{prefix}_chip_imgtop", image_top_k(known_q.embeddings, known_q.labels, g, gl, ks))
    known_scores, unknown_scores = (
        _best(known_q.embeddings, gallery),
        _best(unknown_q.embeddings, gallery),
    )
    m[f"{prefix}_auroc"] = auroc(known_scores, unknown_scores)
    enc_known, enc_unknown = _best(enc, gallery), np.zeros(0)
    if len(unknown_q.labels):
        u_enc, _, _ = aggregate_encounters(
            unknown_q.embeddings, unknown_q.labels, unknown_q.encounters
        )
        enc_unknown = _best(u_enc, gallery)
        m[f"{prefix}_enc_auroc"] = auroc(enc_known, enc_unknown)
        if len(gallery.labels):
            cohort = gallery_cohort(gallery.embeddings, gallery.labels)
            chips = (known_q.embeddings, unknown_q.embeddings)
            _add_score_aurocs(m, f"{prefix}_", gallery, cohort, chips)
            _add_score_aurocs(m, f"{prefix}_enc_", gallery, cohort, (enc, u_enc))
    else:
        m[f"{prefix}_enc_auroc"] = float("nan")
    m[f"{prefix}_known_queries"] = float(len(known_q.labels))
    m[f"{prefix}_unknown_queries"] = float(len(unknown_q.labels))
    return SubsetResult(m, known_scores, unknown_scores, enc_known, enc_unknown)


def _add_score_aurocs(
    metrics: dict[str, float],
    prefix: str,
    gallery: EmbeddedSet,
    cohort: Cohort,
    queries: tuple[FloatArray, FloatArray],
) -> None:
    """`<prefix>auroc_<score>`: known vs unknown queries under each candidate open-set score."""
    known, unknown = (
        open_set_scores(
            individual_scores(similarities(q, gallery.embeddings), gallery.labels)[1], cohort
        )
        for q in queries
    )
    for name in SCORE_NAMES:
        if name in known:
            metrics[f"{prefix}auroc_{name}"] = auroc(known[name], unknown[name])


def evaluate_disjoint(queries: EmbeddedSet, ks: Sequence[int], prefix: str) -> SubsetResult:
    """Disjoint protocol: leave-one-encounter-out matching within the subset."""
    q, ql, qe = queries.embeddings, queries.labels, np.asarray(queries.encounters, dtype=str)
    m: dict[str, float] = {}
    same = qe[:, None] == qe[None, :]
    _add(m, f"{prefix}_chip_acc", accuracy_at_k(q, ql, q, ql, ks, exclude=same))
    enc, enc_labels, enc_keys = aggregate_encounters(q, ql, queries.encounters)
    enc_same = np.asarray(enc_keys, dtype=str)[:, None] == qe[None, :]
    _add(m, f"{prefix}_enc_acc", accuracy_at_k(enc, enc_labels, q, ql, ks, exclude=enc_same))
    _add(m, f"{prefix}_chip_imgtop", image_top_k(q, ql, q, ql, ks, exclude=same))
    m[f"{prefix}_auroc"] = float("nan")
    m[f"{prefix}_enc_auroc"] = float("nan")
    m[f"{prefix}_known_queries"] = float(len(ql))
    m[f"{prefix}_unknown_queries"] = 0.0
    return SubsetResult(m, np.zeros(0), np.zeros(0))


def evaluate_subset(
    kind: str, gallery: EmbeddedSet, queries: EmbeddedSet, ks: Sequence[int], prefix: str
) -> SubsetResult:
    """Metrics of a subset under the protocol of the split `kind` ('open' or 'disjoint')."""
    if kind == "disjoint":
        return evaluate_disjoint(queries, ks, prefix)
    return evaluate_open(gallery, queries, ks, prefix)
