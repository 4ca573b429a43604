"""What the review pages show, as plain frozen records (the templates read only these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChipView:
    """One chip (a sighting row) of an encounter."""

    sighting_id: int
    encounter_id: str | None
    file: str
    captured_at: str | None
    similarity: float | None
    outcome: str | None
    individual_id: str | None
    has_thumbnail: bool

    @property
    def rejected(self) -> bool:
        """Whether a person rejected it (not a bear, or unusable)."""
        return self.outcome == "rejected"


@dataclass(frozen=True)
class CandidateView:
    """One of the encounter's top-k individuals, with reference chips to compare."""

    individual_id: str
    name: str | None
    kind: str  # known, provisional, or gone (no longer in the gallery)
    similarity: float
    references: tuple[int, ...]
    reference_count: int

    @property
    def label(self) -> str:
        """Name and id, or the id alone."""
        return f"{self.name} ({self.individual_id})" if self.name else self.individual_id


@dataclass(frozen=True)
class SettledBy:
    """The audit row that decided an encounter."""

    action_id: int
    action: str
    by: str
    at: str
    summary: str


@dataclass(frozen=True)
class EncounterView:
    """One encounter with what a person needs to decide it."""

    id: str
    site: str
    camera: str
    started_at: str
    last_captured_at: str | None
    status: str
    individual_id: str | None
    name: str | None
    score: float | None
    score_name: str
    known_threshold: float | None
    unknown_threshold: float | None
    threshold_source: str
    chip_count: int
    ended: bool
    merged_into: str | None
    updated_at: str
    chips: tuple[ChipView, ...]
    candidates: tuple[CandidateView, ...]
    settled: SettledBy | None = None
    decision: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        """Who the encounter is now, in words."""
        if self.individual_id is None:
            return "undecided"
        return f"{self.name} ({self.individual_id})" if self.name else self.individual_id

    @property
    def proposal(self) -> CandidateView | None:
        """The individual a confirm would settle on: its own, else the best candidate."""
        if self.individual_id is not None:
            return None
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters (empty strings: no filter)."""

    site: str = ""
    camera: str = ""
    date_from: str = ""  # YYYY-MM-DD, on the encounter's capture dates
    date_to: str = ""
    status: str = ""  # review or unknown
    page: int = 1


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue."""

    encounters: tuple[EncounterView, ...]
    total: int
    page: int
    pages: int
    sites: tuple[str, ...]
    cameras: tuple[str, ...]


@dataclass(frozen=True)
class ReferenceView:
    """One reference of an individual."""

    id: int
    source: str
    captured_at: str | None
    created: str


@dataclass(frozen=True)
class EncounterSummary:
    """An encounter in an individual's history."""

    id: str
    site: str
    camera: str
    started_at: str
    last_captured_at: str | None
    status: str
    chip_count: int
    first_chip: int | None


@dataclass(frozen=True)
class CameraCount:
    """Sightings of an individual at one camera."""

    site: str
    camera: str
    encounters: int
    chips: int
    first: str
    last: str


@dataclass(frozen=True)
class IndividualCard:
    """An individual on the gallery page."""

    id: str
    name: str | None
    kind: str
    references: int
    encounters: int
    last_seen: str | None
    shown: tuple[int, ...]  # reference ids to show

    @property
    def label(self) -> str:
        """Name and id, or the id alone."""
        return f"{self.name} ({self.id})" if self.name else self.id


@dataclass(frozen=True)
class ActionView:
    """One row of the audit log."""

    id: int
    at: str
    by: str
    client: str
    action: str
    encounter_id: str | None
    individual_id: str | None
    summary: str
    before: dict[str, Any]
    after: dict[str, Any]
    files: tuple[str, ...]
    event_id: str
    undoes: int | None
    undone_by: int | None
