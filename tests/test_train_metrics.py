"""accuracy@k, image top-k, encounter aggregation and open-set calibration, against naive loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from beartrain.evaluation import (
    EmbeddedSet,
    accuracy_at_k,
    aggregate_encounters,
    evaluate_subset,
    image_top_k,
)


def _unit(rng: np.random.Generator, n: int, d: int) -> NDArray[np.float64]:
    x = rng.normal(size=(n, d))
    out: NDArray[np.float64] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def _naive_accuracy(
    q: NDArray[np.float64],
    ql: list[str],
    g: NDArray[np.float64],
    gl: list[str],
    ks: tuple[int, ...],
    exclude: NDArray[np.bool_] | None = None,
) -> dict[int, float]:
    """docs/design.md read literally: rank distinct individuals by their best similarity."""
    hits = dict.fromkeys(ks, 0)
    for i in range(len(q)):
        best: dict[str, float] = {}
        for j in range(len(g)):
            if exclude is not None and exclude[i][j]:
                continue
            s = float(np.dot(q[i], g[j]))
            best[gl[j]] = max(best.get(gl[j], -math.inf), s)
        ranked = sorted(best, key=lambda name: -best[name])
        for k in ks:
            hits[k] += ql[i] in ranked[:k]
    return {k: hits[k] / len(q) for k in ks}


def _naive_image_top_k(
    q: NDArray[np.float64],
    ql: list[str],
    g: NDArray[np.float64],
    gl: list[str],
    ks: tuple[int, ...],
) -> dict[int, float]:
    hits = dict.fromkeys(ks, 0)
    for i in range(len(q)):
        order = sorted(range(len(g)), key=lambda j: -float(np.dot(q[i], g[j])))
        for k in ks:
            hits[k] += ql[i] in [gl[j] for j in order[:k]]
    return {k: hits[k] / len(q) for k in ks}


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_query=st.integers(1, 12),
    n_gallery=st.integers(1, 25),
    n_ids=st.integers(1, 8),
)
def test_accuracy_at_k_matches_the_naive_definition(
    seed: int, n_query: int, n_gallery: int, n_ids: int
) -> None:
    rng = np.random.default_rng(seed)
    g, q = _unit(rng, n_gallery, 6), _unit(rng, n_query, 6)
    gl = [f"bear-{rng.integers(n_ids)}" for _ in range(n_gallery)]
    ql = [f"bear-{rng.integers(n_ids + 1)}" for _ in range(n_query)]  # some not in the gallery
    exclude = rng.random((n_query, n_gallery)) < 0.2
    ks = (1, 2, 3, 5, 10)
    assert accuracy_at_k(q, ql, g, gl, ks) == pytest.approx(_naive_accuracy(q, ql, g, gl, ks))
    assert accuracy_at_k(q, ql, g, gl, ks, exclude=exclude) == pytest.approx(
        _naive_accuracy(q, ql, g, gl, ks, exclude)
    )
    assert image_top_k(q, ql, g, gl, ks) == pytest.approx(_naive_image_top_k(q, ql, g, gl, ks))


def test_individuals_are_ranked_by_their_best_chip_not_by_chip_count() -> None:
    # A has the two nearest chips, B the third: B is still the second-ranked individual,
    # while the reference work's nearest-images top-2 (A, A) misses it.
    q = np.array([[1.0, 0.0]])
    g = np.array([[math.cos(a), math.sin(a)] for a in (0.1, 0.2, 0.3)])
    gl = ["A", "A", "B"]
    assert accuracy_at_k(q, ["B"], g, gl, (1, 2)) == {1: 0.0, 2: 1.0}
    assert image_top_k(q, ["B"], g, gl, (1, 2, 3)) == {1: 0.0, 2: 0.0, 3: 1.0}
    assert accuracy_at_k(q, ["A"], g, gl, (1,)) == {1: 1.0}


def test_encounter_aggregation_is_the_renormalised_mean() -> None:
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    means, labels, keys = aggregate_encounters(emb, ["A", "A", "B"], ["e1", "e1", "e2"])
    assert keys == ["e1", "e2"]
    assert labels == ["A", "B"]
    np.testing.assert_allclose(means, [[2**-0.5, 2**-0.5], [1.0, 0.0]])


def test_disjoint_protocol_never_matches_a_chip_with_its_own_burst() -> None:
    # A's burst a1 (two identical chips) sits closer to B's chip than to A's other encounter.
    def unit(angle: float) -> list[float]:
        return [math.cos(angle), math.sin(angle)]

    emb = np.array([unit(0.0), unit(0.0), unit(1.2), unit(0.3)], dtype=np.float32)
    chips = EmbeddedSet(emb, ["A", "A", "A", "B"], ["a1", "a1", "a2", "b1"], np.zeros(4, bool))
    m = evaluate_subset("disjoint", chips, chips, (1, 2), "test").metrics
    # a1 chips: best other-encounter match is B (0.3 rad) before A's a2 (1.2 rad) -> miss at 1.
    # a2: A's a1 at 1.2 rad vs B at 0.9 rad -> miss. b1: B has no other encounter -> miss.
    assert m["test_chip_acc1"] == 0.0
    assert m["test_chip_acc2"] == pytest.approx(3 / 4)
    assert m["test_enc_acc1"] == 0.0
    # Open-set figures come from leave-one-individual-out strangers; only A is findable.
    assert m["test_known_queries"] == 3.0 and m["test_unknown_queries"] == 4.0
    # The open protocol with a gallery holding a1 itself would call every a1 chip right.
    gallery = chips.select(np.array([True, False, True, True]))
    queries = EmbeddedSet(emb[1:2], ["A"], ["a1"], np.ones(1, bool))
    assert evaluate_subset("open", gallery, queries, (1,), "val").metrics["val_chip_acc1"] == 1.0
