"""The rollout's thread on the box: offers in, reports and fetches out, one job at a time.

The handlers (`bearagent.rollout.handlers`) put offers and chunks on this thread's queue.
An offer newer (by the station's clock) than any the box has acted on replaces the job in
progress; an older one is a late repeat and gets the answer it had. An offer of the model
the box runs is answered ``running``. A job's refusal is reported with its reason, the
files it fetched are removed and the box keeps its model; after a switch the box keeps
the model it ran before (for a quick rollback) and removes older ones.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from bearagent.config import AgentConfig
from bearagent.fleet.inbound import InboundHandler
from bearagent.modelcard import sidecar_path
from bearagent.mqtt import outbox
from bearagent.rollout import offers, staging
from bearagent.rollout.errors import ModelRefused
from bearagent.rollout.files import Download, local_copy, model_path, prune_models
from bearagent.rollout.handlers import Chunk, ChunkHandler, OfferHandler
from bearagent.rollout.job import Context, ModelSwitcher, RolloutJob
from bearagent.rollout.offers import Offer
from bearagent.rollout.payloads import model_report
from bearagent.rollout.switch import model_in_use
from bearagent.rollout.tables import ensure_schema
from bearagent.rollout.transfers import Transfer
from bearagent.store import StoreError, open_database, transaction
from bearagent.wire.channels import Channel, StationChannel, check_channel

log = logging.getLogger(__name__)

#: How long the thread waits for a message when it has nothing else to do.
IDLE_S = 0.2


@dataclass(frozen=True)
class Running:
    """The model the box runs."""

    path: Path
    sha256: str
    name: str


class RolloutManager:
    """Fetches, checks and switches to the models the station offers (`start`, `stop`)."""

    def __init__(
        self,
        cfg: AgentConfig,
        switcher: ModelSwitcher,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg, self.switcher, self.notify, self.clock = cfg, switcher, notify, clock
        self._queue: queue.Queue[Offer | Chunk | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {}
        self._job: RolloutJob | None = None
        self._running: Running | None = None
        self._previous: Path | None = None
        self._worked = False  # the last step did some work: look again without waiting

    @property
    def state_dir(self) -> Path:
        """Where models and fetched chips live: the database's folder."""
        return self.cfg.agent.database_path.parent

    def handlers(self) -> dict[StationChannel, InboundHandler]:
        """The publisher's handlers of ``offer`` and ``chunk``."""
        return {"offer": OfferHandler(self), "chunk": ChunkHandler(self)}

    def submit(self, item: Offer | Chunk) -> None:
        """Hand an offer or a chunk to the rollout's thread (any thread)."""
        self._queue.put(item)

    def start(self) -> None:
        """Report the model the box runs, resume an unfinished offer, take new ones."""
        embedder = self.switcher.embedder
        if embedder is None:
            raise RuntimeError("RolloutManager.start() before the agent's model is open")
        path = model_in_use(self.cfg.runtime, self.cfg.agent.database_path).model
        card = embedder.card
        self._running = Running(path, card.model.sha256 or "", card.model.name)
        self._thread = threading.Thread(target=self._run, name="model-rollout", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the step in hand (a switch under way completes first)."""
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def status(self) -> dict[str, Any]:
        """The model the box runs and the offer in progress, for ``bearagent status``."""
        with self._lock:
            return dict(self._status)

    # -- the rollout thread ------------------------------------------------------------

    def _run(self) -> None:
        db = open_database(self.cfg.agent.database_path)
        try:
            ensure_schema(db)
            self._begin(db)
            while not self._stop.is_set():
                self._round(db)
        except Exception:
            log.exception("the model rollout stopped on an unexpected error; the model in use "
                          "goes on")  # fmt: skip
        finally:
            if self._job is not None:
                self._job.close()
            db.conn.close()

    def _begin(self, db: sqlite_utils.Database) -> None:
        running = self._running
        assert running is not None
        self._send(db, "model", model_report(self.cfg.agent.id, sha256=running.sha256,
                                             name=running.name, state="running"))  # fmt: skip
        left = offers.unfinished(db)
        if left is not None and left.offer.sha256 == running.sha256:
            with transaction(db):
                offers.set_state(db, running.sha256, "switched")
        elif left is not None:
            log.info("resuming the rollout of %s (%s)", left.offer.name, left.offer.sha256[:12])
            self._job = self._new_job(left.offer)
        self._publish_status()

    def _round(self, db: sqlite_utils.Database) -> None:
        try:
            item = self._queue.get(timeout=0.0 if self._worked else IDLE_S)
        except queue.Empty:
            item = None
        while item is not None:
            self._take(db, item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                item = None
        self._worked = False
        if self._job is not None and not self._stop.is_set():
            self._worked = self._advance(db, self._job)
        self._publish_status()

    def _take(self, db: sqlite_utils.Database, item: Offer | Chunk) -> None:
        if isinstance(item, Offer):
            self._on_offer(db, item)
        elif self._job is not None:
            self._job.receive(item, self.clock())

    def _advance(self, db: sqlite_utils.Database, job: RolloutJob) -> bool:
        """One step of `job`; True when it did some work."""
        try:
            worked = job.step(self._context(db))
        except ModelRefused as e:
            self._refuse(db, job, str(e))
            return True
        except StoreError as e:  # the database is busy or the disk full: try again later
            log.error("model rollout: %s; trying again", e)
            self._stop.wait(5.0)
            return False
        except OSError as e:  # the state folder cannot take the files
            self._refuse(db, job, f"cannot write the model's files in {self.state_dir} "
                         f"({e.strerror}): free space there or fix its permissions, then "
                         "publish the model again")  # fmt: skip
            return True
        if job.phase == "done":
            self._switched(job)
        return worked

    def _on_offer(self, db: sqlite_utils.Database, offer: Offer) -> None:
        job, running = self._job, self._running
        assert running is not None
        if job is not None and job.offer.sha256 == offer.sha256:
            job.report(self._context(db), "verifying" if job.phase != "fetching" else "fetching")
            return
        newest = offers.newest_offered_at(db)
        if newest is not None and offer.offered_at <= newest:
            self._answer_again(db, offer)
            return
        if job is not None:
            log.info("offer of %s replaces the rollout of %s", offer.name, job.offer.name)
            job.close()
            self._job = None
        with transaction(db):
            offers.record(db, offer, "switched" if offer.sha256 == running.sha256 else "fetching")
            offers.supersede_others(db, offer.sha256)
            staging.discard(db, keep=offer.sha256)
        if offer.sha256 == running.sha256:
            self._answer_again(db, offer)
            return
        log.info("offered model %s (%s, %d bytes)", offer.name, offer.sha256[:12], offer.size)
        self._job = self._new_job(offer)
        self._job.report(self._context(db), "fetching")

    def _answer_again(self, db: sqlite_utils.Database, offer: Offer) -> None:
        """A repeat of an offer the box is done with: say again how it went."""
        running = self._running
        assert running is not None
        if offer.sha256 == running.sha256:
            self._send(db, "model", model_report(self.cfg.agent.id, sha256=running.sha256,
                                                 name=running.name, state="running"))  # fmt: skip
            return
        known = offers.recorded(db, offer.sha256)
        if known is not None and known.state == "refused":
            self._send(db, "model", model_report(
                self.cfg.agent.id, sha256=offer.sha256, name=offer.name, state="refused",
                reason=known.reason, size=offer.size,
            ))  # fmt: skip

    def _new_job(self, offer: Offer) -> RolloutJob:
        now = self.clock()
        local = local_copy(self.state_dir, self.cfg.runtime.model, offer.sha256)
        if local is not None:
            return RolloutJob(offer, local, None, "verifying", now, phase_at=now)
        path = model_path(self.state_dir, offer.sha256)
        transfer = Transfer(Download(path, offer.sha256), size=offer.size)
        return RolloutJob(offer, path, transfer, "fetching", now, phase_at=now)

    def _refuse(self, db: sqlite_utils.Database, job: RolloutJob, reason: str) -> None:
        log.warning("refused model %s (%s): %s", job.offer.name, job.offer.sha256[:12], reason)
        job.close()
        self._job = None
        if job.model is not None:
            job.model.download.discard()
        running = self._running
        if job.fetched and (running is None or job.path != running.path):
            job.path.unlink(missing_ok=True)
            sidecar_path(job.path).unlink(missing_ok=True)
        with transaction(db):
            offers.set_state(db, job.offer.sha256, "refused", reason)
            staging.discard(db)
        job.report(self._context(db), "refused", reason)
        with self._lock:
            self._status["last_refused"] = {"sha256": job.offer.sha256, "name": job.offer.name,
                                            "reason": reason}  # fmt: skip

    def _switched(self, job: RolloutJob) -> None:
        before = self._running
        self._running = Running(job.path, job.offer.sha256, job.offer.name)
        self._previous = before.path if before is not None else None
        self._job = None
        total = self.clock() - job.started
        log.info(
            "switched to model %s (%s) in %.1f s: %s; %d references re-embedded",
            job.offer.name, job.offer.sha256[:12], total,
            ", ".join(f"{k} {v:.1f} s" for k, v in job.times.items()), job.staged,
        )  # fmt: skip
        with self._lock:
            self._status["last_rollout"] = {"sha256": job.offer.sha256, "name": job.offer.name,
                                            "seconds": round(total, 3), "references": job.staged,
                                            "phases": {k: round(v, 3) for k, v in
                                                       job.times.items()},
                                            "switch": job.switch_parts}  # fmt: skip
        keep = [p for p in (self._previous, job.path) if p is not None]
        prune_models(self.state_dir, keep)

    def _context(self, db: sqlite_utils.Database) -> Context:
        send = functools.partial(self._send, db)
        return Context(self.cfg, db, send, self.switcher, self.clock, self.clock())

    def _send(self, db: sqlite_utils.Database, channel: str, text: str) -> None:
        checked: Channel = check_channel(channel)
        with transaction(db):
            outbox.enqueue(db, checked, text)
        self.notify()

    def _publish_status(self) -> None:
        running, job = self._running, self._job
        status: dict[str, Any] = {
            "model": None if running is None else {**asdict(running), "path": str(running.path)},
            "offer": None if job is None else {
                "sha256": job.offer.sha256, "name": job.offer.name, "phase": job.phase,
                "received": job.received(), "size": job.offer.size, "staged": job.staged,
                "waiting_for_chips": len(job.waiting),
            },
        }  # fmt: skip
        with self._lock:
            self._status.update(status)
