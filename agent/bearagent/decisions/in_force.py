"""Which decision rule is in force: config overrides, else the gallery's calibration,
else the model card's thresholds."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bearagent.decisions.config import DecisionConfig
from bearagent.decisions.rule import DecisionRule, RuleSource
from bearagent.modelcard import DecisionSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GalleryThresholds:
    """A gallery calibration's thresholds, and what it was computed on."""

    score: str
    known: float
    unknown: float
    individuals: int
    encounters: int


@dataclass(frozen=True)
class RuleInForce:
    """The rule, and a line saying why it is the one (for logs and `status`)."""

    rule: DecisionRule
    why: str


def score_in_use(card: DecisionSpec, cfg: DecisionConfig) -> str:
    """The open-set score: the config's, else the card's."""
    return cfg.score or card.score


def rule_in_force(
    card: DecisionSpec, cfg: DecisionConfig, gallery: GalleryThresholds | None
) -> RuleInForce:
    """The thresholds the agent decides with, in order: config, gallery, card."""
    score = score_in_use(card, cfg)
    base: tuple[float, float, RuleSource, str]
    use_gallery = gallery is not None and gallery.score == score and cfg.source != "card"
    if use_gallery and gallery is not None:
        base = (gallery.known, gallery.unknown, "gallery",
                f"calibrated on this gallery ({gallery.individuals} individuals, "
                f"{gallery.encounters} encounters)")  # fmt: skip
    elif score == card.score:
        base = (card.known_threshold, card.unknown_threshold, "card",
                f"from the model card ({card.method}"
                + (f", {card.validation_set}" if card.validation_set else "") + ")")  # fmt: skip
        if cfg.source == "gallery":
            log.warning("decision.source = 'gallery' but the gallery has no calibration yet")
    elif cfg.known_threshold is None or cfg.unknown_threshold is None:
        raise ValueError(
            f"decision.score = {score!r} differs from the model card's ({card.score!r}) and the "
            "gallery has no calibration for it: set decision.known_threshold and "
            "decision.unknown_threshold, or run `bearagent gallery calibrate`"
        )
    else:
        base = (cfg.known_threshold, cfg.unknown_threshold, "config", "from the configuration")
    known, unknown, source, why = base
    if cfg.known_threshold is not None or cfg.unknown_threshold is not None:
        known = cfg.known_threshold if cfg.known_threshold is not None else known
        unknown = cfg.unknown_threshold if cfg.unknown_threshold is not None else unknown
        source, why = "config", "set in the configuration (decision.*_threshold)"
        if known < unknown:
            raise ValueError(
                f"decision thresholds cross: known {known} < unknown {unknown}; set both"
            )
    return RuleInForce(DecisionRule(score, known, unknown, source), why)
