"""Where the decision is made: open-set scores, the known / review / unknown rule, and
the calibration of its two thresholds (on bear-train's val, or on the box's gallery),
each kept only where the upper confidence bound of its error rate is within target.

One rule for everything that decides: `bearagent run` (per encounter), `bearagent
identify`, bear-train's evaluation and the demo all call `decide` / `classify`.
"""

from bearagent.decisions.bounds import DEFAULT_CONFIDENCE, lower_bound, upper_bound
from bearagent.decisions.calibration import (
    Calibration,
    OperatingPoint,
    auroc,
    calibrate,
    choose_thresholds,
    operating_point,
    review_curve,
)
from bearagent.decisions.cohort import Cohort, CohortSummary
from bearagent.decisions.decide import CohortMissing, Decision, decide, decide_ranked
from bearagent.decisions.rule import DecisionRule, Outcome, RuleSource
from bearagent.decisions.scores import (
    COHORT_SCORES,
    NEIGHBOURS,
    NEVER_KNOWN,
    NEVER_UNKNOWN,
    RANK_SCORES,
    SCORE_NAMES,
    CandidateStats,
    open_set_score,
    ranked_matrix,
)

__all__ = [
    "COHORT_SCORES",
    "DEFAULT_CONFIDENCE",
    "NEIGHBOURS",
    "NEVER_KNOWN",
    "NEVER_UNKNOWN",
    "RANK_SCORES",
    "SCORE_NAMES",
    "Calibration",
    "CandidateStats",
    "Cohort",
    "CohortMissing",
    "CohortSummary",
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
    "lower_bound",
    "open_set_score",
    "operating_point",
    "ranked_matrix",
    "review_curve",
    "upper_bound",
]
