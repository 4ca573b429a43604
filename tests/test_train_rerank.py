"""Gallery-side re-ranking: expansions keep unit norm and never mix two individuals."""

from __future__ import annotations

import numpy as np

from beartrain.evaluation import EmbeddedSet, accuracy_at_k
from beartrain.evaluation.rerank import gallery_expansion, query_expansion


def test_gallery_expansion_stays_within_each_individual() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(9, 6))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = ["a"] * 3 + ["b"] * 4 + ["c"] * 2
    g = EmbeddedSet(emb.astype(np.float32), labels, [f"e{i}" for i in range(9)], np.ones(9, bool))
    out = gallery_expansion(g, k=2)
    np.testing.assert_allclose(np.linalg.norm(out.embeddings, axis=1), 1.0, rtol=1e-5)
    for name in ("a", "b", "c"):
        idx = [i for i, v in enumerate(labels) if v == name]
        basis = emb[idx].T  # each expanded row is a combination of its individual's chips
        coef, *_ = np.linalg.lstsq(basis, out.embeddings[idx].T.astype(np.float64), rcond=None)
        np.testing.assert_allclose(basis @ coef, out.embeddings[idx].T, atol=1e-5)
    assert out.labels == labels


def test_expansions_pull_an_outlier_back_to_its_individual() -> None:
    def unit(a: float) -> list[float]:
        return [np.cos(a), np.sin(a)]

    # A's chips at 0.0 and 0.1 rad and one outlier at 1.0; B's at 1.3 and 1.35.
    gallery = np.array([unit(0.0), unit(0.1), unit(1.0), unit(1.3), unit(1.35)])
    labels = ["A", "A", "A", "B", "B"]
    query = np.array([unit(1.12)])  # a B chip, nearest to A's outlier
    g = EmbeddedSet(gallery.astype(np.float32), labels, list("vwxyz"), np.ones(5, bool))
    assert accuracy_at_k(query, ["B"], gallery, labels, (1,))[1] == 0.0
    expanded = gallery_expansion(g, k=2)
    assert accuracy_at_k(query, ["B"], expanded.embeddings, labels, (1,))[1] == 1.0
    moved = query_expansion(query, gallery, k=2)
    np.testing.assert_allclose(np.linalg.norm(moved, axis=1), 1.0, rtol=1e-5)
    assert moved.shape == (1, 2)
