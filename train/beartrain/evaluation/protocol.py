"""Which queries meet which gallery: the evaluation protocols of the two split kinds.

- open split: gallery = the train chips (all of known individuals); queries = the
  subset's chips of known individuals; chips of held-out individuals are the
  unknown queries of the open-set figures.
- disjoint split: the subset is its own gallery (its individuals are unseen in
  training); each query is matched against the other encounters' chips, never
  its own encounter (a burst would make the task trivial). Open-set figures come
  from leave-one-individual-out strangers (`beartrain.evaluation.queries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from beartrain.evaluation.decision_rule import score_aurocs
from beartrain.evaluation.embedded import EmbeddedSet
from beartrain.evaluation.metrics import (
    accuracy_at_k,
    aggregate_encounters,
    image_top_k,
)
from beartrain.evaluation.queries import LEVELS, Level, OpenSetQueries, subset_queries

__all__ = ["EmbeddedSet", "SubsetResult", "evaluate_subset"]


@dataclass
class SubsetResult:
    """Metrics of one subset, its open-set queries per level, and its embedded chips."""

    metrics: dict[str, float]
    queries: dict[Level, OpenSetQueries] = field(default_factory=dict)
    chips: EmbeddedSet | None = None

    def level(self, level: str) -> OpenSetQueries:
        """The open-set queries per 'chip' or per 'encounter'."""
        return self.queries["encounter" if level == "encounter" else "chip"]


def _add(metrics: dict[str, float], name: str, values: dict[int, float]) -> None:
    for k, v in values.items():
        metrics[f"{name}{k}"] = v


def _open_set_metrics(
    m: dict[str, float], prefix: str, queries: dict[Level, OpenSetQueries]
) -> None:
    """``<prefix>_auroc[_<score>]`` per chip, ``<prefix>_enc_auroc[_<score>]`` per encounter,
    and ``<prefix>_acc_auroc``: the mean of acc@1 per chip and the encounter AUROC (best)."""
    for level, q in queries.items():
        stem = f"{prefix}_auroc" if level == "chip" else f"{prefix}_enc_auroc"
        aurocs = score_aurocs(q)
        m[stem] = aurocs["best"]
        for name, value in aurocs.items():
            m[f"{stem}_{name}"] = value
    chip = queries["chip"]
    m[f"{prefix}_known_queries"] = float(len(chip.genuine))
    m[f"{prefix}_unknown_queries"] = float(len(chip.strangers))
    if f"{prefix}_chip_acc1" in m:
        # Closed-set accuracy and open-set separation at once: a steadier guide for choosing
        # the best epoch on a small val set than acc@1 alone (train.early_stop_metric).
        m[f"{prefix}_acc_auroc"] = 0.5 * (m[f"{prefix}_chip_acc1"] + m[f"{prefix}_enc_auroc"])


def evaluate_open(
    gallery: EmbeddedSet, queries: EmbeddedSet, ks: Sequence[int], prefix: str
) -> SubsetResult:
    """Open-split protocol: known queries against the train gallery, unknowns for open set."""
    known_q = queries.select(queries.known)
    g, gl = gallery.embeddings, gallery.labels
    m: dict[str, float] = {}
    _add(m, f"{prefix}_chip_acc", accuracy_at_k(known_q.embeddings, known_q.labels, g, gl, ks))
    enc, enc_labels, _ = aggregate_encounters(
        known_q.embeddings, known_q.labels, known_q.encounters, known_q.weights
    )
    _add(m, f"{prefix}_enc_acc", accuracy_at_k(enc, enc_labels, g, gl, ks))
    _add(m, f"{prefix}_chip_imgtop", image_top_k(known_q.embeddings, known_q.labels, g, gl, ks))
    levels = {level: subset_queries("open", gallery, queries, level) for level in LEVELS}
    _open_set_metrics(m, prefix, levels)
    return SubsetResult(m, levels, queries)


def evaluate_disjoint(queries: EmbeddedSet, ks: Sequence[int], prefix: str) -> SubsetResult:
    """Disjoint protocol: leave-one-encounter-out matching within the subset."""
    q, ql, qe = queries.embeddings, queries.labels, np.asarray(queries.encounters, dtype=str)
    m: dict[str, float] = {}
    same = qe[:, None] == qe[None, :]
    _add(m, f"{prefix}_chip_acc", accuracy_at_k(q, ql, q, ql, ks, exclude=same))
    enc, enc_labels, enc_keys = aggregate_encounters(q, ql, queries.encounters, queries.weights)
    enc_same = np.asarray(enc_keys, dtype=str)[:, None] == qe[None, :]
    _add(m, f"{prefix}_enc_acc", accuracy_at_k(enc, enc_labels, q, ql, ks, exclude=enc_same))
    _add(m, f"{prefix}_chip_imgtop", image_top_k(q, ql, q, ql, ks, exclude=same))
    levels = {level: subset_queries("disjoint", queries, queries, level) for level in LEVELS}
    _open_set_metrics(m, prefix, levels)
    return SubsetResult(m, levels, queries)


def evaluate_subset(
    kind: str, gallery: EmbeddedSet, queries: EmbeddedSet, ks: Sequence[int], prefix: str
) -> SubsetResult:
    """Metrics of a subset under the protocol of the split `kind` ('open' or 'disjoint')."""
    if kind == "disjoint":
        return evaluate_disjoint(queries, ks, prefix)
    return evaluate_open(gallery, queries, ks, prefix)
