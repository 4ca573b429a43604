"""accuracy@k as defined in docs/design.md, vectorised in numpy.

A query's true individual is ranked among the gallery's *distinct individuals*,
each scored by its best cosine similarity to the query; accuracy@k is the share
of queries whose individual is among the k highest. The reference work's top-k
over the k nearest *images* is `image_top_k`. Gallery entries can be excluded
per query (``exclude[q, g]``), e.g. the query's own encounter when the gallery is
the query set itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32] | NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def similarities(
    query: FloatArray, gallery: FloatArray, exclude: BoolArray | None = None
) -> NDArray[np.float64]:
    """Cosine similarities (Q, G) of L2-normalised rows; excluded pairs get -inf."""
    sims = np.asarray(query, dtype=np.float64) @ np.asarray(gallery, dtype=np.float64).T
    if exclude is not None:
        sims[exclude] = -np.inf
    return sims


def individual_scores(
    sims: NDArray[np.float64], gallery_labels: Sequence[str]
) -> tuple[NDArray[np.str_], NDArray[np.float64]]:
    """Distinct gallery individuals (L,) and each query's best similarity to each (Q, L)."""
    names, inverse = np.unique(np.asarray(gallery_labels, dtype=str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(names)))
    if sims.shape[0] == 0:
        return names, np.zeros((0, len(names)))
    best: NDArray[np.float64] = np.maximum.reduceat(sims[:, order], starts, axis=1)
    return names, best


def true_ranks(
    names: NDArray[np.str_], scores: NDArray[np.float64], query_labels: Sequence[str]
) -> NDArray[np.float64]:
    """1-based rank of each query's individual (inf when it is not in the gallery).

    Rank = 1 + the number of individuals scored strictly higher than the true one.
    """
    labels = np.asarray(query_labels, dtype=str)
    idx = np.searchsorted(names, labels)
    idx = np.minimum(idx, max(len(names) - 1, 0))
    present = (names[idx] == labels) if len(names) else np.zeros(len(labels), dtype=bool)
    true = scores[np.arange(len(labels)), idx] if len(names) else np.zeros(len(labels))
    ranks: NDArray[np.float64] = 1.0 + (scores > true[:, None]).sum(axis=1).astype(np.float64)
    # A true individual whose every chip was excluded cannot be found.
    ranks[~present | ~np.isfinite(true)] = np.inf
    return ranks


def accuracy_at_k(
    query: FloatArray,
    query_labels: Sequence[str],
    gallery: FloatArray,
    gallery_labels: Sequence[str],
    ks: Sequence[int] = (1, 3, 5, 10),
    exclude: BoolArray | None = None,
) -> dict[int, float]:
    """Share of queries whose individual is among the k best-ranked gallery individuals."""
    if len(query_labels) == 0:
        return {k: float("nan") for k in ks}
    names, scores = individual_scores(similarities(query, gallery, exclude), gallery_labels)
    ranks = true_ranks(names, scores, query_labels)
    return {k: float(np.mean(ranks <= k)) for k in ks}


def image_top_k(
    query: FloatArray,
    query_labels: Sequence[str],
    gallery: FloatArray,
    gallery_labels: Sequence[str],
    ks: Sequence[int] = (1, 3, 5, 10),
    exclude: BoolArray | None = None,
) -> dict[int, float]:
    """The reference work's figure: the true individual is among the k nearest gallery images."""
    if len(query_labels) == 0:
        return {k: float("nan") for k in ks}
    sims = similarities(query, gallery, exclude)
    order = np.argsort(-sims, axis=1, kind="stable")
    glabels = np.asarray(gallery_labels, dtype=str)
    hits = (glabels[order] == np.asarray(query_labels, dtype=str)[:, None]) & np.isfinite(
        np.take_along_axis(sims, order, axis=1)
    )
    return {k: float(np.mean(hits[:, :k].any(axis=1))) for k in ks}


def aggregate_encounters(
    embeddings: FloatArray,
    labels: Sequence[str],
    encounters: Sequence[str],
    weights: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], list[str], list[str]]:
    """One query per encounter: the re-normalised mean of its chips' normalised embeddings
    (weighted by `weights` per chip when given: `bearagent.decisions.quality`)."""
    enc = np.asarray(encounters, dtype=str)
    keys, inverse = np.unique(enc, return_inverse=True)
    sums = np.zeros((len(keys), embeddings.shape[1]))
    emb = np.asarray(embeddings, dtype=np.float64)
    if weights is not None:
        w = np.asarray(weights, np.float64)
        total = np.bincount(inverse, w, minlength=len(keys))
        w = np.where(total[inverse] > 0, w, 1.0)  # an encounter of zero weights: plain mean
        emb = emb * w[:, None]
    np.add.at(sums, inverse, emb)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    means = sums / np.where(norms > 0, norms, 1.0)
    first = np.zeros(len(keys), dtype=int)
    first[inverse[::-1]] = np.arange(len(enc))[::-1]
    enc_labels = [str(labels[i]) for i in first]
    return means, enc_labels, [str(k) for k in keys]
