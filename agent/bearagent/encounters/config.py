"""The ``encounter`` section of the agent's configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EncounterConfig(BaseModel):
    """How chips are grouped into encounters and how an encounter is decided."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gap_s: float = Field(
        default=60.0,
        gt=0,
        description="Chips of one camera whose capture times are at most this far apart belong "
        "to one encounter.",
    )
    end_after_s: float | None = Field(
        default=None,
        gt=0,
        description="An encounter ends (its 'end' event is sent) when its camera has sent no "
        "chip for this many seconds of wall-clock time. Default: gap_s.",
    )
    threshold: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity at or above which a match is a known individual. Default: "
        "the calibrated threshold in the model card.",
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Candidates listed in every event.")
    unknown_after_chips: int = Field(
        default=2,
        ge=1,
        description="An encounter below the threshold becomes a new provisional individual "
        "(and raises the unknown alert) only once it has this many chips, or when it ends: "
        "one blurry first frame is not a new bear. Known bears are announced at once.",
    )
    max_provisional_references: int = Field(
        default=20,
        ge=1,
        description="At most this many chips of an unknown encounter become references of its "
        "provisional individual (unknown-NNNN).",
    )

    @property
    def end_after(self) -> float:
        """Seconds of camera silence that end an encounter."""
        return self.end_after_s if self.end_after_s is not None else self.gap_s
