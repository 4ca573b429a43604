"""The known / review / unknown rule chosen and calibrated on val, and its figures.

For every open-set score a model card can carry (`CARD_SCORES`) the two thresholds
are calibrated for the targets (`bearagent.decisions.calibrate`): each is kept
only where the upper confidence bound of its error rate on val is within its
target, else that kind of automatic decision is withheld. The score kept is the
one that sends the fewest queries to review (ties: the higher AUROC). When no
score can make any automatic decision, the rule sends everything to review and
says why (the card's ``reason``). Every figure of a rule is counted from the
outcomes of `bearagent.decisions.decide_ranked`: the one rule the agent runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import get_args

from bearagent.decisions import (
    COHORT_SCORES,
    DEFAULT_CONFIDENCE,
    SCORE_NAMES,
    Calibration,
    DecisionRule,
    auroc,
    calibrate,
    decide_ranked,
)
from bearagent.decisions.calibration import CalibrationError as RuleCalibrationError
from bearagent.errors import BearIdError
from bearagent.modelcard import DecisionSpec
from bearagent.modelcard.schema import ScoreName
from beartrain.evaluation.queries import OpenSetQueries

#: The scores bear-train chooses among: those a model card can name.
CARD_SCORES = tuple(name for name in SCORE_NAMES if name in get_args(ScoreName))

#: Slack for comparing a reached rate with its target (rates are ratios of counts).
_EPS = 1e-9


class CalibrationError(BearIdError):
    """Open-set calibration that cannot be done with the data given."""


@dataclass(frozen=True)
class RuleChoice:
    """The calibrated rule of every score, the one chosen, and why."""

    calibrations: dict[str, Calibration]
    chosen: str
    meets_targets: bool
    reason: str

    @property
    def calibration(self) -> Calibration:
        """The chosen score's calibration."""
        return self.calibrations[self.chosen]


def _nan_or(x: float, default: float) -> float:
    return default if math.isnan(x) else x


def meets_targets(cal: Calibration) -> bool:
    """Whether a calibration makes some automatic decision (each one it makes keeps its
    target at its confidence; with ``confidence=None``, whether the point estimates meet
    both targets and something is accepted)."""
    if cal.confidence is not None:
        return cal.decides_known or cal.decides_unknown
    p = cal.point
    error_ok = not math.isnan(p.automatic_error) and p.automatic_error <= cal.target_error + _EPS
    fur_ok = _nan_or(p.false_unknown_rate, 0.0) <= cal.target_false_unknown + _EPS
    return error_ok and fur_ok


def calibrate_scores(
    queries: OpenSetQueries,
    target_error: float,
    target_false_unknown: float,
    confidence: float | None = DEFAULT_CONFIDENCE,
    scores: tuple[str, ...] = CARD_SCORES,
) -> dict[str, Calibration]:
    """Each score's thresholds for the targets on these queries (the cohort scores only
    where the queries carry their candidates' cohort statistics)."""
    if len(queries.genuine) == 0:
        raise CalibrationError(
            "no known queries to calibrate on: val needs chips of individuals that are in train"
        )
    out = {}
    for name in queries.scorable(scores):
        genuine, strangers = queries.scores(name)
        try:
            out[name] = calibrate(
                name, genuine, queries.correct, strangers, target_error, target_false_unknown,
                confidence,
            )  # fmt: skip
        except RuleCalibrationError as e:
            raise CalibrationError(str(e)) from e
    return out


