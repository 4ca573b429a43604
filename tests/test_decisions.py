"""The decision rule: scores, known / review / unknown, and threshold calibration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta

from bearagent.decisions import (
    COHORT_SCORES,
    NEVER_KNOWN,
    NEVER_UNKNOWN,
    SCORE_NAMES,
    CohortMissing,
    CohortSummary,
    DecisionRule,
    Outcome,
    calibrate,
    choose_thresholds,
    decide,
    decide_ranked,
    open_set_score,
    operating_point,
    ranked_matrix,
    review_curve,
    upper_bound,
)
from bearagent.decisions.calibration import known_threshold, unknown_threshold
from bearagent.matching.knn import Candidate


def cands(*sims: float) -> list[Candidate]:
    return [Candidate(f"bear-{i:04d}", f"B{i}", "known", s) for i, s in enumerate(sims, 1)]


def test_scores_against_a_naive_loop() -> None:
    rng = np.random.default_rng(0)
    ranked = -np.sort(-rng.uniform(-1, 1, size=(50, 6)), axis=1)
    for i, row in enumerate(ranked):
        best, rest = row[0], row[1:4]
        assert open_set_score("best", ranked)[i] == pytest.approx(best)
        assert open_set_score("margin", ranked)[i] == pytest.approx(best - row[1])
        assert open_set_score("margin3", ranked)[i] == pytest.approx(best - rest.mean())
        assert open_set_score("blend", ranked)[i] == pytest.approx(2 * best - rest.mean())


def test_missing_neighbours_count_as_unrelated_and_no_candidate_is_never_known() -> None:
    one = ranked_matrix([cands(0.7)])
    assert open_set_score("margin", one)[0] == pytest.approx(0.7)
    assert open_set_score("margin3", one)[0] == pytest.approx(0.7)
    empty = ranked_matrix([[]])
    rule = DecisionRule("margin3", 0.0, 0.0)
    assert decide([], rule).outcome is Outcome.UNKNOWN
    assert open_set_score("best", empty)[0] == -1.0


def test_unknown_score_name_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown open-set score 'cosine': choose one of best"):
        DecisionRule("cosine", 0.5, 0.4)
    with pytest.raises(ValueError, match="must not be below the unknown threshold"):
        DecisionRule("best", 0.4, 0.5)


def test_three_outcomes_and_their_individuals() -> None:
    rule = DecisionRule("best", 0.8, 0.6)
    known = decide(cands(0.85, 0.3), rule)
    review = decide(cands(0.7, 0.3), rule)
    unknown = decide(cands(0.59, 0.3), rule)
    assert (known.outcome, known.individual_id, known.name) == (Outcome.KNOWN, "bear-0001", "B1")
    assert (review.outcome, review.individual_id) == (Outcome.REVIEW, None)
    assert review.proposal is not None and review.proposal.individual_id == "bear-0001"
    assert (unknown.outcome, unknown.individual_id) == (Outcome.UNKNOWN, None)
    assert decide(cands(0.8), rule).outcome is Outcome.KNOWN  # at the threshold: known
    assert decide(cands(0.6), rule).outcome is Outcome.REVIEW  # at the unknown one: review
    # A provisional individual met before is known, and says so.
    again = decide([Candidate("unknown-box-0003", None, "provisional", 0.9)], rule)
    assert again.outcome is Outcome.KNOWN and again.provisional


def test_the_vectorised_rule_agrees_with_decide_one_by_one() -> None:
    rng = np.random.default_rng(1)
    rows = [cands(*sorted(rng.uniform(-0.2, 1, size=12), reverse=True)) for _ in range(200)]
    cohort = CohortSummary(
        tuple(f"bear-{i:04d}" for i in range(1, 13)),
        rng.uniform(0.1, 0.4, 12), rng.uniform(0.02, 0.1, 12), rng.normal(0, 0.05, 12), "k",
    )  # fmt: skip
    for score in SCORE_NAMES:
        rule = DecisionRule(score, 0.4, 0.2, cohort=cohort if score in COHORT_SCORES else None)
        stats = cohort.lookup([r[0].individual_id for r in rows]) if rule.needs_cohort else None
        outcomes, _ = decide_ranked(ranked_matrix(rows), rule, stats)
        assert [str(o) for o in outcomes] == [decide(r, rule).outcome.value for r in rows]


def test_a_cohort_score_without_the_gallerys_statistics_is_refused_with_the_fix() -> None:
    with pytest.raises(CohortMissing, match="needs the gallery's cohort statistics: calibrate"):
        decide(cands(0.8, 0.3), DecisionRule("asnorm", 1.0, 0.0))


def test_a_rule_that_withholds_decisions_says_so_and_sends_everything_to_review() -> None:
    rule = DecisionRule.review_everything("margin3", "gallery")
    assert not (rule.decides_known or rule.decides_unknown)
    assert rule.describe() == (
        "score margin3: no automatic decision, everything to review (from the gallery)"
    )
    rows = ranked_matrix([cands(1.0, -1.0), cands(-1.0), cands(0.5, 0.49)])
    outcomes, _ = decide_ranked(rows, rule)
    assert list(outcomes) == ["review"] * 3
    partial = DecisionRule("best", 0.8, NEVER_UNKNOWN)
    assert partial.describe() == (
        "score best: known >= 0.8000; no automatic unknown, review below (from the card)"
    )
    assert decide(cands(-0.9), partial).outcome is Outcome.REVIEW


def test_margin_separates_a_stranger_who_looks_like_everybody() -> None:
    """A known bear stands out from the crowd; a stranger is about as close to several."""
    known, stranger = cands(0.80, 0.40, 0.35, 0.30), cands(0.80, 0.78, 0.77, 0.76)
    best = DecisionRule("best", 0.7, 0.7)
    margin = DecisionRule("margin3", 0.2, 0.2)
    assert decide(stranger, best).outcome is Outcome.KNOWN  # best similarity cannot tell
    assert decide(known, margin).outcome is Outcome.KNOWN
    assert decide(stranger, margin).outcome is Outcome.UNKNOWN


def test_unknown_threshold_as_a_point_estimate_flags_at_most_the_target_share() -> None:
    genuine = np.linspace(0.0, 0.99, 100)  # 0.00, 0.01, ...
    t = unknown_threshold(genuine, 0.05, None)
    assert t == pytest.approx(0.05) and np.mean(genuine < t) == pytest.approx(0.05)


def test_known_threshold_as_a_point_estimate_on_a_constructed_case() -> None:
    # Scores best first: 0.9 right, 0.8 right, 0.7 stranger, 0.6 right, 0.5 wrong id.
    genuine = np.array([0.9, 0.8, 0.6, 0.5])
    correct = np.array([True, True, True, False])
    strangers = np.array([0.7])
    # Accepting down to 0.8 is error-free; down to 0.7 makes 1/3 wrong; to 0.6 1/4.
    assert known_threshold(genuine, correct, strangers, 0.0, None) == pytest.approx(0.8)
    assert known_threshold(genuine, correct, strangers, 0.25, None) == pytest.approx(0.6)
    assert known_threshold(genuine, correct, strangers, 0.40, None) == pytest.approx(0.5)
    # When even the best one is wrong, nothing is accepted.
    t = known_threshold(np.array([0.9]), np.array([False]), np.zeros(0), 0.05, None)
    assert t > 0.9


def test_a_bounded_known_threshold_needs_enough_accepted_queries_behind_it() -> None:
    """0 wrong in 20 accepted is an upper bound of 0.139 (95 %): no promise of 0.05; 0 wrong
    in 59 is 0.0495: kept."""
    few = np.linspace(0.9, 0.8, 20)
    assert known_threshold(few, np.ones(20, bool), np.zeros(0), 0.05) == NEVER_KNOWN
    many = np.linspace(0.9, 0.6, 59)
    assert known_threshold(many, np.ones(59, bool), np.zeros(0), 0.05) == pytest.approx(0.6)
    # The longest prefix whose bound is within target, found by brute force with scipy.
    rng = np.random.default_rng(3)
    for _ in range(20):
        scores = np.round(rng.uniform(0, 1, 300), 2)  # ties go together
        correct = rng.uniform(size=300) > rng.uniform(0, 0.08)
        t = known_threshold(scores, correct, np.zeros(0), 0.05)
        expected = NEVER_KNOWN
        for cut in np.unique(scores)[::-1]:
            accepted = scores >= cut
            wrong = int((accepted & ~correct).sum())
            bound = (
                1.0
                if wrong == accepted.sum()
                else beta.ppf(0.95, wrong + 1, accepted.sum() - wrong)
            )
            if bound <= 0.05:
                expected = cut
        assert t == pytest.approx(expected)


def test_operating_point_figures_by_hand() -> None:
    genuine = np.array([0.9, 0.8, 0.6, 0.5, 0.1])
    correct = np.array([True, False, True, True, True])
    strangers = np.array([0.85, 0.4, 0.2])
    p = operating_point(genuine, correct, strangers, known=0.7, unknown=0.3)
    # accepted: 0.9 (right), 0.8 (wrong id), 0.85 (stranger) -> 2 of 3 wrong
    assert p.automatic_error == pytest.approx(2 / 3)
    assert p.wrong_id_rate == pytest.approx(1 / 5)
    assert p.stranger_accepted_rate == pytest.approx(1 / 3)
    assert p.false_unknown_rate == pytest.approx(1 / 5)  # 0.1
    assert p.unknown_detection_rate == pytest.approx(1 / 3)  # 0.2
    assert p.review_share == pytest.approx(3 / 8)  # 0.6, 0.5, 0.4
    assert p.automatic_share == pytest.approx(5 / 8)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1, 1), min_size=5, max_size=60),
    st.lists(st.booleans(), min_size=60, max_size=60),
    st.lists(st.floats(-1, 1), min_size=1, max_size=40),
    st.sampled_from([None, 0.8]),
)
def test_calibrated_thresholds_meet_their_targets_on_the_calibration_set(
    g: list[float], c: list[bool], s: list[float], confidence: float | None
) -> None:
    genuine, correct, strangers = np.array(g), np.array(c[: len(g)]), np.array(s)
    known, unknown = choose_thresholds(genuine, correct, strangers, 0.1, 0.1, confidence)
    assert known >= unknown
    p = operating_point(genuine, correct, strangers, known, unknown)
    assert p.false_unknown_rate <= 0.1 + 1e-9
    if confidence is not None:  # every threshold kept keeps its bound, not just its estimate
        accepted = int((genuine >= known).sum() + (strangers >= known).sum())
        wrong = int(((genuine >= known) & ~correct).sum() + (strangers >= known).sum())
        assert known == NEVER_KNOWN or upper_bound(wrong, accepted, confidence) <= 0.1 + 1e-9
        flagged = int((genuine < unknown).sum())
        assert unknown == NEVER_UNKNOWN or upper_bound(flagged, len(g), confidence) <= 0.1 + 1e-9
    if not np.isnan(p.automatic_error) and known > unknown:
        assert p.automatic_error <= 0.1 + 1e-9


def test_calibrate_and_the_review_curve() -> None:
    rng = np.random.default_rng(2)
    genuine = rng.normal(0.7, 0.1, 400)
    correct = rng.uniform(size=400) > 0.01
    strangers = rng.normal(0.35, 0.1, 200)
    c = calibrate("best", genuine, correct, strangers)
    assert c.known >= c.unknown and 0.9 < c.auroc <= 1.0
    assert c.decides_known and c.decides_unknown and c.withheld == ()
    assert c.error_bound <= 0.05 and c.false_unknown_bound <= 0.05
    assert c.point.false_unknown_rate <= 0.05 and c.point.automatic_error <= 0.05
    assert c.why == (
        "keeps automatic error <= 0.05 at 95 % confidence and false-unknown <= 0.05 at 95 % "
        "confidence"
    )
    curve = review_curve(genuine, correct, strangers)
    reviews = [p.review_share for p in curve]
    assert reviews == sorted(reviews)  # a higher known threshold sends more to review
    assert curve[0].known_threshold == pytest.approx(unknown_threshold(genuine, 0.05, None))
