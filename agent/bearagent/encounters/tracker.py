"""The encounter tracker: splits each camera's chips into per-individual tracks, decides
each track from all its chips, and says which events to publish.

A chip joins the open track of its camera that it matches best (the track's
mean or recent chips, `Track.similarity`) when that reaches the same-individual
similarity and the chip is within the gap; otherwise it opens a new track. Each
track is an encounter, decided on the mean of its chips' embeddings through
`bearagent.decisions.decide`: ``known`` (the best candidate), ``review`` (a
person decides; nothing is created) or ``unknown`` (a new provisional individual
made from its chips, once it has enough of them, so the next visit of the same
new bear matches it). Two open tracks of one camera decided as the same
individual merge: the younger ends with a ``merged`` event. Events: ``new`` at
the first decision, ``update`` when the decision or the best chip changes,
``end`` when the track has been quiet long enough. The event that creates a
provisional individual goes to the ``unknown`` channel, all others to
``sighting``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

import numpy as np

from bearagent.decisions import NEIGHBOURS, Decision, DecisionRule, Outcome, decide
from bearagent.encounters.config import EncounterConfig
from bearagent.encounters.track import ChipObservation, Track
from bearagent.matching.knn import Candidate

EventType = Literal["new", "update", "end", "merged"]
Channel = Literal["sighting", "unknown"]


class IdentityStore(Protocol):
    """What the tracker needs from the gallery and its index."""

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[Candidate]]: ...
    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str: ...
    def add_references(
        self, individual_id: str, embeddings: np.ndarray, sources: list[str]
    ) -> None: ...


@dataclass(frozen=True)
class EncounterEvent:
    """An event to publish about an encounter."""

    event_id: str
    type: EventType
    channel: Channel
    encounter_id: str
    camera: str
    site: str
    started_at: datetime
    last_captured_at: datetime
    chip: ChipObservation  # the chip that caused it (for `end` and `merged`: the best chip)
    decision: Decision
    chip_count: int
    chips: tuple[ChipObservation, ...] = ()  # `end` only: every chip, oldest first
    merged_into: str | None = None  # `merged` only


@dataclass(frozen=True)
class Observed:
    """What a batch of chips caused: events, and each chip's encounter (in input order)."""

    events: list[EncounterEvent]
    encounter_ids: list[str]


