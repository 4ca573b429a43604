"""The chip worker: the one thread that turns complete files into recorded sightings
and queued events.

Per batch: take files in (ledger checks, read, decode, date), embed them
together, search the gallery once for all of them, let the encounter tracker
split them into tracks and decide, then write everything of the batch — ledger
rows, sightings, encounter state, outbox events — in ONE transaction and wake
the publisher. A crash before the commit leaves no trace, so the files are
processed again after restart; after it, the ledger makes them no-ops.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bearagent.chips import preprocess_batch
from bearagent.decisions import NEIGHBOURS, Decision, DecisionRule, decide
from bearagent.encounters import ChipObservation, EncounterEvent, EncounterTracker
from bearagent.ledger import Ledger
from bearagent.pipeline.batcher import collect_batch
from bearagent.pipeline.intake import (
    RETRYABLE,
    Arrival,
    Dating,
    Decoded,
    Outcome,
    Rejected,
    Skipped,
    take_in,
)
from bearagent.pipeline.recording import Recorder
from bearagent.pipeline.stats import AgentStats
from bearagent.runtime.base import Embedder
from bearagent.store import StoreError, transaction
from bearagent.watch import ChipSource, WatchConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    """What the worker needs from the configuration."""

    watch: WatchConfig
    batch_size: int
    batch_wait_s: float
    dating: Dating
    top_k: int


class ChipWorker:
    """Consumes `Arrival`s from `inbox`; runs on its own thread (`run`)."""

    def __init__(
        self,
        settings: WorkerSettings,
        embedder: Embedder,
        tracker: EncounterTracker,
        recorder: Recorder,
        ledger: Ledger,
        rules: Callable[[], DecisionRule],
        stats: AgentStats,
        inbox: queue.Queue[Arrival],
        stop_event: threading.Event,
        *,
        on_committed: Callable[[], None] = lambda: None,
        on_idle: Callable[[], None] = lambda: None,
        retry: Callable[[ChipSource], None] = lambda _s: None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.tracker = tracker
        self.recorder = recorder
        self.ledger = ledger
        self.rules = rules
        self.stats = stats
        self._mtime_cameras: set[tuple[str, str]] = set()  # (site, camera) warned about
        self.on_committed = on_committed
        self.on_idle = on_idle
        self.retry = retry
        self.inbox = inbox
        self.stop_event = stop_event

    def run(self) -> None:
        """Process batches until `stop_event` is set; then end open encounters."""
        recover = False
        while not self.stop_event.is_set():
            batch = collect_batch(
                self.inbox,
                self.settings.batch_size,
                self.settings.batch_wait_s,
                self.stop_event,
                idle_s=0.2,
            )
            try:
                if recover:
                    self._recover_open()
                    recover = False
                if batch:
                    self.process(batch)
                self._commit_events(self.tracker.expire())
            except StoreError as e:
                # Disk full, database locked: nothing of the batch was committed, so
                # put it back and try again later instead of losing it. The tracker's
                # open encounters may name rows that were rolled back: start afresh,
                # and once the database works again end the encounters committed
                # before the failure, as after a crash (else their 'end' never comes).
                log.error("%s; retrying in 5 s", e)
                self.tracker.forget()
                recover = True
                for arrival in batch:
                    self.inbox.put(arrival)
                self.stop_event.wait(5.0)
            self.on_idle()
        self._commit_events(self.tracker.end_all())

    def process(self, batch: list[Arrival]) -> None:
        """Take in, embed, match, decide and record one batch."""
        settings = self.settings
        outcomes = _unique(
            [take_in(a, self.ledger, settings.watch, settings.dating) for a in _by_path(batch)]
        )
        # Tracks want each camera's chips in capture order.
        decoded = sorted(
            (o for o in outcomes if isinstance(o, Decoded)), key=lambda d: d.captured.when
        )
        rejected = [o for o in outcomes if isinstance(o, Rejected)]
        retry_now = [r for r in rejected if r.fresh and r.reason in RETRYABLE]
        rejected = [r for r in rejected if r not in retry_now]
        duplicates = [o for o in outcomes if isinstance(o, Skipped) and o.why == "duplicate"]
        observations, own = self._embed_and_match(decoded)
        events: list[EncounterEvent] = []
        with transaction(self.ledger.db):
            for r in rejected:
                self.ledger.record(r.identity, "rejected", f"{r.reason}: {r.message}")
            for d in duplicates:
                if d.identity is not None:
                    self.ledger.record(d.identity, "duplicate")
            observed = self.tracker.observe(observations)
            for item, chip, decision, encounter_id in zip(
                decoded, observations, own, observed.encounter_ids, strict=True
            ):
                self.ledger.record(item.identity, "processed")
                self.recorder.record_chip(chip, decision, item.identity, encounter_id, item.image)
            events = observed.events
            self.recorder.record_events(events)
        for r in retry_now:
            self.retry(r.arrival.source)  # maybe still being written: look again later
        self._count(decoded, rejected, duplicates, events)
        if decoded or rejected:
            self.on_committed()

    def _embed_and_match(
        self, decoded: list[Decoded]
    ) -> tuple[list[ChipObservation], list[Decision]]:
        """Embed the batch, search each chip once, and decide each chip on its own."""
        if not decoded:
            return [], []
        spec = self.embedder.card.input
        embeddings = self.embedder.embed(preprocess_batch([d.image for d in decoded], spec))
        depth = max(self.settings.top_k, NEIGHBOURS)
        candidates = self.recorder.identity.search(embeddings, depth)
        rule = self.rules()
        chips = [
            ChipObservation(
                file=d.arrival.source.relative,
                camera=d.arrival.source.camera,
                site=d.arrival.source.site,
                captured_at=d.captured.when,
                time_source=d.captured.source,
                embedding=e,
                candidates=tuple(c[: self.settings.top_k]),
                detection=d.captured.detection,
            )
            for d, e, c in zip(decoded, embeddings, candidates, strict=True)
        ]
        return chips, [decide(c, rule) for c in candidates]

    def _recover_open(self) -> None:
        """Send ``end`` for the encounters still open in the database (the tracker forgot them)."""
        with transaction(self.ledger.db):
            ended = self.recorder.recover_open()
        if ended:
            log.warning("sent 'end' for %d encounters interrupted by a database error", ended)
            self.on_committed()

    def _commit_events(self, events: list[EncounterEvent]) -> None:
        if not events:
            return
        with transaction(self.ledger.db):
            self.recorder.record_events(events)
        self._count_ends(events)
        self.on_committed()

    def _count_ends(self, events: list[EncounterEvent]) -> None:
        for e in events:
            if e.type == "end":
                self.stats.count(f"ended_{e.decision.outcome.value}", 1)

    def _count(
        self,
        decoded: list[Decoded],
        rejected: list[Rejected],
        duplicates: list[Skipped],
        events: list[EncounterEvent],
    ) -> None:
        now = time.monotonic()
        self.stats.count("processed", len(decoded))
        self._count_ends(events)
        for d in decoded:
            if d.captured.source != "mtime":
                continue
            self.stats.count("mtime_dated", 1)
            where = (d.arrival.source.site, d.arrival.source.camera)
            if where not in self._mtime_cameras:
                self._mtime_cameras.add(where)
                log.warning(
                    "chips of camera %s/%s carry no capture time (no sidecar, EXIF or time in the "
                    "file name, e.g. %s): dated by file modification time, which is when they "
                    "were copied; set capture.filename_pattern if their names carry the time",
                    *where,
                    d.arrival.source.relative,
                )
        self.stats.count("duplicates", len(duplicates))
        for r in rejected:
            self.stats.rejected(r.reason)
            log.warning("rejected %s", r.message)
        for d in decoded:
            self.stats.latency((now - d.arrival.at) * 1000.0)


def _by_path(batch: list[Arrival]) -> list[Arrival]:
    """The batch without repeats of a file (the watcher may report one file twice)."""
    seen: set[tuple[str, str]] = set()
    out: list[Arrival] = []
    for arrival in batch:
        key = (str(arrival.source.root), arrival.source.relative)
        if key not in seen:
            seen.add(key)
            out.append(arrival)
    return out


def _unique(outcomes: list[Outcome]) -> list[Outcome]:
    """A second file with the same content as an earlier one in the batch is a duplicate."""
    seen: set[str] = set()
    out: list[Outcome] = []
    for o in outcomes:
        sha = o.identity.sha256 if o.identity is not None else None
        if isinstance(o, Decoded) and sha in seen:
            out.append(Skipped(o.arrival, o.identity, "duplicate"))
            continue
        if sha is not None:
            seen.add(sha)
        out.append(o)
    return out
