"""The chip worker: turns complete files into recorded sightings and queued events.

Three stages, each a thread, hand micro-batches on through bounded queues
(`bearagent.pipeline.stages`): intake (ledger check by path, then read, hash,
decode, date and preprocess on a small pool), embed (the model), and record,
here, on the thread that owns the database (`WorkerStore`): check the ledger
again (authoritatively), let embedded chips wait in the reorder window
(`bearagent.pipeline.reorder`) until they go on per camera in capture order, search
the gallery once for all chips released together, let the encounter tracker split
the chips into tracks and decide, then write
everything of the batch — ledger rows, sightings, encounter state, outbox
events — in ONE transaction and wake the publisher. A crash before the commit
leaves no trace, so the files are processed again after restart; after it, the
ledger makes them no-ops. While SQLite commits, the model works on the next batch.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bearagent.decisions import NEIGHBOURS, Decision, DecisionRule, decide
from bearagent.encounters import ChipObservation, EncounterEvent, EncounterTracker
from bearagent.ledger import Ledger
from bearagent.pipeline.intake import RETRYABLE, Arrival, Dating, Decoded, Rejected, Skipped
from bearagent.pipeline.reorder import CaptureOrderWindow, Held
from bearagent.pipeline.stages import (
    Batch,
    EmbedStage,
    Failure,
    Handoff,
    IntakeSettings,
    IntakeStage,
)
from bearagent.pipeline.stats import AgentStats
from bearagent.pipeline.store import WorkerStore
from bearagent.runtime.base import Embedder
from bearagent.store import DiskFull, StoreError
from bearagent.watch import ChipSource, WatchConfig

log = logging.getLogger(__name__)

#: How long the record stage waits for a batch before its periodic round (expire, idle).
IDLE_S = 0.2


@dataclass(frozen=True)
class WorkerSettings:
    """What the worker needs from the configuration."""

    watch: WatchConfig
    batch_size: int
    batch_wait_s: float
    dating: Dating
    top_k: int
    decode_threads: int = 2
    queue_batches: int = 2  # batches waiting between two stages at most
    retry_s: float = 5.0  # wait after a database error before the batch is tried again
    reorder_window_s: float = 0.0  # live chips wait this long to be put in capture order


class ChipWorker:
    """Consumes `Arrival`s from `inbox`; `run` on its own thread."""

    def __init__(
        self,
        settings: WorkerSettings,
        embedder: Embedder,
        tracker: EncounterTracker,
        store: WorkerStore,
        open_ledger: Callable[[], Ledger],
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
        self.store = store
        self.open_ledger = open_ledger
        self.rules = rules
        self.stats = stats
        self.inbox = inbox
        self.stop_event = stop_event
        self.on_committed = on_committed
        self.on_idle = on_idle
        self.retry = retry
        self._mtime_cameras: set[tuple[str, str]] = set()  # (site, camera) warned about
        self.window = CaptureOrderWindow(settings.reorder_window_s)
        self._in_flight: list[Arrival] = []  # released from the window, not yet committed

    def run(self) -> None:
        """Run the three stages until `stop_event` is set; then end open encounters."""
        s = self.settings
        decoded: queue.Queue[Handoff] = queue.Queue(s.queue_batches)
        embedded: queue.Queue[Handoff] = queue.Queue(s.queue_batches)
        intake = IntakeStage(
            IntakeSettings(s.watch, s.dating, s.batch_size, s.batch_wait_s, s.decode_threads),
            self.embedder.card.input,
            self.open_ledger,
            self.inbox,
            decoded,
            self.stop_event,
        )
        threads = [
            threading.Thread(target=intake.run, name="chip-intake", daemon=True),
            threading.Thread(
                target=EmbedStage(self.embedder, decoded, embedded).run,
                name="chip-embed",
                daemon=True,
            ),
        ]
        for t in threads:
            t.start()
        try:
            self._record_loop(embedded)
        finally:
            self.stop_event.set()
            _drain_until_stopped(threads, (decoded, embedded))
        self._record(self.window.drain(), [], [])
        self._commit_events(self.tracker.end_all())

    def _record_loop(self, embedded: queue.Queue[Handoff]) -> None:
        recover = False
        while True:
            due = self.window.next_due_in()
            try:
                item = embedded.get(timeout=IDLE_S if due is None else min(IDLE_S, due))
            except queue.Empty:
                item = Batch([], [])
            if item is None:
                return
            if isinstance(item, Failure):
                raise item.error
            try:
                if recover:
                    self._recover_open()
                    recover = False
                if item.arrivals:
                    self.process(item)
                else:
                    self._record(self.window.due(), [], [])
                self._commit_events(self.tracker.expire())
            except StoreError as e:
                # Disk full, database locked: nothing of the batch was committed, so put
                # it back and try again later instead of losing it. The tracker's open
                # encounters may name rows that were rolled back: start afresh, and once
                # the database works again end the encounters committed before the
                # failure, as after a crash (else their 'end' never comes).
                log.error("%s; retrying in %.0f s", e, self.settings.retry_s)
                if isinstance(e, DiskFull):
                    self.store.reclaim()
                self.tracker.forget()
                recover = True
                again = {id(a): a for a in [*item.arrivals, *self._in_flight]}
                self._in_flight = []
                for arrival in again.values():
                    self.inbox.put(arrival)
                self.stop_event.wait(self.settings.retry_s)
            self.on_idle()

    def process(self, batch: Batch) -> None:
        """Check one embedded batch, let its chips wait in the reorder window, and match,
        decide and record what the window releases (the record stage's work)."""
        with self.store.reading():
            # The authoritative ledger check: a file may have been recorded since intake.
            outcomes = [self._recheck(o) for o in batch.outcomes]
        decoded = [o for o in outcomes if isinstance(o, Decoded)]
        copies = self.window.add(decoded, self._rows_of(batch, decoded)) if decoded else []
        rejected = [o for o in outcomes if isinstance(o, Rejected)]
        retry_now = [r for r in rejected if r.fresh and r.reason in RETRYABLE]
        rejected = [r for r in rejected if r not in retry_now]
        duplicates = [o for o in outcomes if isinstance(o, Skipped) and o.why == "duplicate"]
        # A copy of a waiting chip under another name is a duplicate.
        duplicates += [Skipped(d.arrival, d.identity, "duplicate") for d in copies]
        self._record(self.window.due(), rejected, duplicates)
        for r in retry_now:
            self.retry(r.arrival.source)  # maybe still being written: look again later

    def _record(
        self, released: list[Held], rejected: list[Rejected], duplicates: list[Skipped]
    ) -> None:
        """Match, decide and record the chips the window released, in one transaction with
        the batch's rejections and duplicates."""
        if not (released or rejected or duplicates):
            return
        decoded = [h.decoded for h in released]
        embeddings = (
            np.stack([h.embedding for h in released]) if released else np.zeros((0, 1), np.float32)
        )
        self._in_flight = [d.arrival for d in decoded]
        with self.store.reading():
            observations, own = self._match(decoded, embeddings)
        with self.store.batch() as store:
            for r in rejected:
                store.ledger.record(r.identity, "rejected", f"{r.reason}: {r.message}")
            for d in duplicates:
                if d.identity is not None:
                    store.ledger.record(d.identity, "duplicate")
            observed = self.tracker.observe(observations)
            for item, chip, decision, encounter_id in zip(
                decoded, observations, own, observed.encounter_ids, strict=True
            ):
                store.ledger.record(item.identity, "processed")
                store.recorder.record_chip(chip, decision, item.identity, encounter_id, item.image)
            events = observed.events
            store.recorder.record_merges(observed.merges)
            store.recorder.record_reopened(observed.reopened)
            store.recorder.record_events(events)
        self._in_flight = []
        self._count(decoded, rejected, duplicates, events)
        if decoded or rejected:
            self.on_committed()

    def _recheck(self, outcome: Decoded | Rejected | Skipped) -> Decoded | Rejected | Skipped:
        """The outcome as the committed ledger sees it now.

        Intake looked before earlier batches were committed: the same file handed on
        twice (its event, then a rescan) may meanwhile be recorded, so it is "seen"
        (nothing to write), not a duplicate of itself.
        """
        ident, ledger = outcome.identity, self.store.ledger
        if ident is None or (isinstance(outcome, Skipped) and outcome.why != "duplicate"):
            return outcome
        if ledger.seen_path(ident.root, ident.path, ident.size, ident.mtime_ns):
            return Skipped(outcome.arrival, ident, "seen")
        if not isinstance(outcome, Skipped) and ident.sha256 and ledger.seen_content(ident.sha256):
            return Skipped(outcome.arrival, ident, "duplicate")
        return outcome

    @staticmethod
    def _rows_of(batch: Batch, keep: list[Decoded]) -> np.ndarray:
        """The embeddings of the decoded chips still to record, in their order."""
        if batch.embeddings is None or not keep:
            return np.zeros((0, 1), np.float32)
        index = {id(d): i for i, d in enumerate(batch.decoded)}
        return batch.embeddings[[index[id(d)] for d in keep]]

    def _match(
        self, decoded: list[Decoded], embeddings: np.ndarray
    ) -> tuple[list[ChipObservation], list[Decision]]:
        """Search the gallery once for every chip, and decide each chip on its own."""
        if not decoded:
            return [], []
        depth = max(self.settings.top_k, NEIGHBOURS)
        candidates = self.store.identity.search(embeddings, depth)
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
        with self.store.batch() as store:
            ended = store.recorder.recover_open()
        if ended:
            log.warning("sent 'end' for %d encounters interrupted by a database error", ended)
            self.on_committed()

    def _commit_events(self, events: list[EncounterEvent]) -> None:
        if not events:
            return
        with self.store.batch() as store:
            store.recorder.record_events(events)
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
        self.stats.count("duplicates", len(duplicates))
        self._count_ends(events)
        for r in rejected:
            self.stats.rejected(r.reason)
            log.warning("rejected %s", r.message)
        for d in decoded:
            self.stats.latency((now - d.arrival.at) * 1000.0)
            if d.captured.source == "mtime":
                self._mtime_dated(d)

    def _mtime_dated(self, d: Decoded) -> None:
        self.stats.count("mtime_dated", 1)
        where = (d.arrival.source.site, d.arrival.source.camera)
        if where not in self._mtime_cameras:
            self._mtime_cameras.add(where)
            log.warning(
                "chips of camera %s/%s carry no capture time (no sidecar, EXIF or time in the "
                "file name, e.g. %s): dated by file modification time, which is when they were "
                "copied; set capture.filename_pattern if their names carry the time",
                *where,
                d.arrival.source.relative,
            )


def _drain_until_stopped(
    threads: list[threading.Thread], queues: tuple[queue.Queue[Handoff], ...], wait_s: float = 30.0
) -> None:
    """Let the other stages finish: empty the queues they may be blocked on, join them."""
    deadline = time.monotonic() + wait_s
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        for q in queues:
            try:
                while True:
                    q.get_nowait()
            except queue.Empty:
                pass
        for t in threads:
            t.join(0.05)