class EncounterTracker:
    """Per-camera tracks over a stream of chips (one thread; not thread-safe)."""

    def __init__(
        self,
        cfg: EncounterConfig,
        rules: Callable[[], DecisionRule],
        same_individual: float,
        store: IdentityStore,
        clock: Callable[[], float] = time.monotonic,
        *,
        merge_similarity: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.rules = rules
        self.same_individual = same_individual
        #: Two open tracks whose means are at least this alike are one individual.
        self.merge_similarity = same_individual if merge_similarity is None else merge_similarity
        #: ... or this alike, when the gallery's best candidate is the same for both.
        self.proposal_merge_similarity = (
            cfg.proposal_merge_similarity
            if cfg.proposal_merge_similarity is not None
            else same_individual / 2
        )
        self.store = store
        self.clock = clock
        self._open: dict[str, list[Track]] = {}  # camera -> its open tracks, oldest first
        self._published: dict[str, tuple[Decision, ChipObservation]] = {}
        self._referenced: dict[str, int] = {}  # track -> chips considered as references

    @property
    def open_count(self) -> int:
        """Open encounters."""
        return sum(len(v) for v in self._open.values())

    def forget(self) -> None:
        """Drop every open track without events (their rows were rolled back)."""
        self._open.clear()
        self._published.clear()
        self._referenced.clear()

    def observe(self, chips: Sequence[ChipObservation]) -> Observed:
        """Add a batch of chips (in capture order per camera); returns what they cause."""
        events: list[EncounterEvent] = []
        ids: list[str] = []
        touched: list[Track] = []
        for chip in chips:
            events += self._end_passed(chip)
            track = self._join(chip)
            ids.append(track.id)
            if track not in touched:
                touched.append(track)
        live = [t for t in touched if self._is_open(t)]
        created = self._decide_many([t for t in live if t.dirty], may_create=None)
        for camera in dict.fromkeys(t.camera for t in live):
            merged, keeps = self._merge_same(camera)
            events += merged
            live += [k for k in keeps if k not in live]
        live = [t for t in live if self._is_open(t)]
        events += [e for t in live if (e := self._announce(t, t.id in created))]
        return Observed(events, ids)

    def expire(self) -> list[EncounterEvent]:
        """End the tracks that received no chip for ``end_after`` seconds."""
        now = self.clock()
        quiet = [t for ts in self._open.values() for t in ts
                 if now - t.last_arrival >= self.cfg.end_after]  # fmt: skip
        return [event for t in quiet for event in self._end(t)]

    def end_all(self) -> list[EncounterEvent]:
        """End every open track (at shutdown)."""
        return [
            event for ts in list(self._open.values()) for t in list(ts) for event in self._end(t)
        ]

    # --- assignment ---------------------------------------------------------------------

    def _is_open(self, track: Track) -> bool:
        return track in self._open.get(track.camera, [])

    def _end_passed(self, chip: ChipObservation) -> list[EncounterEvent]:
        """End the camera's tracks whose latest chip lies more than the gap before `chip`."""
        passed = [
            t for t in self._open.get(chip.camera, [])
            if (chip.captured_at - t.last_captured_at).total_seconds() > self.cfg.gap_s
        ]  # fmt: skip
        return [event for t in passed for event in self._end(t)]

    def _join(self, chip: ChipObservation) -> Track:
        """The open track `chip` joins, or a new one."""
        tracks = self._open.setdefault(chip.camera, [])
        near = [t for t in tracks if t.within_gap(chip.captured_at, self.cfg.gap_s)]
        best = max(near, key=lambda t: t.similarity(chip), default=None)
        if best is None or best.similarity(chip) < self.same_individual:
            best = Track(
                id=str(uuid.uuid4()),
                camera=chip.camera,
                site=chip.site,
                started_at=chip.captured_at,
                last_captured_at=chip.captured_at,
                last_arrival=self.clock(),
                recent_size=self.cfg.recent_chips,
            )
            tracks.append(best)
        best.add(chip, self.clock())
        return best

    # --- decisions ----------------------------------------------------------------------

    def _decide_many(self, tracks: list[Track], may_create: bool | None) -> set[str]:
        """Decide `tracks` with one search; returns the ids of those that created an individual.

        `may_create` None: an unknown track creates its provisional individual once it has
        ``unknown_after_chips`` chips.
        """
        if not tracks:
            return set()
        depth = max(self.cfg.top_k, NEIGHBOURS)
        means = np.stack([t.mean() for t in tracks])
        results = self.store.search(means, depth + 1)
        rule = self.rules()
        created: set[str] = set()
        for track, ranked in zip(tracks, results, strict=True):
            allowed = len(track.chips) >= self.cfg.unknown_after_chips
            own = [c for c in ranked if c.individual_id != track.provisional_id][:depth]
            if self._settle(track, decide(own, rule), may_create if may_create is not None
                            else allowed):  # fmt: skip
                created.add(track.id)
            self._grow_provisional(track, track.id in created)
            track.dirty = False
        return created

    def _settle(self, track: Track, d: Decision, may_create: bool) -> bool:
        """Set the track's decision from `d`; True when it created a provisional individual."""
        d = replace(d, candidates=d.candidates[: self.cfg.top_k])
        if d.outcome is Outcome.KNOWN:
            track.decision = d
            return False
        if track.provisional_id is not None:  # once created, a stranger stays itself
            track.decision = replace(d, outcome=Outcome.UNKNOWN).with_individual(
                track.provisional_id
            )
            return False
        if d.outcome is Outcome.REVIEW or not may_create:
            track.decision = d  # review, or unknown still pending (no individual yet)
            return False
        cap = self.cfg.max_provisional_references
        stack = np.stack([c.embedding for c in track.chips[:cap]])
        track.provisional_id = self.store.create_provisional(stack, [c.file for c in track.chips])
        track.provisional_references = len(stack)
        self._referenced[track.id] = len(track.chips)
        track.decision = d.with_individual(track.provisional_id)
        return True

    def _grow_provisional(self, track: Track, created: bool) -> None:
        """Later chips of an unknown encounter refine its provisional individual."""
        d = track.decision
        if (
            created
            or d is None
            or d.individual_id is None
            or d.individual_id != track.provisional_id
        ):
            return
        start = self._referenced.get(track.id, len(track.chips))
        room = self.cfg.max_provisional_references - track.provisional_references
        new = track.chips[start:][: max(room, 0)]
        if new:
            self.store.add_references(
                d.individual_id, np.stack([c.embedding for c in new]), [c.file for c in new]
            )
            track.provisional_references += len(new)
        self._referenced[track.id] = len(track.chips)

    # --- events -------------------------------------------------------------------------

    def _announce(self, track: Track, created: bool) -> EncounterEvent | None:
        """The `new` or `update` event a fresh decision calls for, if any."""
        d, latest = track.decision, track.chips[-1]
        assert d is not None and track.best_chip is not None
        if d.outcome is Outcome.UNKNOWN and d.individual_id is None:
            return None  # looks unknown, but too few chips to say so yet
        channel: Channel = "unknown" if created else "sighting"
        previous = self._published.get(track.id)
        if not track.announced:  # `new` points at the chip that began the encounter
            track.announced = True
            return self._event("new", channel, track, track.chips[0])
        assert previous is not None
        old, old_best = previous
        if created or (old.outcome, old.individual_id) != (d.outcome, d.individual_id):
            return self._event("update", channel, track, latest)
        if old_best is not track.best_chip:
            return self._event("update", "sighting", track, latest)
        return None

    def _merge_same(self, camera: str) -> tuple[list[EncounterEvent], list[Track]]:
        """Merge the camera's open tracks that are one individual: decided as the same known
        individual, or alike (their means at least the merge similarity; a chip alone is
        noisier than a track's mean, so one bear's burst can start a second track).

        The older keeps every chip; a merged track that was announced ends with a
        ``merged`` event, one that was not (it just began) leaves no trace. Returns the
        events and the tracks that absorbed others (re-decided, still to announce).
        """
        events: list[EncounterEvent] = []
        keeps: list[Track] = []
        while (pair := self._pair_to_merge(camera)) is not None:
            keep, track = pair
            self._open[camera].remove(track)
            if track.announced:
                assert track.best_chip is not None
                events.append(self._event("merged", "sighting", track, track.best_chip,
                                          merged_into=keep.id))  # fmt: skip
            self._forget_track(track)
            keep.absorb(track)
            self._decide_many([keep], may_create=None)
            if keep not in keeps:
                keeps.append(keep)
        return events, keeps

    def _pair_to_merge(self, camera: str) -> tuple[Track, Track] | None:
        """(older, younger) open tracks of `camera` that are one individual, if any."""
        tracks = self._open.get(camera, [])
        known: dict[str, Track] = {}
        for track in tracks:
            d = track.decision
            if d is not None and d.outcome is Outcome.KNOWN and d.individual_id is not None:
                if d.individual_id in known:
                    return known[d.individual_id], track
                known[d.individual_id] = track
        best: tuple[float, Track, Track] | None = None
        for i, older in enumerate(tracks):
            for younger in tracks[i + 1 :]:
                if _kept_apart(older, younger, self.cfg.gap_s):
                    continue
                alike = float(older.mean() @ younger.mean())
                bar = self.merge_similarity
                if _same_proposal(older, younger):  # the gallery agrees: a lower bar
                    bar = min(bar, self.proposal_merge_similarity)
                if alike >= bar and (best is None or alike > best[0]):
                    best = (alike, older, younger)
        return None if best is None else (best[1], best[2])

    def _end(self, track: Track) -> list[EncounterEvent]:
        """The track's last events: a deferred `new` or an `update` if due, then its `end`."""
        self._open[track.camera].remove(track)
        if not self._open[track.camera]:
            del self._open[track.camera]
        pending = track.decision is None or (
            track.decision.outcome is Outcome.UNKNOWN and track.decision.individual_id is None
        )
        created = self._decide_many([track], may_create=True) if track.dirty or pending else set()
        events = [e for e in [self._announce(track, track.id in created)] if e is not None]
        assert track.best_chip is not None
        events.append(self._event("end", "sighting", track, track.best_chip,
                                  chips=tuple(track.chips)))  # fmt: skip
        self._forget_track(track)
        return events

    def _forget_track(self, track: Track) -> None:
        self._published.pop(track.id, None)
        self._referenced.pop(track.id, None)

    def _event(
        self,
        kind: EventType,
        channel: Channel,
        track: Track,
        chip: ChipObservation,
        *,
        chips: tuple[ChipObservation, ...] = (),
        merged_into: str | None = None,
    ) -> EncounterEvent:
        assert track.decision is not None and track.best_chip is not None
        self._published[track.id] = (track.decision, track.best_chip)
        return EncounterEvent(
            event_id=str(uuid.uuid4()),
            type=kind,
            channel=channel,
            encounter_id=track.id,
            camera=track.camera,
            site=track.site,
            started_at=track.started_at,
            last_captured_at=track.last_captured_at,
            chip=chip,
            decision=track.decision,
            chip_count=len(track.chips),
            chips=tuple(sorted(chips, key=lambda c: c.captured_at)),
            merged_into=merged_into,
        )


def _kept_apart(a: Track, b: Track, gap_s: float) -> bool:
    """Tracks that must not merge on likeness alone: decided as two different known
    individuals, both already strangers with their own provisional individuals, or
    not within the gap of each other."""
    da, db = a.decision, b.decision
    if (
        da is not None and db is not None and da.outcome is Outcome.KNOWN
        and db.outcome is Outcome.KNOWN and da.individual_id != db.individual_id
    ):  # fmt: skip
        return True
    if a.provisional_id is not None and b.provisional_id is not None:
        return True
    return not (a.within_gap(b.started_at, gap_s) or b.within_gap(a.started_at, gap_s))


def _same_proposal(a: Track, b: Track) -> bool:
    """Whether two tracks' decisions have the same best candidate."""
    pa = a.decision.proposal if a.decision is not None else None
    pb = b.decision.proposal if b.decision is not None else None
    return pa is not None and pb is not None and pa.individual_id == pb.individual_id
