"""The encounter tracker: groups chips per camera, decides each encounter from all its
chips, clusters unknown bears online, and says which events to publish.

An encounter is decided on the mean of its chips' normalised embeddings. Above the
threshold it is the best-matching individual (known, or a provisional
``unknown-NNNN`` from an earlier visit); below, it gets a new provisional
individual made from its chips, so the next visit of the same new bear matches
it. Events: ``new`` at the first chip, ``update`` when the decision or the best
chip changes, ``end`` when the camera has been quiet long enough. The event that
creates a provisional individual goes to the ``unknown`` channel, all others to
``sighting``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Protocol

import numpy as np

from bearagent.encounters.config import EncounterConfig


class CandidateLike(Protocol):
    """A ranked individual (what the matcher returns)."""

    @property
    def individual_id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def similarity(self) -> float: ...
    @property
    def kind(self) -> str: ...


class IdentityStore(Protocol):
    """What the tracker needs from the gallery and its index."""

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[CandidateLike]]: ...
    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str: ...
    def add_references(
        self, individual_id: str, embeddings: np.ndarray, sources: list[str]
    ) -> None: ...


@dataclass(frozen=True)
class ChipObservation:
    """One embedded chip and its own match."""

    file: str
    camera: str
    site: str
    captured_at: datetime
    embedding: np.ndarray
    candidates: tuple[CandidateLike, ...]

    @property
    def best_similarity(self) -> float:
        """Similarity of the chip's own best candidate (-1 with an empty gallery)."""
        return self.candidates[0].similarity if self.candidates else -1.0


@dataclass(frozen=True)
class Decision:
    """Who an encounter is, and why."""

    individual_id: str
    name: str | None
    kind: str  # "known" or "provisional"
    similarity: float  # best similarity that decided it (to the gallery, before any new id)
    threshold: float
    candidates: tuple[CandidateLike, ...]


@dataclass
class Encounter:
    """The live state of one encounter."""

    id: str
    camera: str
    site: str
    started_at: datetime
    last_captured_at: datetime
    last_arrival: float
    chips: list[ChipObservation] = field(default_factory=list)
    embedding_sum: np.ndarray | None = None
    decision: Decision | None = None
    best_chip: ChipObservation | None = None
    provisional_id: str | None = None
    provisional_references: int = 0
    announced: bool = False  # its `new` event has been sent


@dataclass(frozen=True)
class EncounterEvent:
    """An event to publish about an encounter."""

    event_id: str
    type: Literal["new", "update", "end"]
    channel: Literal["sighting", "unknown"]
    encounter_id: str
    camera: str
    site: str
    started_at: datetime
    chip: ChipObservation  # the chip that caused it (for `end`: the best chip)
    best_chip: ChipObservation
    decision: Decision
    chip_count: int


