"""The encounter tracker: splits each camera's chips into per-individual tracks, decides
each track from all its chips, and says which events to publish.

Encounters are a function of capture times and content, not of arrival order:
- a chip joins the track of its camera that it matches best (the track's mean or
  recent chips, `Track.similarity`) among those whose capture-time span, widened by
  the gap on both sides, holds it, when that reaches the same-individual similarity;
  otherwise it opens a new track;
- ended tracks stay at hand for late chips (``encounter.late_chips_s`` of wall-clock
  time): a chip that falls within an ended encounter's span plus the gap joins it, the
  encounter is open again and ends with an ``amended`` event (its final state again);
- two tracks merge only when their capture-time spans overlap or lie within the gap of
  each other (`bearagent.encounters.pairing`), whether open or recently ended; the
  older by capture time keeps.

Each track is an encounter, decided on the mean of its chips' embeddings through
`bearagent.decisions.decide`: ``known`` (the best candidate), ``review`` (a person
decides; nothing is created) or ``unknown`` (a new provisional individual made from
its chips, once it has enough of them, so the next visit of the same new bear matches
it). Events: ``new`` at the first decision, ``update`` when the decision or the best
chip changes, ``end`` when the track has been quiet long enough, ``merged`` when it
joined another, ``amended`` when it ends again after late chips. The event that
creates a provisional individual goes to the ``unknown`` channel, all others to
``sighting``. Within a batch, chips are taken in capture order.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from bearagent.decisions import NEIGHBOURS, Decision, DecisionRule, Outcome, decide
from bearagent.encounters.config import EncounterConfig
from bearagent.encounters.events import EncounterEvent, EventType, Observed
from bearagent.encounters.pairing import MergeBars, pair_to_merge
from bearagent.encounters.track import ChipObservation, Track
from bearagent.matching.knn import Candidate
from bearagent.wire.channels import EncounterChannel

#: Ended encounters kept per camera for late chips, at most (the oldest go first).
MAX_ENDED_PER_CAMERA = 256


class IdentityStore(Protocol):
    """What the tracker needs from the gallery and its index."""

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[Candidate]]: ...
    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str: ...
    def add_references(
        self, individual_id: str, embeddings: np.ndarray, sources: list[str]
    ) -> None: ...


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
        self.bars = MergeBars(
            gap_s=cfg.gap_s,
            # Two tracks whose means are at least this alike are one individual ...
            similarity=same_individual if merge_similarity is None else merge_similarity,
            # ... or this alike, when the gallery's best candidate is the same for both.
            same_proposal=(
                cfg.proposal_merge_similarity
                if cfg.proposal_merge_similarity is not None
                else same_individual / 2
            ),
        )
        self.store = store
        self.clock = clock
        self._open: dict[str, list[Track]] = {}  # camera -> its open tracks
        self._ended: dict[str, deque[Track]] = {}  # camera -> ended tracks, for late chips
        self._reopened: list[str] = []
        self._merges: dict[str, str] = {}  # absorbed track -> the track that took it

    @property
    def open_count(self) -> int:
        """Open encounters."""
        return sum(len(v) for v in self._open.values())

    def forget(self) -> None:
        """Drop every track without events (their rows were rolled back)."""
        self._open.clear()
        self._ended.clear()

    def observe(self, chips: Sequence[ChipObservation]) -> Observed:
        """Add a batch of chips; returns what they cause (ids in the input's order)."""
        events: list[EncounterEvent] = []
        self._reopened, self._merges = [], {}
        joined: dict[int, Track] = {}
        touched: list[Track] = []
        for i in sorted(range(len(chips)), key=lambda i: chips[i].order):
            events += self._end_passed(chips[i])
            track = joined[i] = self._join(chips[i])
            if track not in touched:
                touched.append(track)
        live = [t for t in touched if self._is_open(t)]
        created = self._decide_many([t for t in live if t.dirty], may_create=None)
        for camera in dict.fromkeys(t.camera for t in touched):
            merged, keeps = self._merge_same(camera, [t for t in touched if t.camera == camera])
            events += merged
            live += [k for k in keeps if k not in live]
        live = [t for t in live if self._is_open(t)]
        events += [e for t in live if (e := self._announce(t, t.id in created))]
        ids = [self._survivor(joined[i].id) for i in range(len(chips))]
        return Observed(events, ids, list(dict.fromkeys(self._reopened)), dict(self._merges))

    def expire(self) -> list[EncounterEvent]:
        """End the tracks that received no chip for ``end_after`` seconds; let ended ones
        older than ``late_chips_s`` go."""
        now = self.clock()
        quiet = [t for ts in self._open.values() for t in ts
                 if now - t.last_arrival >= self.cfg.end_after]  # fmt: skip
        events = [event for t in quiet for event in self._end(t)]
        for camera in list(self._ended):
            self._let_go(camera, now)
        return events

    def end_all(self) -> list[EncounterEvent]:
        """End every open track (at shutdown)."""
        return [
            event for ts in list(self._open.values()) for t in list(ts) for event in self._end(t)
        ]

    # --- assignment ---------------------------------------------------------------------

    def _is_open(self, track: Track) -> bool:
        return track in self._open.get(track.camera, [])

    def _survivor(self, track_id: str) -> str:
        while track_id in self._merges:
            track_id = self._merges[track_id]
        return track_id

    def _end_passed(self, chip: ChipObservation) -> list[EncounterEvent]:
        """End the camera's tracks whose latest chip lies more than the gap before `chip`
        (should an earlier chip of theirs still come, it amends them)."""
        passed = [
            t for t in self._open.get(chip.camera, [])
            if (chip.captured_at - t.last_captured_at).total_seconds() > self.cfg.gap_s
        ]  # fmt: skip
        return [event for t in passed for event in self._end(t)]

    def _join(self, chip: ChipObservation) -> Track:
        """The track `chip` joins (open, or ended and opened again), or a new one."""
        near = [
            t for t in [*self._open.get(chip.camera, []), *self._ended.get(chip.camera, ())]
            if t.within_gap(chip.captured_at, self.cfg.gap_s)
        ]  # fmt: skip
        scored = [(t.similarity(chip), t) for t in near]
        best = max(scored, key=lambda s: s[0], default=None)
        if best is None or best[0] < self.same_individual:
            track = Track(
                id=str(uuid.uuid4()),
                camera=chip.camera,
                site=chip.site,
                started_at=chip.captured_at,
                last_captured_at=chip.captured_at,
                last_arrival=self.clock(),
                recent_size=self.cfg.recent_chips,
            )
            self._open.setdefault(chip.camera, []).append(track)
        else:
            track = best[1]
            if not self._is_open(track):
                self._reopen(track)
        track.add(chip, self.clock())
        return track

    def _reopen(self, track: Track) -> None:
        """An ended track takes late chips: open again until it ends with `amended`."""
        self._ended[track.camera].remove(track)
        self._open.setdefault(track.camera, []).append(track)
        track.ended_at = None
        track.last_arrival = self.clock()
        self._reopened.append(track.id)

    def _let_go(self, camera: str, now: float) -> None:
        """Forget ended tracks past the late-chip horizon (and beyond the per-camera cap)."""
        ended = self._ended[camera]
        while ended and (
            len(ended) > MAX_ENDED_PER_CAMERA
            or now - (ended[0].ended_at or now) > self.cfg.late_chips_s
        ):
            ended.popleft()
        if not ended:
            del self._ended[camera]

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
        chips = track.chips_in_order()[: self.cfg.max_provisional_references]
        stack = np.stack([c.embedding for c in chips])
        track.provisional_id = self.store.create_provisional(stack, [c.file for c in chips])
        track.provisional_references = len(stack)
        track.referenced = len(track.chips)
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
        start = track.referenced if track.referenced is not None else len(track.chips)
        room = self.cfg.max_provisional_references - track.provisional_references
        new = track.chips[start:][: max(room, 0)]
        if new:
            self.store.add_references(
                d.individual_id, np.stack([c.embedding for c in new]), [c.file for c in new]
            )
            track.provisional_references += len(new)
        track.referenced = len(track.chips)

    # --- events -------------------------------------------------------------------------

    def _announce(self, track: Track, created: bool) -> EncounterEvent | None:
        """The `new` or `update` event a fresh decision calls for, if any."""
        d = track.decision
        assert d is not None and track.best_chip is not None
        if d.outcome is Outcome.UNKNOWN and d.individual_id is None:
            return None  # looks unknown, but too few chips to say so yet
        channel: EncounterChannel = "unknown" if created else "sighting"
        if not track.announced:  # `new` points at the chip that began the encounter
            track.announced = True
            return self._event("new", channel, track, track.chips_in_order()[0])
        assert track.published is not None
        old, old_best = track.published
        latest = track.chips[-1]
        if created or (old.outcome, old.individual_id) != (d.outcome, d.individual_id):
            return self._event("update", channel, track, latest)
        if old_best is not track.best_chip:
            return self._event("update", "sighting", track, latest)
        return None

    def _merge_same(
        self, camera: str, touched: list[Track]
    ) -> tuple[list[EncounterEvent], list[Track]]:
        """Merge the camera's tracks that are one individual (`pairing.pair_to_merge`), each
        pair holding a track this batch touched (open, or ended since) or one that absorbed
        another.

        The older keeps every chip (an ended one is opened again); an absorbed track that
        was announced ends with a ``merged`` event, one that was not (it just began)
        leaves no trace. Returns the events and the tracks that absorbed others
        (re-decided, still to announce).
        """
        events: list[EncounterEvent] = []
        keeps: list[Track] = []
        while True:
            every = [*self._open.get(camera, []), *self._ended.get(camera, ())]
            present = {id(t) for t in every}
            changed = [t for t in dict.fromkeys([*touched, *keeps]) if id(t) in present]
            pair = pair_to_merge(every, changed, self.bars)
            if pair is None:
                return events, keeps
            keep, gone = pair
            if not self._is_open(keep):
                self._reopen(keep)
            self._drop(gone)
            if gone.announced:
                assert gone.best_chip is not None
                events.append(self._event("merged", "sighting", gone, gone.best_chip,
                                          merged_into=keep.id))  # fmt: skip
            self._merges[gone.id] = keep.id
            keep.absorb(gone)
            self._decide_many([keep], may_create=None)
            if keep not in keeps:
                keeps.append(keep)

    def _drop(self, track: Track) -> None:
        """Take a track out of the open or ended ones."""
        if self._is_open(track):
            self._open[track.camera].remove(track)
        else:
            self._ended[track.camera].remove(track)

    def _end(self, track: Track) -> list[EncounterEvent]:
        """The track's last events: a deferred `new` or an `update` if due, then its `end`
        (`amended` when it had ended before); it stays at hand for late chips."""
        self._open[track.camera].remove(track)
        if not self._open[track.camera]:
            del self._open[track.camera]
        pending = track.decision is None or (
            track.decision.outcome is Outcome.UNKNOWN and track.decision.individual_id is None
        )
        created = self._decide_many([track], may_create=True) if track.dirty or pending else set()
        events = [e for e in [self._announce(track, track.id in created)] if e is not None]
        assert track.best_chip is not None
        kind: EventType = "amended" if track.ended else "end"
        events.append(self._event(kind, "sighting", track, track.best_chip,
                                  chips=track.chips_in_order()))  # fmt: skip
        track.ended, track.ended_at = True, self.clock()
        self._ended.setdefault(track.camera, deque()).append(track)
        self._let_go(track.camera, track.ended_at)
        return events

    def _event(
        self,
        kind: EventType,
        channel: EncounterChannel,
        track: Track,
        chip: ChipObservation,
        *,
        chips: tuple[ChipObservation, ...] = (),
        merged_into: str | None = None,
    ) -> EncounterEvent:
        assert track.decision is not None and track.best_chip is not None
        track.published = (track.decision, track.best_chip)
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
            chips=chips,
            merged_into=merged_into,
        )
