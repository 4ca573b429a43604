"""Calibrating the decision thresholds again after a person changed references.

Runs in this process after the action has committed, on a thread of its own (a large
gallery takes seconds) with its own connection; requests that arrive meanwhile
are folded into one more run. The running agent picks up the new thresholds
within 30 s (`bearagent.pipeline.rules.REFRESH_S`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import sqlite_utils

from bearagent.config import AgentConfig
from bearagent.errors import BearIdError
from bearagent.gallery.recalibrate import Recalibration, recalibrate_model
from bearagent.rollout.switch import model_in_use
from bearagent.store import open_database

log = logging.getLogger(__name__)


class Recalibrator:
    """Calibrates on the gallery when asked, one run at a time, off the request threads."""

    def __init__(self, database: Path, cfg: AgentConfig) -> None:
        self.database = database
        self.cfg = cfg
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.last: Recalibration | None = None
        self.runs = 0

    def request(self) -> None:
        """Calibrate soon (no-op when decision.calibrate_on_gallery is off)."""
        if not self.cfg.decision.calibrate_on_gallery:
            return
        with self._lock:
            self._idle.clear()
            self._wanted.set()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="review-calibration", daemon=True
                )
                self._thread.start()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no calibration is pending or running; False on timeout."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Stop the thread (a run in progress finishes)."""
        self._stop.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(60.0)

    def _run(self) -> None:
        db = open_database(self.database)
        try:
            while not self._stop.is_set():
                self._wanted.wait()
                if self._stop.is_set():
                    break
                self._wanted.clear()
                try:
                    self.last = self._calibrate(db)
                    self.runs += 1
                except BearIdError as e:
                    log.warning("review: gallery calibration failed: %s", e)
                with self._lock:
                    if not self._wanted.is_set():
                        self._idle.set()
        finally:
            db.conn.close()
            self._idle.set()

    def _calibrate(self, db: sqlite_utils.Database) -> Recalibration:
        in_use = model_in_use(self.cfg.runtime, self.cfg.agent.database_path)
        done = recalibrate_model(db, in_use.model, self.cfg.decision)
        log.info("review: gallery calibration (%s): %s", done.score, done.note)
        return done
