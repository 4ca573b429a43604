"""What the encounter tracker says happened: the events to publish, and each chip's encounter.

Event types, in an encounter's life: ``new`` at its first decision, ``update`` when
its decision or best chip changes, ``end`` when its camera has been quiet for the
gap, ``merged`` when it joined another encounter of its camera (``merged_into``),
and ``amended`` when a late chip joined it after its ``end`` (the final state again,
every chip listed: it replaces what the ``end`` said).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bearagent.decisions import Decision
from bearagent.encounters.track import ChipObservation
from bearagent.wire.channels import EncounterChannel

EventType = Literal["new", "update", "end", "merged", "amended"]


@dataclass(frozen=True)
class EncounterEvent:
    """An event to publish about an encounter."""

    event_id: str
    type: EventType
    channel: EncounterChannel
    encounter_id: str
    camera: str
    site: str
    started_at: datetime
    last_captured_at: datetime
    chip: ChipObservation  # the chip that caused it (for `end` and `merged`: the best chip)
    decision: Decision
    chip_count: int
    chips: tuple[ChipObservation, ...] = ()  # `end` and `amended`: every chip, oldest first
    merged_into: str | None = None  # `merged` only


@dataclass(frozen=True)
class Observed:
    """What a batch of chips caused: events; each chip's encounter (in input order, after
    merges); the ended encounters that late chips opened again (their rows are open again
    until their ``amended`` event); and the merges (absorbed encounter -> the one that took
    it: the absorbed one's chips recorded earlier move to it)."""

    events: list[EncounterEvent]
    encounter_ids: list[str]
    reopened: list[str] = field(default_factory=list)
    merges: dict[str, str] = field(default_factory=dict)
