"""The agent: one place that starts everything in order and stops it in reverse.

Start: model (card verified, warmed up) -> database (schemas, gallery made with this
model) -> MQTT publisher -> chip worker (recovers encounters left open by a crash)
-> folder watcher (backlog first). Stop (SIGTERM): watcher -> worker (finishes its
batch, ends open encounters) -> publisher (flushes, says ``offline``) -> model.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils

from bearagent import sdnotify
from bearagent.config import AgentConfig
from bearagent.detection.stage import FrameStage
from bearagent.detection.wiring import start_frame_stage
from bearagent.encounters import EncounterTracker
from bearagent.errors import BearIdError
from bearagent.fleet.decisions import DecisionHandler
from bearagent.fleet.feed import gallery_feed_handler
from bearagent.fleet.inbound import InboundHandler
from bearagent.fleet.media import MediaSpool
from bearagent.fleet.receipts import ReceiptHandler, ResendHandler
from bearagent.gallery.fleet_ids import adopt_fleet_ids
from bearagent.gallery.recalibrate import recalibrate
from bearagent.gallery.references import check_gallery_model
from bearagent.gallery.track_calibration import calibrate_tracks_on_gallery
from bearagent.ledger import Ledger
from bearagent.modelcard import ModelCard
from bearagent.mqtt import Publisher, make_publisher
from bearagent.pipeline.backlog import BacklogOrder
from bearagent.pipeline.intake import Arrival, Dating
from bearagent.pipeline.recording import ModelIdentity
from bearagent.pipeline.rules import RuleKeeper
from bearagent.pipeline.stats import AgentStats
from bearagent.pipeline.statusfile import status_path, write_status
from bearagent.pipeline.store import WorkerStore, migrate_all
from bearagent.pipeline.worker import ChipWorker, WorkerSettings
from bearagent.rollout import RolloutManager, SwitchDeferred, model_in_use
from bearagent.runtime import open_embedder
from bearagent.runtime.base import Embedder
from bearagent.store import open_database, store_errors
from bearagent.watch import ChipSource, FolderWatcher, PathRules
from bearagent.wire import payloads
from bearagent.wire.channels import StationChannel

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 5.0


class StartupError(BearIdError):
    """The agent cannot start with this configuration."""


def same_individual(
    card: ModelCard, cfg: AgentConfig, db: sqlite_utils.Database | None = None
) -> float:
    """The tracks' same-individual similarity: config, else the card's, else calibrated on
    the gallery (`db`), else (a format-1 card) its single threshold."""
    if cfg.encounter.same_individual is not None:
        return cfg.encounter.same_individual
    if card.tracks is not None:
        return card.tracks.same_individual
    tracks = calibrate_tracks_on_gallery(db, card.model.sha256 or "") if db is not None else None
    if tracks is not None:
        log.info(
            "the model card has no calibrated same-individual similarity: tracks use %.3f, "
            "calibrated on this gallery (%d same, %d different pairs; false-join %.3f)",
            tracks.threshold, tracks.same, tracks.different, tracks.false_join_rate,
        )  # fmt: skip
        return tracks.threshold
    if card.decision.unknown_threshold is None:
        raise StartupError(
            "the model card has no same-individual similarity for tracks (no calibrated "
            "thresholds) and the gallery has too few encounters to calibrate one: enrol "
            "individuals with two or more images per encounter (`bearagent gallery enroll`), "
            "or set encounter.same_individual"
        )
    log.info(
        "the model card has no calibrated same-individual similarity (format %d): tracks use "
        "its threshold %.3f; set encounter.same_individual to choose",
        card.format_version,
        card.decision.unknown_threshold,
    )
    return card.decision.unknown_threshold


def local_timezone(name: str | None) -> tzinfo:
    """The configured IANA timezone, or the box's own."""
    if name is None:
        own = datetime.now().astimezone().tzinfo
        return own if own is not None else ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise StartupError(
            f"agent.timezone = {name!r} is not an IANA timezone (e.g. Europe/Oslo)"
        ) from e


def _identity(card: ModelCard) -> ModelIdentity:
    return ModelIdentity(card.model.name, card.model.sha256 or "")


