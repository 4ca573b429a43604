"""Gallery-side re-ranking: cheap changes to the embeddings before the k-NN search.

- `gallery_expansion` (database-side augmentation, label-aware): each gallery
  chip becomes the normalised weighted mean of itself and its `k` most similar
  chips *of the same individual*, which pulls an individual's chips together
  (day and night, near and far) without ever mixing two individuals;
- `query_expansion` (alpha query expansion): each query becomes the normalised
  mean of itself and its `k` nearest gallery chips weighted by similarity^alpha,
  the classic retrieval trick (it follows the query's neighbourhood, right or
  wrong).

Both keep unit-norm rows, so every metric and the decision rule apply as they
are. They are evaluated per chip and per encounter by `bench/bench_embedder.py`;
on a disjoint split (the subset is its own gallery) they would mix a query's own
encounter into its gallery, so the bench applies them to open splits only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from beartrain.evaluation.embedded import EmbeddedSet

FloatArray = NDArray[np.float32] | NDArray[np.float64]


def _normalise(x: NDArray[np.float64]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: NDArray[np.float32] = (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return out


def gallery_expansion(gallery: EmbeddedSet, k: int = 2, alpha: float = 3.0) -> EmbeddedSet:
    """Each gallery chip averaged with its k most similar chips of its own individual."""
    emb = np.asarray(gallery.embeddings, np.float64)
    labels = np.asarray(gallery.labels, dtype=str)
    out = emb.copy()
    for name in np.unique(labels):
        idx = np.flatnonzero(labels == name)
        sims = emb[idx] @ emb[idx].T
        np.fill_diagonal(sims, -np.inf)
        take = min(k, len(idx) - 1)
        if take <= 0:
            continue
        nearest = np.argsort(-sims, axis=1)[:, :take]
        weights = np.clip(np.take_along_axis(sims, nearest, axis=1), 0.0, None) ** alpha
        out[idx] = emb[idx] + (weights[:, :, None] * emb[idx][nearest]).sum(axis=1)
    return EmbeddedSet(_normalise(out), gallery.labels, gallery.encounters, gallery.known)


def query_expansion(
    queries: FloatArray, gallery: FloatArray, k: int = 2, alpha: float = 3.0
) -> NDArray[np.float32]:
    """Each query averaged with its k nearest gallery chips (weights similarity^alpha)."""
    q = np.asarray(queries, np.float64)
    g = np.asarray(gallery, np.float64)
    if len(q) == 0 or len(g) == 0:
        return q.astype(np.float32)
    sims = q @ g.T
    take = min(k, len(g))
    nearest = np.argsort(-sims, axis=1)[:, :take]
    weights = np.clip(np.take_along_axis(sims, nearest, axis=1), 0.0, None) ** alpha
    return _normalise(q + (weights[:, :, None] * g[nearest]).sum(axis=1))


def expand_queries(queries: EmbeddedSet, gallery: EmbeddedSet, k: int = 2) -> EmbeddedSet:
    """`query_expansion` of every chip of a subset against the gallery."""
    return EmbeddedSet(
        query_expansion(queries.embeddings, gallery.embeddings, k),
        queries.labels,
        queries.encounters,
        queries.known,
    )
