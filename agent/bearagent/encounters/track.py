"""One track: an individual's chips at one camera within the gap, i.e. one encounter."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bearagent.chips.capture import Detection, TimeSource
from bearagent.decisions import Decision
from bearagent.encounters.similarity import chip_to_track_similarity
from bearagent.matching.knn import Candidate


@dataclass(frozen=True)
class ChipObservation:
    """One embedded chip, its own match, and where and when it was taken."""

    file: str  # relative to its watch root
    camera: str
    site: str
    captured_at: datetime
    time_source: TimeSource
    embedding: np.ndarray
    candidates: tuple[Candidate, ...]
    detection: Detection | None = None

    @property
    def best_similarity(self) -> float:
        """Similarity of the chip's own best candidate (-1 with an empty gallery)."""
        return self.candidates[0].similarity if self.candidates else -1.0

    @property
    def order(self) -> tuple[datetime, str]:
        """Capture order: by capture time, then file name (a total order of a camera's chips)."""
        return (self.captured_at, self.file)


@dataclass(eq=False)
class Track:
    """The live state of one encounter."""

    id: str
    camera: str
    site: str
    started_at: datetime
    last_captured_at: datetime
    last_arrival: float
    recent_size: int
    chips: list[ChipObservation] = field(default_factory=list)
    embedding_sum: np.ndarray | None = None
    recent: deque[np.ndarray] = field(default_factory=deque)
    decision: Decision | None = None
    best_chip: ChipObservation | None = None
    provisional_id: str | None = None  # the new individual this encounter created
    provisional_references: int = 0
    announced: bool = False  # its `new` event has been sent
    dirty: bool = True  # chips were added since it was last decided
    ended: bool = False  # its `end` has been sent: a later end is an `amended`
    ended_at: float | None = None  # wall clock of its last end, while kept for late chips
    published: tuple[Decision, ChipObservation] | None = None  # decision, best chip last told
    referenced: int | None = None  # chips already considered as provisional references

    def add(self, chip: ChipObservation, now: float) -> None:
        """Take a chip into the track."""
        self.chips.append(chip)
        self.last_arrival = now
        self.last_captured_at = max(self.last_captured_at, chip.captured_at)
        self.started_at = min(self.started_at, chip.captured_at)
        e = chip.embedding.astype(np.float32)
        self.embedding_sum = e.copy() if self.embedding_sum is None else self.embedding_sum + e
        if self.recent_size:
            self.recent.append(e)
            while len(self.recent) > self.recent_size:
                self.recent.popleft()
        if self.best_chip is None or _better(chip, self.best_chip):
            self.best_chip = chip
        self.dirty = True

    def absorb(self, other: Track) -> None:
        """Take every chip of `other` (a track found to be the same individual), and its
        provisional individual when this track has none."""
        for chip in other.chips:
            self.add(chip, max(self.last_arrival, other.last_arrival))
        if self.provisional_id is None and other.provisional_id is not None:
            self.provisional_id = other.provisional_id
            self.provisional_references = other.provisional_references

    def mean(self) -> np.ndarray:
        """The normalised mean of the track's chip embeddings."""
        assert self.embedding_sum is not None, "a track has at least one chip"
        norm = float(np.linalg.norm(self.embedding_sum))
        return (self.embedding_sum / max(norm, 1e-12)).astype(np.float32)

    def similarity(self, chip: ChipObservation) -> float:
        """How well `chip` matches this track (its mean, or one of its recent chips)."""
        recent = np.stack(list(self.recent)) if self.recent else np.zeros((0, 1), np.float32)
        return chip_to_track_similarity(chip.embedding.astype(np.float32), self.mean(), recent)

    def within_gap(self, when: datetime, gap_s: float) -> bool:
        """Whether a chip taken at `when` lies within the track's span widened by the gap
        on both sides (chips may arrive in any order)."""
        return (self.started_at - when).total_seconds() <= gap_s and (
            when - self.last_captured_at
        ).total_seconds() <= gap_s

    def near(self, other: Track, gap_s: float) -> bool:
        """Whether the two tracks' capture-time spans overlap or lie within the gap."""
        return (other.started_at - self.last_captured_at).total_seconds() <= gap_s and (
            self.started_at - other.last_captured_at
        ).total_seconds() <= gap_s

    def older_than(self, other: Track) -> bool:
        """Whether this track began first (by capture time, then id: a total order)."""
        return (self.started_at, self.id) < (other.started_at, other.id)

    def chips_in_order(self) -> tuple[ChipObservation, ...]:
        """Every chip, oldest first."""
        return tuple(sorted(self.chips, key=lambda c: c.order))


def _better(chip: ChipObservation, best: ChipObservation) -> bool:
    """Whether `chip` is a better best chip than `best`: a higher own similarity, on a tie
    the earlier capture (so the best chip does not depend on arrival order)."""
    if chip.best_similarity != best.best_similarity:
        return chip.best_similarity > best.best_similarity
    return chip.order < best.order
