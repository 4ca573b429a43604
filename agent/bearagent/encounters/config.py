"""The ``encounter`` section of the agent's configuration."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EncounterConfig(BaseModel):
    """How chips of one camera are split into per-individual tracks (encounters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "threshold" in data:
            raise ValueError(
                "encounter.threshold was replaced by decision.known_threshold and "
                "decision.unknown_threshold (known / review / unknown): set those instead"
            )
        return data

    gap_s: float = Field(
        default=60.0,
        gt=0,
        description="A chip may join an open track of its camera only when its capture time is "
        "at most this far from the track's latest chip; a track whose camera sends a chip "
        "later than this after its latest one ends.",
    )
    end_after_s: float | None = Field(
        default=None,
        gt=0,
        description="An encounter ends (its 'end' event is sent) when it has received no chip "
        "for this many seconds of wall-clock time. Default: gap_s.",
    )
    late_chips_s: float = Field(
        default=3600.0,
        ge=0,
        description="An ended encounter still takes a late chip (one captured within its span "
        "plus the gap: a rescan, a card copied in any order) for this many seconds of "
        "wall-clock time after it ended; it is then amended and announced again with an "
        "'amended' event. 0: a late chip opens a new encounter.",
    )
    same_individual: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity of a chip to an open track (its mean, or one of its "
        "recent chips) at or above which the chip joins it; below, it opens a new track. "
        "Default: the model card's tracks.same_individual (calibrated by bear-train).",
    )
    proposal_merge_similarity: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Two open tracks of one camera whose best gallery candidate is the same "
        "merge when their means are at least this alike (below same_individual: the gallery "
        "agrees they are one bear). Default: half the same-individual similarity (on the "
        "cattle faces, bench/bench_tracks.py: 27 % fewer spurious encounters, purity 0.99).",
    )
    recent_chips: int = Field(
        default=5,
        ge=0,
        le=100,
        description="A chip is compared with this many of a track's latest chips as well as with "
        "its mean (a bear turning its head drifts away from the mean).",
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Candidates listed in every event.")
    unknown_after_chips: int = Field(
        default=2,
        ge=1,
        description="An encounter decided 'unknown' becomes a new provisional individual "
        "(and raises the unknown alert) only once it has this many chips, or when it ends: "
        "one blurry first frame is not a new bear. Known and review encounters are announced "
        "at once.",
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
