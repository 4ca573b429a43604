"""Which decision rule is in force: config overrides, else the gallery's calibration,
else the model card's thresholds; with a line saying why (logs, `bearagent status`).

A rule whose calibration could not keep its promise makes no automatic decision of
that kind, and the why says so; a card without thresholds (``method:
uncalibrated``: a foundation model, or an adopted ONNX embedder) sends everything
to review until the box has calibrated on its gallery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bearagent.decisions.cohort import CohortSummary
from bearagent.decisions.config import DecisionConfig
from bearagent.decisions.rule import DecisionRule, RuleSource
from bearagent.decisions.scores import COHORT_SCORES, NEVER_KNOWN, NEVER_UNKNOWN
from bearagent.modelcard import DecisionSpec

log = logging.getLogger(__name__)

#: Why a card without thresholds sends everything to review.
UNCALIBRATED_CARD = (
    "the model card carries no calibrated thresholds; the box calibrates on its gallery "
    "(`bearagent gallery calibrate`)"
)


@dataclass(frozen=True)
class GalleryThresholds:
    """A gallery calibration's thresholds, what it was computed on, and what it promises."""

    score: str
    known: float
    unknown: float
    individuals: int
    encounters: int
    why: str = ""
    cohort: CohortSummary | None = None


@dataclass(frozen=True)
class RuleInForce:
    """The rule, and a line saying why it is the one (for logs and `status`)."""

    rule: DecisionRule
    why: str


def score_in_use(card: DecisionSpec, cfg: DecisionConfig) -> str:
    """The open-set score: the config's, else the card's."""
    return cfg.score or card.score


def _from_card(card: DecisionSpec) -> tuple[float, float, str]:
    """The card's thresholds and why (everything to review when it has none)."""
    known, unknown = card.known_threshold, card.unknown_threshold
    if known is None or unknown is None:
        return NEVER_KNOWN, NEVER_UNKNOWN, f"everything to review: {UNCALIBRATED_CARD}"
    why = f"from the model card ({card.method}" + (
        f", {card.validation_set})" if card.validation_set else ")"
    )
    if card.reason and (known >= NEVER_KNOWN or unknown <= NEVER_UNKNOWN):
        why += f"; {card.reason}"
    return known, unknown, why


def _base(
    card: DecisionSpec, cfg: DecisionConfig, gallery: GalleryThresholds | None, score: str
) -> tuple[float, float, RuleSource, str]:
    """Thresholds before the config's overrides: the gallery's, else the card's."""
    if gallery is not None and gallery.score == score and cfg.source != "card":
        why = (
            f"calibrated on this gallery ({gallery.individuals} individuals, "
            f"{gallery.encounters} encounters)" + (f": {gallery.why}" if gallery.why else "")
        )
        return gallery.known, gallery.unknown, "gallery", why
    if score == card.score:
        if cfg.source == "gallery":
            log.warning("decision.source = 'gallery' but the gallery has no calibration yet")
        known, unknown, why = _from_card(card)
        return known, unknown, "card", why
    if cfg.known_threshold is None or cfg.unknown_threshold is None:
        raise ValueError(
            f"decision.score = {score!r} differs from the model card's ({card.score!r}) and the "
            "gallery has no calibration for it: set decision.known_threshold and "
            "decision.unknown_threshold, or run `bearagent gallery calibrate`"
        )
    return cfg.known_threshold, cfg.unknown_threshold, "config", "from the configuration"


def rule_in_force(
    card: DecisionSpec, cfg: DecisionConfig, gallery: GalleryThresholds | None
) -> RuleInForce:
    """The thresholds the agent decides with, in order: config, gallery, card."""
    score = score_in_use(card, cfg)
    known, unknown, source, why = _base(card, cfg, gallery, score)
    if cfg.known_threshold is not None or cfg.unknown_threshold is not None:
        known = cfg.known_threshold if cfg.known_threshold is not None else known
        unknown = cfg.unknown_threshold if cfg.unknown_threshold is not None else unknown
        source, why = "config", "set in the configuration (decision.*_threshold)"
        if known < unknown:
            raise ValueError(
                f"decision thresholds cross: known {known} < unknown {unknown}; set both"
            )
    cohort = gallery.cohort if gallery is not None else None
    if score in COHORT_SCORES and cohort is None:
        raise ValueError(
            f"decision.score = {score!r} needs the gallery's cohort statistics and the gallery "
            "has no calibration yet: run `bearagent gallery calibrate` (it needs "
            "decision.min_individuals named individuals with two or more encounters), or "
            "choose a score of the ranked similarities alone (best, margin, margin3, blend)"
        )
    return RuleInForce(DecisionRule(score, known, unknown, source, cohort), why)
