"""Measuring embedders: accuracy@k (numpy), open-set calibration, and the split protocols."""

from beartrain.evaluation.metrics import (
    accuracy_at_k,
    aggregate_encounters,
    image_top_k,
    individual_scores,
    similarities,
    true_ranks,
)
from beartrain.evaluation.openset import (
    CalibrationError,
    OpenSetFigures,
    auroc,
    calibrate,
    choose_threshold,
    figures_at,
)
from beartrain.evaluation.protocol import EmbeddedSet, SubsetResult, evaluate_subset

__all__ = [
    "CalibrationError",
    "EmbeddedSet",
    "OpenSetFigures",
    "SubsetResult",
    "accuracy_at_k",
    "aggregate_encounters",
    "auroc",
    "calibrate",
    "choose_threshold",
    "evaluate_subset",
    "figures_at",
    "image_top_k",
    "individual_scores",
    "similarities",
    "true_ranks",
]
