"""Measuring embedders: accuracy@k (numpy), the open-set decision rule, and the protocols."""

from beartrain.evaluation.decision_rule import (
    CalibrationError,
    RuleChoice,
    calibrate_scores,
    choose_rule,
    decision_spec,
    rule_figures,
    rule_of,
    score_aurocs,
)
from beartrain.evaluation.embedded import EmbeddedSet
from beartrain.evaluation.metrics import (
    accuracy_at_k,
    aggregate_encounters,
    image_top_k,
    individual_scores,
    similarities,
    true_ranks,
)
from beartrain.evaluation.protocol import SubsetResult, evaluate_subset
from beartrain.evaluation.queries import OpenSetQueries, ranked_against, subset_queries
from beartrain.evaluation.tracks import calibrate_tracks

__all__ = [
    "CalibrationError",
    "EmbeddedSet",
    "OpenSetQueries",
    "RuleChoice",
    "SubsetResult",
    "accuracy_at_k",
    "aggregate_encounters",
    "calibrate_scores",
    "calibrate_tracks",
    "choose_rule",
    "decision_spec",
    "evaluate_subset",
    "image_top_k",
    "individual_scores",
    "ranked_against",
    "rule_figures",
    "rule_of",
    "score_aurocs",
    "similarities",
    "subset_queries",
    "true_ranks",
]
