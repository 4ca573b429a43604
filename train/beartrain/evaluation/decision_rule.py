"""The known / review / unknown rule chosen and calibrated on val, and its figures.

For every open-set score of `bearagent.decisions.SCORE_NAMES` the two thresholds
are calibrated for the targets (`bearagent.decisions.calibrate`); the score kept
is the one that sends the fewest queries to review while meeting both targets
(ties: the higher AUROC). When none meets them, the one with the lowest automatic
error is kept, and the choice says so. Every figure of a rule is counted from the
outcomes of `bearagent.decisions.decide_ranked`: the one rule the agent runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bearagent.decisions import (
    SCORE_NAMES,
    Calibration,
    DecisionRule,
    auroc,
    calibrate,
    decide_ranked,
    open_set_score,
)
from bearagent.decisions.calibration import CalibrationError as RuleCalibrationError
from bearagent.errors import BearIdError
from bearagent.modelcard import DecisionSpec
from beartrain.evaluation.queries import OpenSetQueries

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
    """Whether a calibration reaches both its targets on its own queries.

    A rule that accepts no query at all has no automatic error to speak of: every
    known individual would go to review, so it does not count as meeting them.
    """
    p = cal.point
    error_ok = not math.isnan(p.automatic_error) and p.automatic_error <= cal.target_error + _EPS
    fur_ok = _nan_or(p.false_unknown_rate, 0.0) <= cal.target_false_unknown + _EPS
    return error_ok and fur_ok


def calibrate_scores(
    queries: OpenSetQueries, target_error: float, target_false_unknown: float
) -> dict[str, Calibration]:
    """Each score's thresholds for the targets on these queries."""
    if len(queries.genuine) == 0:
        raise CalibrationError(
            "no known queries to calibrate on: val needs chips of individuals that are in train"
        )
    out = {}
    for name in SCORE_NAMES:
        genuine = open_set_score(name, queries.genuine)
        strangers = open_set_score(name, queries.strangers)
        try:
            out[name] = calibrate(
                name, genuine, queries.correct, strangers, target_error, target_false_unknown
            )
        except RuleCalibrationError as e:
            raise CalibrationError(str(e)) from e
    return out


def choose_rule(calibrations: dict[str, Calibration]) -> RuleChoice:
    """The score with the smallest review share meeting both targets (see the docstring)."""
    meeting = [c for c in calibrations.values() if meets_targets(c)]
    if meeting:
        best = min(meeting, key=lambda c: (c.point.review_share, -_nan_or(c.auroc, 0.0)))
        reason = (
            f"{best.score}: the smallest review share ({best.point.review_share:.3f}) of the "
            f"{len(meeting)} scores that meet both targets"
        )
        return RuleChoice(calibrations, best.score, True, reason)
    best = min(
        calibrations.values(),
        key=lambda c: (_nan_or(c.point.automatic_error, 1.0), c.point.review_share),
    )
    reason = (
        f"{best.score}: no score meets both targets (automatic error <= "
        f"{best.target_error}, false-unknown <= {best.target_false_unknown}); this one has the "
        f"lowest automatic error ({_nan_or(best.point.automatic_error, math.nan):.3f})"
    )
    return RuleChoice(calibrations, best.score, False, reason)


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def decision_spec(cal: Calibration, queries: OpenSetQueries, subset: str = "val") -> DecisionSpec:
    """The model card's `DecisionSpec` of a calibration."""
    p = cal.point
    return DecisionSpec(
        score=cal.score,
        known_threshold=p.known_threshold,
        unknown_threshold=p.unknown_threshold,
        method="calibrated",
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
    """The rule a card's (or checkpoint's) `DecisionSpec` describes."""
    return DecisionRule(spec.score, spec.known_threshold, spec.unknown_threshold, "card")


def rule_figures(rule: DecisionRule, queries: OpenSetQueries) -> dict[str, float]:
    """What `rule` does to these queries, counted from `decide_ranked`'s outcomes.

    ``automatic_share`` (known or unknown, of all), ``automatic_error`` (wrong id or
    stranger accepted, of the accepted), ``false_unknown_rate`` (of genuine),
    ``unknown_detection_rate`` (of strangers), ``review_share`` (of all), and the
    rule's score's ``auroc``. NaN where a rate has nothing to count.
    """
    g_out, g_score = decide_ranked(queries.genuine, rule)
    s_out, s_score = decide_ranked(queries.strangers, rule)
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
    """AUROC of genuine vs stranger queries under each score of SCORE_NAMES."""
    return {
        name: auroc(open_set_score(name, queries.genuine), open_set_score(name, queries.strangers))
        for name in SCORE_NAMES
    }