class EncounterTracker:
    """Per-camera encounters over a stream of chips (one thread; not thread-safe)."""

    def __init__(
        self,
        cfg: EncounterConfig,
        threshold: float,
        store: IdentityStore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.threshold = threshold
        self.store = store
        self.clock = clock
        self.open: dict[str, Encounter] = {}  # camera -> its open encounter

    def observe(self, chip: ChipObservation) -> list[EncounterEvent]:
        """Add a chip; returns the events it causes (an ``end`` of the camera's previous
        encounter when the chip is too far from it in time, then ``new`` or ``update``)."""
        events: list[EncounterEvent] = []
        enc = self.open.get(chip.camera)
        if enc is not None and not self._belongs(enc, chip):
            events += self._end(enc)
            enc = None
        if enc is None:
            enc = Encounter(
                id=str(uuid.uuid4()),
                camera=chip.camera,
                site=chip.site,
                started_at=chip.captured_at,
                last_captured_at=chip.captured_at,
                last_arrival=self.clock(),
            )
            self.open[chip.camera] = enc
        event = self._add(enc, chip)
        if event is not None:
            events.append(event)
        return events

    def expire(self) -> list[EncounterEvent]:
        """End the encounters whose camera has been quiet for ``end_after`` seconds."""
        now = self.clock()
        quiet = [e for e in self.open.values() if now - e.last_arrival >= self.cfg.end_after]
        return [event for e in quiet for event in self._end(e)]

    def end_all(self) -> list[EncounterEvent]:
        """End every open encounter (at shutdown)."""
        return [event for e in list(self.open.values()) for event in self._end(e)]

    def _belongs(self, enc: Encounter, chip: ChipObservation) -> bool:
        gap = abs((chip.captured_at - enc.last_captured_at).total_seconds())
        return gap <= self.cfg.gap_s

    def _add(self, enc: Encounter, chip: ChipObservation) -> EncounterEvent | None:
        enc.chips.append(chip)
        enc.last_arrival = self.clock()
        enc.last_captured_at = max(enc.last_captured_at, chip.captured_at)
        enc.started_at = min(enc.started_at, chip.captured_at)
        enc.embedding_sum = (
            chip.embedding.astype(np.float32)
            if enc.embedding_sum is None
            else enc.embedding_sum + chip.embedding
        )
        previous, previous_best = enc.decision, enc.best_chip
        if enc.best_chip is None or chip.best_similarity > enc.best_chip.best_similarity:
            enc.best_chip = chip
        created = self._decide(enc, len(enc.chips) >= self.cfg.unknown_after_chips)
        self._grow_provisional(enc, chip, created)
        assert enc.decision is not None and enc.best_chip is not None  # set just above
        if not enc.decision.individual_id:
            return None  # looks unknown, but too few chips to say so yet
        channel: Literal["sighting", "unknown"] = "unknown" if created else "sighting"
        if not enc.announced:
            enc.announced = True
            return self._event("new", channel, enc, chip)
        if created or previous is None or previous.individual_id != enc.decision.individual_id:
            return self._event("update", channel, enc, chip)
        if previous_best is not enc.best_chip:
            return self._event("update", "sighting", enc, chip)
        return None

    def _decide(self, enc: Encounter, may_create: bool) -> bool:
        """Set `enc.decision`; True when it created a provisional individual.

        Below the threshold with no provisional individual yet and `may_create`
        false, the decision is left pending (an empty individual_id): one blurry
        first frame should not raise an unknown-bear alert.
        """
        assert enc.embedding_sum is not None
        mean = enc.embedding_sum / max(float(np.linalg.norm(enc.embedding_sum)), 1e-12)
        ranked = [
            c
            for c in self.store.search(mean[None, :].astype(np.float32), self.cfg.top_k + 1)[0]
            if c.individual_id != enc.provisional_id
        ][: self.cfg.top_k]
        best = ranked[0] if ranked else None
        if best is not None and best.similarity >= self.threshold:
            enc.decision = Decision(
                best.individual_id,
                best.name,
                best.kind,
                best.similarity,
                self.threshold,
                tuple(ranked),
            )
            return False
        created = enc.provisional_id is None
        if created and not may_create:
            similarity = best.similarity if best is not None else -1.0
            enc.decision = Decision("", None, "", similarity, self.threshold, tuple(ranked))
            return False
        if created:
            stack = np.stack(
                [c.embedding for c in enc.chips[: self.cfg.max_provisional_references]]
            )
            enc.provisional_id = self.store.create_provisional(stack, [c.file for c in enc.chips])
            enc.provisional_references = len(stack)
        similarity = best.similarity if best is not None else -1.0
        assert enc.provisional_id is not None
        enc.decision = Decision(
            enc.provisional_id, None, "provisional", similarity, self.threshold, tuple(ranked)
        )
        return created

    def _grow_provisional(self, enc: Encounter, chip: ChipObservation, created: bool) -> None:
        """Later chips of an unknown encounter refine its provisional individual."""
        if created or enc.decision is None or enc.decision.individual_id != enc.provisional_id:
            return
        if enc.provisional_references < self.cfg.max_provisional_references:
            self.store.add_references(
                enc.decision.individual_id, chip.embedding[None, :], [chip.file]
            )
            enc.provisional_references += 1

    def _end(self, enc: Encounter) -> list[EncounterEvent]:
        """The encounter's last events: its `end` (after its deferred `new`, if any)."""
        self.open.pop(enc.camera, None)
        assert enc.best_chip is not None
        events = []
        if not enc.announced:  # it stayed below the threshold: a new unknown bear after all
            created = self._decide(enc, may_create=True)
            enc.announced = True
            events.append(
                self._event("new", "unknown" if created else "sighting", enc, enc.chips[0])
            )
        events.append(self._event("end", "sighting", enc, enc.best_chip))
        return events

    @staticmethod
    def _event(
        kind: Literal["new", "update", "end"],
        channel: Literal["sighting", "unknown"],
        enc: Encounter,
        chip: ChipObservation,
    ) -> EncounterEvent:
        assert enc.decision is not None and enc.best_chip is not None
        return EncounterEvent(
            event_id=str(uuid.uuid4()),
            type=kind,
            channel=channel,
            encounter_id=enc.id,
            camera=enc.camera,
            site=enc.site,
            started_at=enc.started_at,
            chip=chip,
            best_chip=enc.best_chip,
            decision=replace(enc.decision),
            chip_count=len(enc.chips),
        )
