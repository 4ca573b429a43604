"""Local-feature verification of the top-k candidates, fused with the global score (bench kit).

For each query chip: its `TOP` best individuals by the global embedding; for
each, the query's best `REFS` reference chips of that individual; the
candidate's verification score is the most RANSAC inliers with one of them
(`bearagent.matching.verify.LocalVerifier`). A logistic regression fitted on
*val* turns (global similarity, log(1 + inliers)) into one calibrated score
(the fusion happens after calibration, on val, never on test), and the
candidates are re-ranked by it. Per encounter, a candidate's features are the
mean over the encounter's chips.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from bearagent.chips import decode_chip
from bearagent.matching.verify import LocalFeatures, LocalVerifier
from beartrain.evaluation import EmbeddedSet

TOP = 3
REFS = 2


@dataclass(frozen=True)
class Candidates:
    """Per query: candidate individuals, their global similarity, inliers, and the truth."""

    names: NDArray[np.str_]  # (Q, TOP)
    similarity: NDArray[np.float64]  # (Q, TOP)
    inliers: NDArray[np.float64]  # (Q, TOP)
    truth: NDArray[np.str_]  # (Q,)
    encounters: NDArray[np.str_]  # (Q,)
    seconds: float  # verification time (features of the query + matching)

    def features(self) -> NDArray[np.float64]:
        """(Q * TOP, 2): similarity and log(1 + inliers)."""
        return np.stack([self.similarity.ravel(), np.log1p(self.inliers).ravel()], axis=1)

    def labels(self) -> NDArray[np.bool_]:
        """(Q * TOP,): whether each candidate is the query's individual."""
        out: NDArray[np.bool_] = (self.names == self.truth[:, None]).ravel()
        return out


class FeatureCache:
    """Local features per chip path, computed once."""

    def __init__(self, root: Path, verifier: LocalVerifier) -> None:
        self.root, self.verifier = root, verifier
        self._cache: dict[str, LocalFeatures] = {}

    def get(self, path: str) -> LocalFeatures:
        if path not in self._cache:
            image = decode_chip((self.root / path).read_bytes())
            self._cache[path] = self.verifier.features(image)
        return self._cache[path]


def candidates(
    queries: EmbeddedSet,
    query_paths: list[str],
    gallery: EmbeddedSet,
    gallery_paths: list[str],
    cache: FeatureCache,
    exclude_own_encounter: bool,
) -> Candidates:
    """Top candidates of every query chip, with their inliers."""
    sims = queries.embeddings.astype(np.float64) @ gallery.embeddings.astype(np.float64).T
    glabels = np.asarray(gallery.labels, dtype=str)
    if exclude_own_encounter:
        own = np.asarray(queries.encounters)[:, None] == np.asarray(gallery.encounters)[None, :]
        sims[own] = -np.inf
    individuals = np.unique(glabels)
    per = np.stack([sims[:, glabels == n].max(axis=1) for n in individuals], axis=1)
    order = np.argsort(-per, axis=1)[:, :TOP]
    names = individuals[order]
    similarity = np.take_along_axis(per, order, axis=1)
    inliers = np.zeros_like(similarity)
    started = time.perf_counter()
    for q in range(len(query_paths)):
        mine = cache.get(query_paths[q])
        for c in range(names.shape[1]):
            cols = np.flatnonzero(glabels == names[q, c])
            best = cols[np.argsort(-sims[q, cols])[:REFS]]
            best = best[np.isfinite(sims[q, best])]
            inliers[q, c] = max(
                (cache.verifier.inliers(mine, cache.get(gallery_paths[g])) for g in best),
                default=0,
            )
    seconds = time.perf_counter() - started
    return Candidates(names, similarity, inliers, np.asarray(queries.labels, dtype=str),
                      np.asarray(queries.encounters, dtype=str), seconds)  # fmt: skip


def fit_fusion(val: Candidates) -> LogisticRegression:
    """The calibrated fusion of global similarity and inliers, fitted on val candidates."""
    model = LogisticRegression(C=1.0)
    model.fit(val.features(), val.labels())
    return model


def reranked_accuracy(test: Candidates, fusion: LogisticRegression | None) -> dict[str, float]:
    """acc@1 per chip and per encounter, by the global score (None) or the fused one.

    Per encounter, each candidate's mean score over the encounter's chips (0 where a
    chip does not list it): a vote of the chips, the same rule for both scores.
    """
    q, k = test.names.shape
    if fusion is None:
        score = np.clip(test.similarity, 0.0, None)
    else:
        score = fusion.predict_proba(test.features())[:, 1].reshape(q, k)
    chip = float(np.mean(test.names[np.arange(q), np.argmax(score, axis=1)] == test.truth))
    hits = []
    for enc in np.unique(test.encounters):
        rows = np.flatnonzero(test.encounters == enc)
        totals: dict[str, float] = {}
        for r in rows:
            for c in range(k):
                totals[test.names[r, c]] = totals.get(test.names[r, c], 0.0) + score[r, c]
        best = max(totals, key=lambda n: totals[n] / len(rows))
        hits.append(best == test.truth[rows[0]])
    return {"chip_acc1": chip, "enc_acc1": float(np.mean(hits))}
