"""After `fit`: the decision rule and the track similarity, calibrated on val with the best model.

The rule: every open-set score a model card can carry is calibrated at
``calibration.level`` for the target automatic error and false-unknown rate, each
threshold kept only where the upper 95 % confidence bound of its rate on val is
within the target; the score with the smallest review share is kept
(`beartrain.evaluation.decision_rule`). Where no score can keep a promise, the
rule stored sends everything to review and its ``reason`` says why (never a rule
that missed its targets on val). The track similarity: see
`beartrain.evaluation.tracks`. Both go into the checkpoint and, through
bear-export, the model card.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from bearagent.modelcard import DecisionSpec, TrackSpec
from beartrain.config import CalibrationSection
from beartrain.evaluation import (
    CalibrationError,
    RuleChoice,
    SubsetResult,
    calibrate_scores,
    calibrate_tracks,
    choose_rule,
    decision_spec,
    rule_figures,
    rule_of,
)
from beartrain.evaluation.queries import LEVELS

log = logging.getLogger(__name__)

#: Figures of a rule, as metric-name suffixes (see `rule_figures`).
RULE_FIGURES = (
    "automatic_share",
    "automatic_error",
    "false_unknown_rate",
    "unknown_detection_rate",
    "review_share",
)


@dataclass(frozen=True)
class RunCalibration:
    """What calibration on val gave (None where val cannot calibrate it)."""

    decision: DecisionSpec | None
    tracks: TrackSpec | None
    choice: RuleChoice | None
    figures: dict[str, dict[str, float]]  # level -> rule_figures at the chosen rule

    def as_json(self) -> dict[str, Any]:
        """calibration.json: the chosen rule, every score's calibration, tracks, figures."""
        scores = {}
        if self.choice is not None:
            for name, cal in self.choice.calibrations.items():
                scores[name] = {
                    **cal.point.as_dict(),
                    "auroc": cal.auroc,
                    "error_bound": cal.error_bound,
                    "false_unknown_bound": cal.false_unknown_bound,
                    "withheld": list(cal.withheld),
                }
        return {
            "decision": self.decision.model_dump(mode="json") if self.decision else None,
            "tracks": self.tracks.model_dump(mode="json") if self.tracks else None,
            "chosen_because": self.choice.reason if self.choice else None,
            "meets_targets": self.choice.meets_targets if self.choice else None,
            "why": self.choice.calibration.why if self.choice else None,
            "scores": _json_safe(scores),
            "figures": _json_safe(self.figures),
        }


def _json_safe(value: Any) -> Any:
    """NaN becomes None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def choose_on(result: SubsetResult, cfg: CalibrationSection) -> RuleChoice | None:
    """The calibrated rules of `result`'s queries at ``cfg.level``; None without strangers."""
    queries = result.level(cfg.level)
    if len(queries.genuine) == 0 or len(queries.strangers) == 0:
        return None
    calibrations = calibrate_scores(queries, cfg.target_error_rate, cfg.target_false_unknown_rate)
    return choose_rule(calibrations)


def rule_metrics(result: SubsetResult, spec: DecisionSpec | None, prefix: str) -> dict[str, float]:
    """``<prefix>_<chip|enc>_<figure>`` of the rule `spec` on `result`'s queries."""
    if spec is None:
        return {}
    rule = rule_of(spec)
    out = {}
    for level in LEVELS:
        stem = f"{prefix}_{'enc' if level == 'encounter' else 'chip'}"
        figures = rule_figures(rule, result.level(level))
        out.update({f"{stem}_{name}": figures[name] for name in RULE_FIGURES})
    return out


def calibrate_run(result: SubsetResult, cfg: CalibrationSection) -> RunCalibration:
    """The decision rule and the track similarity of the val `result`."""
    try:
        choice = choose_on(result, cfg)
    except CalibrationError as e:
        log.warning("no decision rule calibrated: %s", e)
        choice = None
    decision = None
    if choice is None:
        log.warning(
            "no decision rule calibrated: val needs queries of known and of held-out "
            "individuals (an open split with holdout, or a disjoint split)"
        )
    else:
        decision = decision_spec(choice.calibration, result.level(cfg.level))
        log.info("decision rule: %s", choice.reason)
        if not choice.meets_targets:
            log.warning(
                "no automatic decision: the stored rule sends everything to review (%s)",
                choice.reason,
            )
        elif choice.calibration.withheld:
            log.warning("the decision rule withholds: %s", "; ".join(choice.calibration.withheld))
    tracks = None
    if result.chips is not None:
        calibrated = calibrate_tracks(result.chips, cfg.target_false_join_rate)
        tracks = calibrated[0] if calibrated else None
    if tracks is None:
        log.warning("no track similarity calibrated: val needs encounters of 2+ chips")
    figures = {}
    if decision is not None:
        rule = rule_of(decision)
        figures = {str(level): rule_figures(rule, result.level(level)) for level in LEVELS}
    return RunCalibration(decision, tracks, choice, figures)
