"""bear-train's open-set queries, rule choice and track calibration, against naive loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from bearagent.decisions import (
    DecisionRule,
    calibrate,
    decide,
    open_set_score,
    operating_point,
)
from bearagent.matching.knn import Candidate
from beartrain.config import CalibrationSection
from beartrain.evaluation import (
    EmbeddedSet,
    OpenSetQueries,
    calibrate_scores,
    calibrate_tracks,
    choose_rule,
    decision_spec,
    ranked_against,
    rule_figures,
    rule_of,
    subset_queries,
)
from beartrain.evaluation.decision_rule import CARD_SCORES
from beartrain.evaluation.protocol import evaluate_subset
from beartrain.evaluation.tracks import different_similarities, same_similarities
from beartrain.training.calibrate import calibrate_run


def _unit(rng: np.random.Generator, n: int, d: int) -> NDArray[np.float32]:
    x = rng.normal(size=(n, d))
    out: NDArray[np.float32] = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 12))
def test_ranked_individuals_match_a_naive_loop(seed: int, n_ind: int, n_gallery: int) -> None:
    rng = np.random.default_rng(seed)
    g = _unit(rng, n_gallery, 5)
    labels = [f"i{int(v)}" for v in rng.integers(0, n_ind, n_gallery)]
    q = _unit(rng, 4, 5)
    ranked, top = ranked_against(q, g, labels, k=4)
    for row in range(len(q)):
        best: dict[str, float] = {}
        for chip, label in zip(g, labels, strict=True):
            best[label] = max(best.get(label, -math.inf), float(q[row] @ chip))
        ordered = sorted(best.values(), reverse=True)[:4]
        expected = ordered + [math.nan] * (4 - len(ordered))
        np.testing.assert_allclose(ranked[row], expected, rtol=1e-5)
        assert best[str(top[row])] == pytest.approx(ordered[0], abs=1e-6)


def _queries(seed: int = 0, n: int = 60, wrong: float = 0.1) -> OpenSetQueries:
    rng = np.random.default_rng(seed)
    genuine = -np.sort(-rng.uniform(0, 1, (n, 4)), axis=1)
    genuine[:, 0] += 0.3  # known queries stand out from their next individuals
    strangers = -np.sort(-rng.uniform(0, 1, (n // 2, 4)), axis=1)
    correct = rng.uniform(size=n) > wrong
    return OpenSetQueries("encounter", genuine, correct, strangers)


def test_rule_figures_count_the_agents_outcomes_as_the_calibration_does() -> None:
    q = _queries()
    for name, confidence in (("best", None), ("margin3", None), ("margin3", 0.95)):
        g, s = open_set_score(name, q.genuine), open_set_score(name, q.strangers)
        cal = calibrate(name, g, q.correct, s, 0.1, 0.05, confidence)
        rule = DecisionRule(name, cal.known, cal.unknown)
        figures = rule_figures(rule, q)
        point = operating_point(g, q.correct, s, cal.known, cal.unknown)
        assert figures["automatic_error"] == pytest.approx(point.automatic_error, nan_ok=True)
        assert figures["false_unknown_rate"] == pytest.approx(point.false_unknown_rate)
        assert figures["unknown_detection_rate"] == pytest.approx(point.unknown_detection_rate)
        assert figures["review_share"] == pytest.approx(point.review_share)
        assert figures["automatic_share"] == pytest.approx(1 - point.review_share)
        # One query through the agent's own `decide` gets the same outcome.
        sims = q.genuine[0]
        candidates = [Candidate(f"b{i}", None, "named", float(v)) for i, v in enumerate(sims)]
        outcome = decide(candidates, rule).outcome
        assert outcome == rule.classify(open_set_score(name, q.genuine[:1]))[0]


def test_rule_choice_takes_the_smallest_review_share_among_scores_that_decide() -> None:
    q = _queries(n=600, wrong=0.02)
    cals = calibrate_scores(q, target_error=0.1, target_false_unknown=0.05)
    choice = choose_rule(cals)
    # queries without cohort statistics: the cohort scores cannot be computed, so are left out
    assert set(cals) == set(q.scorable(CARD_SCORES)) == {"best", "margin", "margin3", "blend"}
    deciding = {n: c for n, c in cals.items() if c.decides_known or c.decides_unknown}
    assert choice.meets_targets
    assert choice.chosen in deciding
    assert cals[choice.chosen].point.review_share == min(
        c.point.review_share for c in deciding.values()
    )
    for c in deciding.values():  # what each one decides keeps its bound
        assert not c.decides_known or c.error_bound <= 0.1
        assert not c.decides_unknown or c.false_unknown_bound <= 0.05
    spec = decision_spec(choice.calibration, q)
    assert spec.method == "calibrated" and spec.level == "encounter"
    assert spec.validation_set == "val: 600 known and 300 unknown encounters (mean embeddings)"
    assert spec.known_threshold is not None and spec.unknown_threshold is not None
    assert spec.known_threshold >= spec.unknown_threshold


def test_when_no_score_keeps_its_promise_everything_goes_to_review_and_the_card_says_why() -> None:
    rng = np.random.default_rng(4)  # genuine and strangers alike, and every id wrong
    genuine = -np.sort(-rng.uniform(0, 1, (200, 4)), axis=1)
    strangers = -np.sort(-rng.uniform(0, 1, (200, 4)), axis=1)
    wrong = OpenSetQueries("chip", genuine, np.zeros(200, bool), strangers)
    choice = choose_rule(calibrate_scores(wrong, 0.05, 0.05))
    assert not choice.meets_targets
    assert "no score makes an automatic decision that keeps its promise" in choice.reason
    spec = decision_spec(choice.calibration, wrong)
    rule = rule_of(spec)
    assert not (rule.decides_known or rule.decides_unknown)
    assert spec.reason is not None and spec.reason.startswith("no automatic known: ")
    # The point estimates of before: the lowest automatic error is kept, and said.
    before = choose_rule(calibrate_scores(wrong, 0.05, 0.05, confidence=None))
    assert not before.meets_targets and "no score meets both targets" in before.reason


def test_margin_separates_a_stranger_who_resembles_several_individuals() -> None:
    known = np.array([[0.80, 0.30, 0.20, 0.10], [0.60, 0.20, 0.10, 0.10], [0.90, 0.50, 0.40, 0.2]])
    strangers = np.array([[0.85, 0.84, 0.83, 0.30], [0.70, 0.69, 0.2, 0.1], [0.95, 0.94, 0.9, 0.8]])
    q = OpenSetQueries("chip", known, np.ones(3, bool), strangers)
    cals = calibrate_scores(q, 0.05, 0.05)
    assert cals["best"].auroc < 0.5 and cals["margin"].auroc == 1.0
    assert choose_rule(cals).chosen in ("margin", "margin3")


def test_disjoint_strangers_never_meet_their_own_individual() -> None:
    rng = np.random.default_rng(3)
    emb = _unit(rng, 12, 8)
    labels = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    encounters = [f"{label}{i // 2}" for i, label in enumerate(labels)]
    chips = EmbeddedSet(emb, labels, encounters, np.zeros(12, bool))
    chip = subset_queries("disjoint", chips, chips, "chip")
    assert len(chip.genuine) == 12 and len(chip.strangers) == 12
    sims = emb @ emb.T
    for i in range(12):
        others = [j for j in range(12) if labels[j] != labels[i]]
        assert chip.strangers[i, 0] == pytest.approx(sims[i, others].max(), abs=1e-6)
    enc = subset_queries("disjoint", chips, chips, "encounter")
    assert len(enc.genuine) == 6 and len(enc.strangers) == 6


def test_track_similarities_match_a_naive_loop_and_the_target() -> None:
    rng = np.random.default_rng(5)
    centres = _unit(rng, 4, 16)
    emb, labels, encounters = [], [], []
    for ind in range(4):
        for enc in range(3):
            for _ in range(3):
                v = centres[ind] + 0.35 * rng.normal(size=16)
                emb.append(v / np.linalg.norm(v))
                labels.append(f"i{ind}")
                encounters.append(f"i{ind}/e{enc}")
    x = np.array(emb, dtype=np.float32)
    chips = EmbeddedSet(x, labels, encounters, np.ones(len(x), bool))
    same = same_similarities(chips)
    naive_same = []
    for e in sorted(set(encounters)):
        members = [i for i, v in enumerate(encounters) if v == e]
        for i in members:
            rest = [j for j in members if j != i]
            mean = x[rest].sum(axis=0)
            mean /= np.linalg.norm(mean)
            naive_same.append(max(float(x[i] @ mean), max(float(x[i] @ x[j]) for j in rest)))
    np.testing.assert_allclose(np.sort(same), np.sort(naive_same), rtol=1e-5)
    different = different_similarities(chips)
    assert len(different) == len(x) * 9  # 9 encounters of the 3 other individuals
    spec, cal = calibrate_tracks(chips, 0.02) or pytest.fail("no calibration")
    assert spec.method == "calibrated" and spec.target_false_join_rate == 0.02
    assert cal.false_join_rate <= 0.02
    assert np.mean(different >= spec.same_individual) == pytest.approx(cal.false_join_rate)
    assert spec.split_rate == pytest.approx(float(np.mean(same < spec.same_individual)))


def _population(shuffled: bool, seed: int = 0) -> tuple[EmbeddedSet, EmbeddedSet]:
    """A train gallery and a val set (known bears' new encounters, held-out strangers) of
    well-separated individuals; with `shuffled`, every encounter's individual is drawn at
    random (the same embeddings, identities that carry no signal)."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng, 80, 32)
    rows: dict[str, list[tuple[np.ndarray, str, str, bool]]] = {"train": [], "val": []}
    for ind in range(80):
        known = ind < 60
        for enc in range(5 if known else 2):
            subset = "train" if known and enc < 3 else "val"
            for _ in range(3):
                v = centres[ind] + 0.15 * rng.normal(size=32)
                rows[subset].append((v / np.linalg.norm(v), f"i{ind}", f"i{ind}/e{enc}", known))
    if shuffled:
        keys = sorted({e for part in rows.values() for _, _, e, _ in part})
        owner = {k: f"i{int(rng.integers(0, 60))}" for k in keys}
        for part in rows.values():
            part[:] = [(v, owner[e], e, True) for v, _, e, _ in part]
        # strangers stay strangers: some shuffled val encounters belong to no train bear
        val_only = [k for k in keys if k.endswith(("e3", "e4"))][:40]
        rows["val"] = [(v, "x" + e if e in val_only else w, e, e not in val_only)
                       for v, w, e, _ in rows["val"]]  # fmt: skip

    def embedded(part: list[tuple[np.ndarray, str, str, bool]]) -> EmbeddedSet:
        return EmbeddedSet(
            np.array([r[0] for r in part], np.float32), [r[1] for r in part],
            [r[2] for r in part], np.array([r[3] for r in part]),
        )  # fmt: skip

    return embedded(rows["train"]), embedded(rows["val"])


@pytest.mark.parametrize("shuffled", [False, True])
def test_bear_trains_val_calibration_decides_nothing_where_the_scores_carry_no_signal(
    shuffled: bool,
) -> None:
    """Done when (bear-train): on val with shuffled identities the rule stored for the card
    makes no automatic decision and says why; with the true identities it decides."""
    gallery, val = _population(shuffled)
    result = evaluate_subset("open", gallery, val, (1,), "val")
    calibrated = calibrate_run(result, CalibrationSection())
    assert calibrated.decision is not None and calibrated.choice is not None
    rule = rule_of(calibrated.decision)
    figures = calibrated.figures["encounter"]
    if shuffled:
        assert not (rule.decides_known or rule.decides_unknown)
        assert figures["automatic_share"] == 0.0 and figures["review_share"] == 1.0
        assert not calibrated.choice.meets_targets
        assert calibrated.decision.reason is not None
        assert "no automatic known" in calibrated.decision.reason
        assert calibrated.as_json()["why"].startswith("everything to review: ")
    else:
        assert rule.decides_known and figures["automatic_share"] > 0.5
        assert calibrated.decision.reason is None