def choose_rule(calibrations: dict[str, Calibration]) -> RuleChoice:
    """The score with the smallest review share among those that decide (see the docstring)."""
    meeting = [c for c in calibrations.values() if meets_targets(c)]
    if meeting:
        best = min(meeting, key=lambda c: (c.point.review_share, -_nan_or(c.auroc, 0.0)))
        reason = (
            f"{best.score}: the smallest review share ({best.point.review_share:.3f}) of the "
            f"{len(meeting)} scores that make automatic decisions within their targets"
            + (f" ({best.why})" if best.confidence is not None else "")
        )
        return RuleChoice(calibrations, best.score, True, reason)
    best = max(calibrations.values(), key=lambda c: _nan_or(c.auroc, 0.0))
    if best.confidence is None:  # point estimates: the lowest automatic error, said so
        best = min(
            calibrations.values(),
            key=lambda c: (_nan_or(c.point.automatic_error, 1.0), c.point.review_share),
        )
        reason = (
            f"{best.score}: no score meets both targets (automatic error <= "
            f"{best.target_error}, false-unknown <= {best.target_false_unknown}); this one has "
            f"the lowest automatic error ({_nan_or(best.point.automatic_error, math.nan):.3f})"
        )
        return RuleChoice(calibrations, best.score, False, reason)
    reason = (
        f"{best.score} (the highest AUROC, {_nan_or(best.auroc, math.nan):.3f}): no score makes "
        f"an automatic decision that keeps its promise, so everything goes to review: "
        + "; ".join(best.withheld)
    )
    return RuleChoice(calibrations, best.score, False, reason)


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def decision_spec(cal: Calibration, queries: OpenSetQueries, subset: str = "val") -> DecisionSpec:
    """The model card's `DecisionSpec` of a calibration (a withheld decision keeps its
    never-reached threshold, and ``reason`` says why)."""
    p = cal.point
    return DecisionSpec(
        score=cal.score,
        known_threshold=p.known_threshold,
        unknown_threshold=p.unknown_threshold,
        method="calibrated",
        reason="; ".join(cal.withheld) if cal.withheld else None,
        level=queries.level,
        target_error_rate=cal.target_error,
        target_false_unknown_rate=cal.target_false_unknown,
        error_rate=_finite(p.automatic_error),
        false_unknown_rate=_finite(p.false_unknown_rate),
        unknown_detection_rate=_finite(p.unknown_detection_rate),
        review_share=_finite(p.review_share),
        auroc=_finite(cal.auroc),
        validation_set=queries.describe(subset),
    )


def rule_of(spec: DecisionSpec) -> DecisionRule:
    """The rule a card's (or checkpoint's) `DecisionSpec` describes (none: review everything)."""
    if spec.known_threshold is None or spec.unknown_threshold is None:
        return DecisionRule.review_everything(spec.score, "card")
    return DecisionRule(spec.score, spec.known_threshold, spec.unknown_threshold, "card")


def rule_figures(rule: DecisionRule, queries: OpenSetQueries) -> dict[str, float]:
    """What `rule` does to these queries, counted from `decide_ranked`'s outcomes.

    ``automatic_share`` (known or unknown, of all), ``automatic_error`` (wrong id or
    stranger accepted, of the accepted), ``false_unknown_rate`` (of genuine),
    ``unknown_detection_rate`` (of strangers), ``review_share`` (of all), and the
    rule's score's ``auroc``. NaN where a rate has nothing to count.
    """
    cohort = rule.needs_cohort
    g_out, g_score = decide_ranked(queries.genuine, rule, queries.genuine_stats if cohort else None)
    s_out, s_score = decide_ranked(
        queries.strangers, rule, queries.stranger_stats if cohort else None
    )
    total = len(g_out) + len(s_out)

    def share(count: int, n: int) -> float:
        return count / n if n else math.nan

    accepted_g, accepted_s = g_out == "known", s_out == "known"
    accepted = int(accepted_g.sum() + accepted_s.sum())
    wrong = int((accepted_g & ~queries.correct).sum() + accepted_s.sum())
    review = int((g_out == "review").sum() + (s_out == "review").sum())
    return {
        "automatic_share": share(total - review, total),
        "automatic_error": share(wrong, accepted),
        "false_unknown_rate": share(int((g_out == "unknown").sum()), len(g_out)),
        "unknown_detection_rate": share(int((s_out == "unknown").sum()), len(s_out)),
        "review_share": share(review, total),
        "auroc": auroc(g_score, s_score),
    }


def score_aurocs(queries: OpenSetQueries) -> dict[str, float]:
    """AUROC of genuine vs stranger queries under each score of SCORE_NAMES (the cohort
    scores only where the queries carry their candidates' statistics)."""
    with_stats = queries.genuine_stats is not None and queries.stranger_stats is not None
    return {
        name: auroc(*queries.scores(name))
        for name in SCORE_NAMES
        if with_stats or name not in COHORT_SCORES
    }
