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
        if self.best_chip is None or chip.best_similarity > self.best_chip.best_similarity:
            self.best_chip = chip
        self.dirty = True

    def absorb(self, other: Track) -> None:
        """Take every chip of `other` (a track found to be the same individual)."""
        for chip in other.chips:
            self.add(chip, max(self.last_arrival, other.last_arrival))

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
        """Whether a chip taken at `when` is close enough in time to join."""
        return (
            abs((when - self.last_captured_at).total_seconds()) <= gap_s
            or self.started_at <= when <= self.last_captured_at
        )
