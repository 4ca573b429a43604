"""Where the decision is made: open-set scores, the known / review / unknown rule, and
the calibration of its two thresholds (on bear-train's val, or on the box's gallery).

One rule for everything that decides: `bearagent run` (per encounter), `bearagent
identify`, bear-train's evaluation and the demo all call `decide` / `classify`.
"""

from bearagent.decisions.calibration import (
    Calibration,
    OperatingPoint,
    auroc,
    calibrate,
    choose_thresholds,
    operating_point,
    review_curve,
)
from bearagent.decisions.decide import Decision, decide, decide_ranked
from bearagent.decisions.rule import DecisionRule, Outcome, RuleSource
from bearagent.decisions.scores import NEIGHBOURS, SCORE_NAMES, open_set_score, ranked_matrix

__all__ = [
    "NEIGHBOURS",
    "SCORE_NAMES",
    "Calibration",
    "Decision",
    "DecisionRule",
    "OperatingPoint",
    "Outcome",
    "RuleSource",
    "auroc",
    "calibrate",
    "choose_thresholds",
    "decide",
    "decide_ranked",
    "open_set_score",
    "operating_point",
    "ranked_matrix",
    "review_curve",
]
