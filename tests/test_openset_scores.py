"""The cohort scores (asnorm, individual), their gallery statistics, and quality weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bearagent.decisions import (
    CandidateStats,
    CohortSummary,
    DecisionRule,
    decide,
    open_set_score,
)
from bearagent.decisions.quality import quality_weights, track_agreement, weighted_mean
from bearagent.decisions.scores import COHORT_SIZE, SCORE_LIMIT, SPREAD_FLOOR
from bearagent.gallery.leave_out import leave_out
from bearagent.matching.knn import Candidate
from beartrain.evaluation import aggregate_encounters


def gallery(individuals: int = 14, seed: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    rng = np.random.default_rng(seed)
    rows, owners, keys = [], [], []
    for i in range(individuals):
        centre = rng.normal(size=12)
        for e in range(1 + i % 3):  # 1, 2 or 3 encounters
            visit = centre + rng.normal(scale=0.5, size=12)
            for _ in range(2):
                v = visit + rng.normal(scale=0.1, size=12)
                rows.append(v / np.linalg.norm(v))
                owners.append(f"i{i:02d}")
                keys.append(f"e{e}")
    return np.asarray(rows, np.float32), owners, keys


def test_cohort_scores_against_their_formulas_one_query_at_a_time() -> None:
    rng = np.random.default_rng(1)
    ranked = -np.sort(-rng.uniform(-0.5, 1, (80, 11)), axis=1)
    ranked[:5, 3:] = np.nan  # a small gallery: fewer cohort individuals
    ranked[5, 1:] = np.nan  # one candidate only: the candidate side alone
    ranked[6, :] = np.nan  # no candidate at all
    stats = CandidateStats(rng.uniform(0, 0.5, 80), rng.uniform(0, 0.2, 80), rng.normal(0, 0.1, 80))
    asnorm = open_set_score("asnorm", ranked, stats)
    individual = open_set_score("individual", ranked, stats)
    for i, row in enumerate(ranked):
        if not np.isfinite(row[0]):
            assert asnorm[i] == -1.0 and individual[i] == -1.0
            continue
        cohort = row[1 : 1 + COHORT_SIZE]
        cohort = cohort[np.isfinite(cohort)]
        candidate = (row[0] - stats.cohort_mean[i]) / max(stats.cohort_spread[i], SPREAD_FLOOR)
        if len(cohort) >= 2:
            query = (row[0] - cohort.mean()) / max(cohort.std(), SPREAD_FLOOR)
            expected = 0.5 * (query + candidate)
        else:
            expected = candidate
        assert asnorm[i] == pytest.approx(np.clip(expected, -SCORE_LIMIT, SCORE_LIMIT))
        assert individual[i] == pytest.approx(row[0] - stats.offset[i])


def test_leaving_an_individual_out_of_the_cohort_is_exact() -> None:
    """A stranger must not sit in its candidate's cohort: the statistics without it equal those
    of the gallery it was never in."""
    emb, owners, keys = gallery()
    full = leave_out(emb, owners, keys).cohort
    for gone in ("i03", "i07"):
        keep = [i for i, o in enumerate(owners) if o != gone]
        without = leave_out(emb[keep], [owners[i] for i in keep], [keys[i] for i in keep]).cohort
        idx = {name: i for i, name in enumerate(full.ids)}
        idx_w = {name: i for i, name in enumerate(without.ids)}
        names = [n for n in full.ids if n != gone]
        left = full.stats([idx[n] for n in names], leave_out_individual=[idx[gone]] * len(names))
        ref = without.stats([idx_w[n] for n in names])
        np.testing.assert_allclose(left.cohort_mean, ref.cohort_mean, atol=1e-6)
        np.testing.assert_allclose(left.cohort_spread, ref.cohort_spread, atol=1e-6)


def test_the_summary_table_matches_the_per_query_path_and_survives_json() -> None:
    emb, owners, keys = gallery()
    cohort = leave_out(emb, owners, keys).cohort
    summary = cohort.summary
    everyone = list(range(len(cohort.ids)))
    slow = cohort._left_out  # the per-query path with nothing left out, one at a time
    for i in everyone:
        rows = np.flatnonzero(cohort.rows.owner == i)
        mean, spread, offset = slow(rows, -1, -1)
        assert (mean, spread, offset) == pytest.approx(
            (summary.cohort_mean[i], summary.cohort_spread[i], summary.offset[i]), abs=1e-9
        )
    again = CohortSummary.from_json(json.loads(json.dumps(summary.as_json())), "k")
    assert again.ids == summary.ids
    np.testing.assert_allclose(again.offset, summary.offset, atol=1e-6)
    # An individual the table does not hold (a provisional one) gets the gallery's typical ones.
    stats = summary.lookup(["i00", "unknown-box-0001", None])
    typical = summary.typical()
    assert stats.cohort_mean[0] == pytest.approx(summary.cohort_mean[0])
    assert (stats.cohort_mean[1], stats.cohort_spread[1], stats.offset[1]) == pytest.approx(typical)
    assert stats.offset[2] == 0.0


def test_the_agent_decides_a_cohort_score_with_the_candidates_own_statistics() -> None:
    summary = CohortSummary(
        ("a", "b"), np.array([0.2, 0.6]), np.array([0.1, 0.1]), np.array([0.0, 0.0]), "k"
    )
    rule = DecisionRule("asnorm", 3.0, 0.5, "gallery", summary)
    cands = [Candidate("a", None, "known", 0.7), Candidate("b", None, "known", 0.3)]
    # Against a, whose cohort sits low (0.2), 0.7 stands out: candidate z = 5.
    assert decide(cands, rule).score == pytest.approx(5.0)
    popular = [Candidate("b", None, "known", 0.7), Candidate("a", None, "known", 0.3)]
    # b's cohort sits high (0.6): the same 0.7 is only z = 1: not known.
    assert decide(popular, rule).score == pytest.approx(1.0)
    assert decide(popular, rule).outcome.value == "review"


def test_quality_weights_and_weighted_means_against_a_naive_loop() -> None:
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(5, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    agreement = track_agreement(emb)
    for i in range(5):
        rest = np.delete(emb, i, axis=0).sum(axis=0)
        assert agreement[i] == pytest.approx(emb[i] @ rest / np.linalg.norm(rest))
    assert track_agreement(emb[:1]).tolist() == [1.0]
    sharp, size = np.array([10.0, 40.0, 0.0, 20.0, 5.0]), np.array([50.0, 100.0, 80.0, 20.0, 60.0])
    w = quality_weights(("sharpness", "size", "agreement"), sharpness_values=sharp, sizes=size,
                        agreement=agreement, typical=(20.0, 60.0))  # fmt: skip
    for i in range(5):
        expected = sharp[i] / (sharp[i] + 20) * size[i] / (size[i] + 60) * max(agreement[i], 0) ** 2
        assert w[i] == pytest.approx(expected)
    mean = weighted_mean(emb, w)
    naive = sum(wi * e for wi, e in zip(w, emb, strict=True))
    np.testing.assert_allclose(mean, naive / np.linalg.norm(naive))
    # bear-train's encounter means take the same weights.
    means, _, _ = aggregate_encounters(emb, ["x"] * 5, ["e"] * 5, w)
    np.testing.assert_allclose(means[0], mean, atol=1e-12)
    with pytest.raises(ValueError, match=r"unknown quality terms \['blur'\]: choose from"):
        quality_weights(("blur",), sharpness_values=sharp)
