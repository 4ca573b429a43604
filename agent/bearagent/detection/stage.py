"""The detector stage: its own watcher on the frame roots, one thread, the frames table.

Files reach the stage from a `FolderWatcher` on the watch roots (frames and clips
only). Its thread checks the ``frames`` table by path (seen: nothing to do), has
`FrameProcessor` read, hash, search and cut the file, then records the outcome in
one short transaction on its own connection. Chips are written before the row,
with deterministic names and bytes, so a crash between the two only makes the
frame run again and rewrite nothing. A damaged frame or clip is recorded as
rejected with its reason (or, while it may still be being written, looked at
again later); a database error puts the file back and waits.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from bearagent.chips import ChipRejected
from bearagent.detection.frames_table import FrameRecord, FramesTable
from bearagent.detection.processing import FrameProcessor, Handled, Interrupted
from bearagent.pipeline.intake import RETRYABLE
from bearagent.pipeline.stats import AgentStats
from bearagent.store import DiskFull, StoreError, open_database, store_errors, transaction
from bearagent.watch import ChipSource, FolderWatcher, PathRules, WatchConfig

log = logging.getLogger(__name__)

#: How long the stage waits for a file before checking whether it should stop.
IDLE_S = 0.2


@dataclass(frozen=True)
class StageSettings:
    """Where the stage reads from and records to."""

    watch: WatchConfig  # the frame roots, with the frame and clip extensions
    clip_extensions: frozenset[str]
    site: str  # agent.site: for paths that name none
    database: Path
    retry_s: float = 5.0


class FrameStage:
    """Watches the frame roots and turns frames and clips into chips; `start`, `stop`."""

    def __init__(
        self, settings: StageSettings, processor: FrameProcessor, stats: AgentStats
    ) -> None:
        self.settings = settings
        self.processor = processor
        self.stats = stats
        self.inbox: queue.Queue[ChipSource] = queue.Queue()
        self._stop = threading.Event()
        processor.stopping = self._stop.is_set  # a long clip stops half-way at a stop
        self._thread: threading.Thread | None = None
        self.watcher: FolderWatcher | None = None

    def start(self) -> None:
        """Start the thread, then the watcher (which scans the backlog first)."""
        self._thread = threading.Thread(target=self._run, name="frame-detector", daemon=True)
        self._thread.start()
        watch = self.settings.watch
        self.watcher = FolderWatcher(watch, PathRules(watch, self.settings.site), self.submit)
        self.watcher.start()

    def submit(self, source: ChipSource) -> None:
        """Hand a complete frame or clip to the stage (the watcher's threads call this)."""
        self.inbox.put(source)

    def pending(self) -> int:
        """Files waiting for the stage."""
        return self.inbox.qsize()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the watcher, let the file in hand finish, release the models."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.processor.finder.close()

    def _run(self) -> None:
        db = open_database(self.settings.database)
        table = FramesTable(db)
        try:
            while not self._stop.is_set():
                try:
                    source = self.inbox.get(timeout=IDLE_S)
                except queue.Empty:
                    continue
                try:
                    with store_errors(db):  # a lock on a read: retried, never a rejection
                        self._handle(source, table)
                except StoreError as e:
                    log.error(
                        "%s; retrying %s in %.0f s", e, source.relative, self.settings.retry_s
                    )
                    if isinstance(e, DiskFull):
                        with suppress(sqlite3.Error):  # fold the log back: it may hold the space
                            db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                    self.inbox.put(source)
                    self._stop.wait(self.settings.retry_s)
                except Exception as e:  # a bug must not stop the box: record it and go on
                    log.exception("detector stage: %s failed", source.relative)
                    self._failed(source, e, table)
        finally:
            db.conn.close()

    def _handle(self, source: ChipSource, table: FramesTable) -> None:
        try:
            st = source.path.stat()
        except OSError:
            return  # gone again
        identity = (str(source.root), source.relative, st.st_size, st.st_mtime_ns)
        if table.seen_path(*identity):
            return
        is_clip = source.path.suffix.lower() in self.settings.clip_extensions
        work = self.processor.clip if is_clip else self.processor.frame
        try:
            handled = work(source, st.st_mtime_ns, table.seen_content)
        except ChipRejected as e:
            self._rejected(source, e, identity, "clip" if is_clip else "frame", table, st.st_mtime)
            return
        except Interrupted:
            log.info("stopping: %s is taken up again at the next start", source.relative)
            return
        with transaction(table.db):
            table.record(_record(source, identity, handled, self.processor.finder.name))
        self._count(source, handled)

    def _failed(self, source: ChipSource, error: Exception, table: FramesTable) -> None:
        """An unexpected error on one file: record it as rejected so a rescan skips it."""
        with suppress(OSError, StoreError):
            st = source.path.stat()
            rejected = ChipRejected("error", f"{source.relative}: {type(error).__name__}: {error}")
            identity = (str(source.root), source.relative, st.st_size, st.st_mtime_ns)
            kind = (
                "clip" if source.path.suffix.lower() in self.settings.clip_extensions else "frame"
            )
            self._rejected(source, rejected, identity, kind, table, 0.0)

    def _rejected(
        self,
        source: ChipSource,
        e: ChipRejected,
        identity: tuple[str, str, int, int],
        kind: str,
        table: FramesTable,
        mtime: float,
    ) -> None:
        if e.reason == "vanished":
            return
        fresh = time.time() - mtime < max(self.settings.watch.stable_after_s, 1.0) * 5
        if fresh and e.reason in RETRYABLE and self.watcher is not None:
            self.watcher.track(source.path, source.root)  # maybe still being written
            return
        log.warning("rejected %s %s: %s", kind, source.relative, e)
        record = FrameRecord(
            *identity, None, "clip" if kind == "clip" else "frame", source.site, source.camera,
            "rejected", reason=f"{e.reason}: {e}",
        )  # fmt: skip
        with transaction(table.db):
            table.record(record)
        self.stats.rejected(f"{kind}_{e.reason}")

    def _count(self, source: ChipSource, handled: Handled) -> None:
        stats = self.stats
        stats.count("clips" if handled.kind == "clip" else "frames")
        if handled.status == "duplicate":
            stats.count("frames_duplicate")
            return
        if handled.status == "blank":
            stats.blank(source.site, source.camera)
        else:
            stats.count("frames_detected")
        stats.count("chips_cut", len(handled.chips))
        for why, n in handled.refused.items():
            stats.count(f"detections_{why}", n)
        if handled.time_source == "mtime":
            stats.count("frames_mtime_dated")


def _record(
    source: ChipSource, identity: tuple[str, str, int, int], handled: Handled, detector: str
) -> FrameRecord:
    return FrameRecord(
        *identity,
        sha256=handled.sha256,
        kind=handled.kind,
        site=source.site,
        camera=source.camera,
        status=handled.status,
        captured_at=handled.captured_at,
        time_source=handled.time_source,
        detections=handled.detections,
        chips=len(handled.chips),
        reason=handled.reason,
        detector=detector,
    )
