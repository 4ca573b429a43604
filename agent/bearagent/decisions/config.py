"""The ``decision`` section of the agent's configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DecisionConfig(BaseModel):
    """How encounters are decided known / review / unknown, and where the thresholds come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: Literal["best", "margin", "margin3", "blend", "asnorm", "individual"] | None = Field(
        default=None,
        description="Open-set score (best, margin, margin3, blend; asnorm and individual also "
        "need the gallery's calibration: docs/openset.md). Default: the model card's. Changing "
        "it needs thresholds for that score: from gallery calibration or the two keys below.",
    )
    known_threshold: float | None = Field(
        default=None,
        description="Scores at or above are accepted as known. Overrides the card and the "
        "gallery calibration.",
    )
    unknown_threshold: float | None = Field(
        default=None,
        description="Scores below are unknown (a new provisional individual); between the two "
        "thresholds, review. Overrides the card and the gallery calibration.",
    )
    calibrate_on_gallery: bool = Field(
        default=True,
        description="Re-estimate the thresholds on the gallery this box holds (at start when "
        "stale, after `bearagent gallery` changes); they win over the card's when the "
        "gallery is large enough.",
    )
    target_error_rate: float = Field(
        default=0.05, gt=0, lt=1,
        description="Gallery calibration: share of automatic known decisions allowed to be "
        "wrong (another individual's id, or a stranger accepted).",
    )  # fmt: skip
    target_false_unknown_rate: float = Field(
        default=0.05, gt=0, lt=1,
        description="Gallery calibration: share of known bears allowed to come out unknown.",
    )  # fmt: skip
    confidence: float = Field(
        default=0.95, ge=0.5, lt=1,
        description="Gallery calibration: a threshold is kept only where the upper "
        "(Clopper-Pearson) bound of its error rate at this confidence is within its target; "
        "where none is, that kind of automatic decision is withheld (all of them: everything "
        "goes to review).",
    )  # fmt: skip
    min_individuals: int = Field(
        default=8, ge=2,
        description="Gallery calibration wins only with at least this many named individuals "
        "that have two or more encounters.",
    )  # fmt: skip
    min_encounters: int = Field(
        default=30, ge=1,
        description="... and at least this many such encounters (the genuine queries).",
    )  # fmt: skip
    max_queries: int = Field(
        default=1000,
        ge=10,
        description="Gallery calibration: at most this many encounters as queries (a sample, "
        "the same each time); bounds its time and memory on a large gallery.",
    )
    source: Literal["auto", "card", "gallery"] = Field(
        default="auto",
        description="'auto': the gallery's thresholds when calibrated, else the card's; "
        "'card' or 'gallery' to insist (gallery without a calibration falls back to the "
        "card, with a warning).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DecisionConfig:
        k, u = self.known_threshold, self.unknown_threshold
        if k is not None and u is not None and k < u:
            raise ValueError(
                f"known_threshold ({k}) must not be below unknown_threshold ({u}): scores "
                "between them go to review"
            )
        return self
