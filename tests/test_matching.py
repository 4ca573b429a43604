"""Matching: the vectorised k-NN agrees with a naive loop; decisions; a live gallery index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bearagent import gallery
from bearagent.decisions import DecisionRule, Outcome, decide
from bearagent.matching import Candidate, GalleryIndex, KnnIndex
from bearagent.store import transaction
from support.models import make_card

SHA = "c" * 64


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def naive(
    query: np.ndarray, refs: np.ndarray, owners: list[str], k: int
) -> list[tuple[str, float]]:
    """Best similarity per individual by plain Python loops, then the k highest."""
    best: dict[str, float] = {}
    for row, owner in zip(refs, owners, strict=True):
        sim = sum(float(a) * float(b) for a, b in zip(query, row, strict=True))
        best[owner] = max(best.get(owner, -2.0), sim)
    return sorted(best.items(), key=lambda kv: -kv[1])[:k]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_refs=st.integers(1, 40),
    n_individuals=st.integers(1, 12),
    dim=st.integers(2, 16),
    k=st.integers(1, 15),
    n_queries=st.integers(1, 5),
)
def test_knn_agrees_with_a_naive_loop(
    seed: int, n_refs: int, n_individuals: int, dim: int, k: int, n_queries: int
) -> None:
    rng = np.random.default_rng(seed)
    refs = unit_rows(rng, n_refs, dim)
    owners = [f"bear-{int(i):04d}" for i in rng.integers(0, n_individuals, size=n_refs)]
    queries = unit_rows(rng, n_queries, dim)
    results = KnnIndex(refs, owners).search(queries, k)
    for query, got in zip(queries, results, strict=True):
        want = naive(query, refs, owners, k)
        assert len(got) == len(want) == min(k, len(set(owners)))
        np.testing.assert_allclose([c.similarity for c in got], [s for _, s in want], atol=1e-5)
        # Ids agree wherever the similarity is not (numerically) tied with a neighbour.
        sims = [s for _, s in want]
        for i, (owner, sim) in enumerate(want):
            if all(abs(sim - other) > 1e-4 for j, other in enumerate(sims) if j != i):
                assert got[i].individual_id == owner


def test_an_empty_index_gives_no_candidates_and_an_unknown() -> None:
    index = KnnIndex(np.zeros((0, 8), np.float32), [])
    (candidates,) = index.search(np.ones((1, 8), np.float32) / np.sqrt(8), k=5)
    assert candidates == []
    decision = decide(candidates, DecisionRule("best", 0.5, 0.5))
    assert (decision.outcome, decision.individual_id, decision.similarity) == (
        Outcome.UNKNOWN,
        None,
        -1.0,
    )


def test_decision_uses_the_thresholds_inclusively() -> None:
    top = [
        Candidate("bear-0001", "Otis", "known", 0.62),
        Candidate("unknown-box-0001", None, "provisional", 0.4),
    ]
    assert decide(top, DecisionRule("best", 0.62, 0.62)).individual_id == "bear-0001"
    below = decide(top, DecisionRule("best", 0.63, 0.63))
    assert (below.outcome, below.similarity, below.candidates[0].name) == (
        Outcome.UNKNOWN,
        0.62,
        "Otis",
    )
    assert decide(top, DecisionRule("best", 0.63, 0.62)).outcome is Outcome.REVIEW
    card = make_card()
    assert (card.decision.known_threshold, card.decision.unknown_threshold) == (0.3, 0.12)
    again = decide(top[1:], DecisionRule("best", 0.3, 0.3))
    assert again.outcome is Outcome.KNOWN and again.provisional


def test_gallery_index_sees_changes_made_by_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    agent_db, cli_db = gallery.open_gallery(path), gallery.open_gallery(path)
    rng = np.random.default_rng(0)
    otis = unit_rows(rng, 3, 8)
    index = GalleryIndex(agent_db, SHA)
    assert index.index.size == 0 and not index.refresh()
    bear = gallery.create_known(cli_db, "Otis")
    gallery.add_references(cli_db, bear, otis, SHA, "/otis.jpg")
    ((best, *_),) = index.search(otis[:1], k=3)
    assert (best.individual_id, best.name, best.kind) == ("bear-0001", "Otis", "known")
    assert best.similarity == pytest.approx(1.0, abs=1e-5)
    unknown = gallery.create_provisional(cli_db, unit_rows(rng, 1, 8), SHA, "/traps/x.jpg")
    assert index.refresh() and index.index.individuals == 2
    (top,) = index.search(unit_rows(rng, 1, 8), k=5)
    assert {c.individual_id for c in top} == {"bear-0001", unknown}


def test_gallery_index_refuses_a_gallery_of_another_model(tmp_path: Path) -> None:
    db = gallery.open_gallery(tmp_path / "agent.db")
    bear = gallery.create_known(db, "Otis")
    gallery.add_references(db, bear, unit_rows(np.random.default_rng(0), 1, 8), SHA, "/o.jpg")
    with pytest.raises(gallery.GalleryModelMismatch) as e:
        GalleryIndex(db, "d" * 64, "bearid-lite0-v4")
    assert str(e.value) == (
        f"gallery {tmp_path / 'agent.db'} holds embeddings made with another model (sha256 "
        "cccccccccccc...) than the model in use, bearid-lite0-v4, (sha256 dddddddddddd...): "
        "run `bearagent gallery reembed --model MODEL` with the model in use to re-embed its "
        "references"
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), chunks=st.lists(st.integers(1, 6), min_size=1, max_size=12))
def test_appending_references_equals_indexing_them_at_once(seed: int, chunks: list[int]) -> None:
    rng = np.random.default_rng(seed)
    total = sum(chunks)
    refs = unit_rows(rng, total, 6)
    owners = [f"bear-{int(i):04d}" for i in rng.integers(0, 7, size=total)]
    grown = KnnIndex(refs[:0], [])
    start = 0
    for n in chunks:  # more chunks than MAX_PARTS exercises the merge of parts
        grown.add(refs[start : start + n], owners[start : start + n])
        start += n
    queries = unit_rows(rng, 3, 6)
    fresh = KnnIndex(refs, owners).search(queries, k=4)
    assert grown.size == total
    for got, want in zip(grown.search(queries, k=4), fresh, strict=True):
        np.testing.assert_allclose(
            [c.similarity for c in got], [c.similarity for c in want], atol=1e-5
        )


def ids_and_sims(index: GalleryIndex, queries: np.ndarray) -> list[list[tuple[str, float]]]:
    return [
        [(c.individual_id, round(c.similarity, 5)) for c in row]
        for row in index.search(queries, 10)
    ]


def test_gallery_index_follows_appends_renames_removals_and_rollbacks(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    agent_db, cli_db = gallery.open_gallery(path), gallery.open_gallery(path)
    rng = np.random.default_rng(1)
    index = GalleryIndex(agent_db, SHA)
    queries = unit_rows(rng, 4, 8)
    for name in ("Otis", "Grazer", "Holly"):
        gallery.add_references(
            cli_db, gallery.create_known(cli_db, name), unit_rows(rng, 2, 8), SHA, "/r.jpg"
        )
        assert ids_and_sims(index, queries) == ids_and_sims(GalleryIndex(cli_db, SHA), queries)
    gallery.rename(cli_db, "Otis", "Otis II")
    index.refresh()
    assert "Otis II" in {c.name for c in index.search(queries[0], 10)[0]}
    gallery.remove(cli_db, "Grazer")
    assert ids_and_sims(index, queries) == ids_and_sims(GalleryIndex(cli_db, SHA), queries)
    with pytest.raises(RuntimeError), transaction(agent_db):
        gallery.create_provisional(agent_db, queries[:1], SHA, "/ghost.jpg")
        assert index.search(queries[:1], 1)[0][0].similarity == pytest.approx(1.0)
        raise RuntimeError("the batch failed")
    gallery.create_provisional(cli_db, unit_rows(rng, 1, 8), SHA, "/real.jpg")
    assert ids_and_sims(index, queries) == ids_and_sims(GalleryIndex(cli_db, SHA), queries)
    assert index.index.individuals == 3  # Otis II, Holly, unknown-0002: no ghost