class Agent:
    """The running agent. `start()`, then `wait()` or `stop()`."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.stats = AgentStats()
        self.inbox: queue.Queue[Arrival] = queue.Queue()
        self._stop_worker = threading.Event()
        self._stop_requested = threading.Event()
        self._worker_ready = threading.Event()
        self._worker_error: BaseException | None = None
        self._worker_thread: threading.Thread | None = None
        self._worker: ChipWorker | None = None
        self._spool: MediaSpool | None = None
        self._decisions: DecisionHandler | None = None
        self._spool_thread: threading.Thread | None = None
        self._stop_spool = threading.Event()
        self._status_written = 0.0
        self._watchdog = sdnotify.WatchdogPinger()  # pings at half of WatchdogSec=
        self.embedder: Embedder | None = None
        self._rules: RuleKeeper | None = None
        self.publisher: Publisher | None = None
        self.watcher: FolderWatcher | None = None
        self.frames: FrameStage | None = None  # the detector stage, when detector.model is set
        self.rollout: RolloutManager | None = None  # models the station offers
        self._swap_lock = threading.Lock()  # held while the worker switches models

    @property
    def database(self) -> Path:
        """The agent's database file."""
        return self.cfg.agent.database_path

    def start(self) -> None:
        """Start every part in order; on failure, stop what was started and raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        for root in self.cfg.watch.roots:
            if not root.is_dir():
                raise StartupError(
                    f"watch root {root} does not exist or is not a folder: create it or fix "
                    "watch.roots / --watch"
                )
        if not self.cfg.watch.roots:
            raise StartupError("nothing to watch: give --watch DIR or set watch.roots")
        tz = local_timezone(self.cfg.agent.timezone)
        self.embedder = open_embedder(model_in_use(self.cfg.runtime, self.database))
        card = self.embedder.card
        model = ModelIdentity(card.model.name, card.model.sha256 or "")
        self._prepare_database(model, card)
        watch = self.cfg.watch
        if self.cfg.detector.enabled:  # the roots hold frames and clips; chips come from it
            self.frames, watch = start_frame_stage(self.cfg, self.stats, tz)
        self.rollout = RolloutManager(self.cfg, self, self._notify_publisher)
        self.publisher = self._make_publisher()
        self.publisher.start()
        self._start_spool()
        self._start_worker(model, card, tz)
        self.rollout.start()
        rules = PathRules(watch, self.cfg.agent.site)
        backlog = BacklogOrder(self._dating(tz), lambda: Ledger(open_database(self.database)))
        self.watcher = FolderWatcher(
            watch, rules, self.submit, order=backlog, in_order_sink=self.submit_in_order
        )
        self.watcher.start()
        sdnotify.ready()
        log.info(
            "watching %s with %s", ", ".join(map(str, self.cfg.watch.roots)), self.embedder.name
        )

    def _start_worker(self, model: ModelIdentity, card: ModelCard, tz: tzinfo) -> None:
        self._worker_ready.clear()
        self._worker_error = None
        self._worker_thread = threading.Thread(
            target=self._worker_main, args=(model, card, tz), name="chip-worker", daemon=True
        )
        self._worker_thread.start()
        self._worker_ready.wait()
        if self._worker_error is not None:
            raise self._worker_error

    def swap_embedder(self, embedder: Embedder, between: Callable[[], None]) -> None:
        """Switch the chip worker to `embedder` at a batch boundary (the model rollout).

        The worker stops as at shutdown (the chips in flight are recorded with the model
        that embedded them, open encounters end; arrivals not yet taken wait in the inbox),
        `between` runs (the rollout's gallery switch), and the worker starts again on
        `embedder` with the waiting chips. If `between` raises, the worker starts again on
        the old model and the error is raised.
        """
        with self._swap_lock:
            old, thread = self.embedder, self._worker_thread
            if old is None or thread is None or not thread.is_alive():
                raise SwitchDeferred("the chip worker is not running")
            self._stop_worker.set()
            thread.join()
            self._stop_worker = threading.Event()
            tz = local_timezone(self.cfg.agent.timezone)
            try:
                between()
            except BaseException:
                self._start_worker(_identity(old.card), old.card, tz)
                raise
            self.embedder = embedder
            self._start_worker(_identity(embedder.card), embedder.card, tz)
            old.close()

    def _dating(self, tz: tzinfo) -> Dating:
        capture = self.cfg.capture
        return Dating(capture.pattern(tz), tz, capture.sidecars)

    @property
    def _uploading(self) -> bool:
        """Whether chips go to a station (with MQTT; a box printing to stdout has none)."""
        return self.cfg.upload.chips and self.cfg.agent.publisher == "mqtt"

    def _start_spool(self) -> None:
        """The thread that sends the station chips and blank frames (with MQTT)."""
        if self.cfg.agent.publisher != "mqtt":
            return
        detector = self.cfg.detector.model.name if self.cfg.detector.model else None
        self._spool = MediaSpool(
            self.database, self.cfg.upload, self.cfg.agent.id, self._notify_publisher,
            self._stop_spool, detector=detector,
        )  # fmt: skip
        self._spool_thread = threading.Thread(
            target=self._spool.run, name="chip-spool", daemon=True
        )
        self._spool_thread.start()

    def _make_publisher(self) -> Publisher:
        return make_publisher(
            self.cfg.agent.publisher,
            self.cfg.mqtt,
            agent_id=self.cfg.agent.id,
            database=self.database,
            stats_source=self._stats_for_mqtt,
            inbound=self._inbound_handlers(),
            on_connect=[self._feed.announce],
        )

    def _inbound_handlers(self) -> dict[StationChannel, InboundHandler]:
        """What the station sends this box, by channel (applied on the publisher thread)."""
        self._decisions = DecisionHandler(self.cfg)
        self._feed = gallery_feed_handler(  # reports its position now, and at every connect
            self.database,
            self.cfg.agent.id,
            lambda: (self.embedder.card.model.sha256 or "") if self.embedder else "",
            self.cfg.review.max_references_per_individual,
        )
        handlers: dict[StationChannel, InboundHandler] = {
            "receipt": ReceiptHandler(),
            "resend": ResendHandler(),
            "decision": self._decisions,  # the station desk's decisions
            "gallery": self._feed,  # the fleet gallery's feed
        }
        if self.rollout is not None:  # offer, chunk
            handlers.update(self.rollout.handlers())
        return handlers

    def _prepare_database(self, model: ModelIdentity, card: ModelCard) -> None:
        """Create or upgrade every schema; refuse a gallery made with another model; give
        box-local ids (older galleries) this box's id; calibrate on the gallery when stale."""
        db = open_database(self.database)
        try:
            with store_errors(db):
                migrate_all(db)
                check_gallery_model(db, model.sha256, model.name)
                if adopted := adopt_fleet_ids(db, self.cfg.agent.id):
                    log.info("gave %d individuals this box's id (fleet-unique ids)", len(adopted))
                done = recalibrate(db, model.sha256, card.decision, self.cfg.decision, when="stale")
                if done.result is not None:
                    log.info("gallery calibration (%s): %s", done.score, done.note)
        finally:
            db.conn.close()

    def _worker_main(self, model: ModelIdentity, card: ModelCard, tz: tzinfo) -> None:
        try:
            store = WorkerStore(  # this thread's own
                self.database, model, self.cfg.agent.id, upload_chips=self._uploading
            )
            with store.batch():
                if recovered := store.recorder.recover_open():
                    log.warning("sent 'end' for %d encounters left open by a crash", recovered)
            rules = RuleKeeper(store.db, model.sha256, card.decision, self.cfg.decision)
            self._rules = rules
            tracker = EncounterTracker(
                self.cfg.encounter, rules, same_individual(card, self.cfg, store.db), store.identity
            )
            settings = WorkerSettings(
                watch=self.cfg.watch,
                batch_size=self.cfg.pipeline.batch_size,
                batch_wait_s=self.cfg.pipeline.batch_wait_ms / 1000.0,
                dating=self._dating(tz),
                top_k=self.cfg.encounter.top_k,
                reorder_window_s=self.cfg.pipeline.reorder_window_s,
            )
            assert self.embedder is not None
            worker = ChipWorker(
                settings,
                self.embedder,
                tracker,
                store,
                lambda: Ledger(open_database(self.database)),
                rules,
                self.stats,
                self.inbox,
                self._stop_worker,
                on_committed=self._committed,
                on_idle=self._idle,
                retry=self._retry,
            )
        except BaseException as e:
            self._worker_error = e
            self._worker_ready.set()
            return
        self._worker = worker
        self._worker_ready.set()
        try:
            worker.run()
        except BaseException:
            log.critical("the chip worker failed; the agent stops", exc_info=True)
            self.request_stop()
            raise

    def _idle(self) -> None:
        """Between batches (at least every 0.2 s): watchdog ping, status file."""
        self._watchdog.tick()
        now = time.monotonic()
        if now - self._status_written >= STATUS_INTERVAL_S:
            self._status_written = now
            write_status(status_path(self.database), self.live_status())

    def live_status(self) -> dict[str, object]:
        """Counters, queue depths and the publisher's state, as `bearagent status` shows them."""
        status: dict[str, object] = dict(self.stats.snapshot())
        status["queue_depth"] = self.inbox.qsize()
        status["reorder_held"] = len(self._worker.window) if self._worker is not None else 0
        if self._rules is not None:
            in_force = self._rules.in_force
            rule = in_force.rule
            status["decision_rule"] = {
                "score": rule.score,
                "known_threshold": rule.known,
                "unknown_threshold": rule.unknown,
                "source": rule.source,
                "why": in_force.why,
            }
        status["pending_files"] = self.watcher.pending_count() if self.watcher else 0
        if self.publisher is not None:  # sent, published, refused (waiting for a retry), ...
            status["publisher"] = dataclasses.asdict(self.publisher.counters())
        if self.rollout is not None:  # the model in use, an offer in progress
            status["model"] = self.rollout.status()
        return status

    def submit(self, source: ChipSource) -> None:
        """Hand a complete file to the worker (called by the watcher's threads)."""
        self.inbox.put(Arrival(source, time.monotonic()))

    def submit_in_order(self, source: ChipSource) -> None:
        """Hand on a file of a scan already in capture order (no reorder window for it)."""
        self.inbox.put(Arrival(source, time.monotonic(), in_order=True))

    def _retry(self, source: ChipSource) -> None:
        if self.watcher is not None:
            self.watcher.track(source.path, source.root)

    def _notify_publisher(self) -> None:
        if self.publisher is not None:
            self.publisher.notify()

    def _committed(self) -> None:
        """The worker committed a batch: events to publish, maybe chips to send."""
        self._notify_publisher()
        if self._spool is not None:
            self._spool.wake()

    def _stats_for_mqtt(self) -> payloads.Stats:
        snap = self.stats.snapshot()
        counts = snap["counts"]
        latency = snap["latency_ms"]
        assert isinstance(counts, dict) and isinstance(latency, dict)
        return payloads.Stats(
            processed=int(counts.get("processed", 0)),
            rejected=int(counts.get("rejected", 0)),
            mtime_dated=int(counts.get("mtime_dated", 0)),
            decisions={o: int(counts.get(f"ended_{o}", 0)) for o in ("known", "review", "unknown")},
            queue_depth=self.inbox.qsize() + (self.watcher.pending_count() if self.watcher else 0),
            latency_ms=payloads.Percentiles(
                latency.get("p50"), latency.get("p95"), latency.get("p99")
            ),
        )

    def request_stop(self) -> None:
        """Ask `wait()` to return (signal handlers call this)."""
        self._stop_requested.set()

    def handle_signals(self) -> None:
        """Let SIGTERM/SIGINT ask for a stop (main thread; call before `start`, so a signal
        during start-up stops the agent in order once it is up, not half-way)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.request_stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, handler)

    def wait(self) -> None:
        """Block until SIGTERM/SIGINT (or `request_stop`), then stop in order."""
        self.handle_signals()
        while not self._stop_requested.wait(1.0):
            if (self._worker_thread is not None and not self._worker_thread.is_alive()
                    and not self._swap_lock.locked()):  # fmt: skip
                raise StartupError("the chip worker stopped unexpectedly; see the log")
        self.stop()

    def stop(self, flush_s: float = 10.0) -> None:
        """Stop in reverse order; safe to call more than once and after a failed start."""
        sdnotify.stopping()
        if self.rollout is not None:  # a switch under way completes first
            self.rollout.stop()
            self.rollout = None
        if self.frames is not None:
            self.frames.stop()
            self.frames = None
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self._stop_worker.set()
        if self._worker_thread is not None:
            self._worker_thread.join(60.0)
            self._worker_thread = None
        self._stop_spool.set()
        if self._spool_thread is not None:
            self._spool_thread.join(30.0)
            self._spool_thread = None
        if self.publisher is not None:
            self.publisher.stop(flush_s)
            self.publisher = None
        if self._decisions is not None:  # its model session, once a decision came
            self._decisions.close()
            self._decisions = None
        if self.embedder is not None:
            self.embedder.close()
            self.embedder = None
