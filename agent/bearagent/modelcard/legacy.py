"""Format-1 model cards: one unknown threshold on the best similarity, no review band.

They still load: `upgrade_v1` reads one into the current `ModelCard` (keeping
``format_version`` 1, so `bearagent card` shows what the file holds) with a
`DecisionSpec` whose two thresholds are equal, and no `TrackSpec`.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import Field, model_validator

from bearagent.modelcard.schema import DecisionSpec, _Strict

log = logging.getLogger(__name__)


class ThresholdSpec(_Strict):
    """Format 1's unknown-bear threshold: best cosine similarity >= value is known."""

    value: float = Field(ge=-1.0, le=1.0, description="Cosine similarity threshold.")
    method: Literal["calibrated", "manual"] = Field(
        description="'calibrated' on a validation set, or 'manual' (set by hand)."
    )
    target_false_unknown_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="False-unknown rate aimed at on known queries."
    )
    false_unknown_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="False-unknown rate reached on validation."
    )
    unknown_detection_rate: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Share of unknown queries detected."
    )
    auroc: float | None = Field(
        default=None, ge=0.0, le=1.0, description="AUROC of known vs unknown queries."
    )
    validation_set: str | None = Field(
        default=None, description="What the threshold was calibrated on (split, counts)."
    )

    @model_validator(mode="after")
    def _calibrated_has_target(self) -> ThresholdSpec:
        if self.method == "calibrated" and self.target_false_unknown_rate is None:
            raise ValueError("a calibrated threshold needs target_false_unknown_rate")
        return self


def decision_from_threshold(threshold: ThresholdSpec) -> DecisionSpec:
    """A format-1 threshold as a rule on the best similarity without a review band."""
    return DecisionSpec(
        score="best",
        known_threshold=threshold.value,
        unknown_threshold=threshold.value,
        method="manual",
        false_unknown_rate=threshold.false_unknown_rate,
        unknown_detection_rate=threshold.unknown_detection_rate,
        auroc=threshold.auroc,
        validation_set=(
            f"format-1 threshold ({threshold.method}"
            + (f", target false-unknown {threshold.target_false_unknown_rate}" if
               threshold.target_false_unknown_rate is not None else "")
            + (f"; {threshold.validation_set}" if threshold.validation_set else "")
            + ")"
        ),
    )  # fmt: skip


def upgrade_v1(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A format-1 card's JSON object in the current shape (still ``format_version`` 1)."""
    out = dict(data)
    raw = out.pop("threshold", None)
    if raw is None:
        return out  # validation reports the missing field
    threshold = ThresholdSpec.model_validate(raw)
    out["decision"] = decision_from_threshold(threshold).model_dump(mode="json")
    log.info(
        "model card in %s is format 1: one threshold (%.4f on the best similarity), no review "
        "band and no calibrated track similarity; export the model again with this bearid "
        "for known / review / unknown thresholds",
        source,
        threshold.value,
    )
    return out
