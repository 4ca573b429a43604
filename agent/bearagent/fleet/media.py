"""The chips of ended encounters (and blank frames), to the station through the outbox.

The worker queues every recorded chip (its file, SHA-256 and embedding) in
``media_queue`` in the transaction that records its sighting. The spool thread sends the
chips of encounters that have ended: it reads the file (checked against its SHA-256),
builds a ``chip`` message and puts it in the outbox, within a disk budget
(``upload.spool_mb``) for chips in the outbox (waiting, or sent and kept for the
station's receipt). Over the budget it waits: the files are still on disk, nothing is
lost. A file gone or changed since it was recorded is counted and reported, not sent.
The same round sends the frames the detector found empty as ``blank`` messages.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlite_utils

from bearagent.detection.frames_table import mark_blanks_published, unpublished_blanks
from bearagent.fleet.config import UploadConfig
from bearagent.mqtt import outbox
from bearagent.store import Migration, StoreError, migrate, open_database, transaction
from bearagent.wire.images import image_type
from bearagent.wire.media_payloads import BlankRef, ChipMedia, blank_payload, chip_payload
from bearagent.wire.payloads import ModelRef

COMPONENT = "media"
log = logging.getLogger(__name__)
#: Chips read and queued per round (the rest wait for the next one).
PER_ROUND = 32


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE media_queue ("
        " sighting_id INTEGER PRIMARY KEY,"
        " root TEXT NOT NULL,"
        " file TEXT NOT NULL,"
        " sha256 TEXT,"
        " model_sha256 TEXT NOT NULL,"
        " model_name TEXT NOT NULL,"
        " embedding BLOB NOT NULL,"
        " queued_at TEXT NOT NULL)"
    )
    db.execute("CREATE TABLE media_counts (what TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")


#: Migrations of the media queue, oldest first; append, never edit.
STEPS: list[Migration] = [_v1]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the media queue."""
    migrate(db, COMPONENT, STEPS)


def queue_chip(
    db: sqlite_utils.Database,
    sighting_id: int,
    root: str,
    file: str,
    sha256: str | None,
    model: ModelRef,
    embedding: np.ndarray,
) -> None:
    """Queue a recorded chip for the station (inside the worker's transaction)."""
    db.execute(
        "INSERT OR IGNORE INTO media_queue (sighting_id, root, file, sha256, model_sha256,"
        " model_name, embedding, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, datetime('now'))",
        [sighting_id, root, file, sha256, model.sha256, model.name,
         np.ascontiguousarray(embedding, dtype="<f4").tobytes()],
    )  # fmt: skip


@dataclass(frozen=True)
class SpoolState:
    """What `bearagent status` shows of the chips on their way to the station."""

    queued: int  # recorded chips whose encounter has not ended, or waiting for room
    in_outbox: int  # chip messages waiting or kept for the station's receipt
    outbox_bytes: int
    budget_bytes: int
    sent: int
    missing: int  # files gone or changed before they could be sent
    skipped: int  # over the per-encounter cap, too large, or not an image type

    @property
    def full(self) -> bool:
        """Whether chips wait for room (the station has not confirmed enough yet)."""
        return self.outbox_bytes >= self.budget_bytes


def spool_state(db: sqlite_utils.Database, cfg: UploadConfig) -> SpoolState:
    """The queue, the chips in the outbox, and the counts."""
    queued = int(db.execute("SELECT count(*) FROM media_queue").fetchone()[0])
    n, size = db.execute(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM outbox WHERE channel = 'chip'"
    ).fetchone()
    counts = dict(db.execute("SELECT what, n FROM media_counts").fetchall())
    return SpoolState(queued, int(n), int(size), int(cfg.spool_mb * 2**20),
                      int(counts.get("sent", 0)), int(counts.get("missing", 0)),
                      int(counts.get("skipped", 0)))  # fmt: skip


@dataclass(frozen=True)
class _Queued:
    sighting_id: int
    root: str
    file: str
    sha256: str | None
    model: ModelRef
    embedding: np.ndarray
    site: str
    camera: str
    captured_at: str
    encounter_id: str
    individual_id: str | None
    reference_of: str | None
    rank: int  # place among its encounter's chips by capture time
    count: int  # chips of its encounter


_READY = (
    "SELECT q.sighting_id, q.root, q.file, q.sha256, q.model_sha256, q.model_name, q.embedding,"
    " s.site, s.camera, s.captured_at, s.encounter_id, e.individual_id,"
    " (SELECT r.individual_id FROM reference_embeddings r WHERE r.source = q.file LIMIT 1),"
    " (SELECT count(*) FROM sightings s2 WHERE s2.encounter_id = s.encounter_id"
    "   AND s2.captured_at < s.captured_at),"
    " (SELECT count(*) FROM sightings s3 WHERE s3.encounter_id = s.encounter_id)"
    " FROM media_queue q JOIN sightings s ON s.id = q.sighting_id"
    " JOIN encounters e ON e.id = s.encounter_id"
    " WHERE e.ended = 1 ORDER BY q.sighting_id LIMIT ?"
)


class MediaSpool:
    """Moves the chips of ended encounters into the outbox; `run` on its own thread."""

    def __init__(
        self,
        database: Path,
        cfg: UploadConfig,
        agent_id: str,
        notify: Callable[[], None],
        stop: threading.Event,
        every_s: float = 2.0,
        detector: str | None = None,
    ) -> None:
        self.database, self.cfg, self.agent_id = database, cfg, agent_id
        self.detector = detector
        self.notify, self.stop_event, self.every_s = notify, stop, every_s
        self._wake = threading.Event()

    def wake(self) -> None:
        """Look now (an encounter may have ended)."""
        self._wake.set()

    def run(self) -> None:
        """Until stopped: a round, then wait."""
        db = open_database(self.database)
        try:
            while not self.stop_event.is_set():
                try:
                    if self.step(db):
                        self.notify()
                except StoreError as e:
                    log.error("chips for the station: %s; trying again", e)
                self._wake.wait(self.every_s)
                self._wake.clear()
        finally:
            db.conn.close()

    def step(self, db: sqlite_utils.Database) -> int:
        """One round: blank frames, then up to `PER_ROUND` chips within the budget; how many
        messages were queued."""
        done = self._blanks(db)
        if not self.cfg.chips:
            return done
        state = spool_state(db, self.cfg)
        if state.full:
            return 0
        room = state.budget_bytes - state.outbox_bytes
        for item in self._ready(db):
            if room <= 0:
                break
            room -= self._send(db, item)
            done += 1
        return done

    def _blanks(self, db: sqlite_utils.Database) -> int:
        """The detector's blank frames not yet sent, in one ``blank`` message."""
        frames = [f for f in unpublished_blanks(db, 500)]
        if not frames:
            return 0
        refs = [
            BlankRef(f.file, f.site, f.camera, f.captured_at, f.time_source or "mtime")
            for f in frames
            if f.captured_at is not None
        ]
        with transaction(db):
            if refs:
                outbox.enqueue(db, "blank", blank_payload(self.agent_id, refs, self.detector))
            mark_blanks_published(db, [f.id for f in frames])
        return 1 if refs else 0

    def _ready(self, db: sqlite_utils.Database) -> list[_Queued]:
        rows = db.execute(_READY, [PER_ROUND]).fetchall()
        return [
            _Queued(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                r[3],
                ModelRef(str(r[5]), str(r[4])),
                np.frombuffer(r[6], dtype="<f4").astype(np.float32),
                str(r[7]),
                str(r[8]),
                str(r[9]),
                str(r[10]),
                r[11],
                r[12],
                int(r[13]),
                int(r[14]),
            )
            for r in rows
        ]

    def _send(self, db: sqlite_utils.Database, item: _Queued) -> int:
        """Put one chip in the outbox (or count why not); the bytes it takes there."""
        what, text = self._message(item)
        with transaction(db):
            if text is not None:
                outbox.enqueue(db, "chip", text, event_id=str(uuid.uuid4()))
            db.execute("DELETE FROM media_queue WHERE sighting_id = ?", [item.sighting_id])
            db.execute(
                "INSERT INTO media_counts (what, n) VALUES (?, 1)"
                " ON CONFLICT(what) DO UPDATE SET n = n + 1",
                [what],
            )
        return len(text) if text is not None else 0

    def _message(self, item: _Queued) -> tuple[str, str | None]:
        if item.reference_of is None and not _in_cap(item, self.cfg.chips_per_encounter):
            return "skipped", None
        path = Path(item.root) / item.file
        try:
            data = path.read_bytes()[: self.cfg.max_chip_bytes + 1]
        except OSError as e:
            log.warning("chip %s is gone before it reached the station (%s)", item.file, e)
            return "missing", None
        if len(data) > self.cfg.max_chip_bytes:
            return "skipped", None
        sha = hashlib.sha256(data).hexdigest()
        if item.sha256 is not None and sha != item.sha256:
            log.warning("chip %s changed since it was recorded: not sent", item.file)
            return "missing", None
        kind = image_type(data)
        if kind is None:
            return "skipped", None
        chip = ChipMedia(
            agent_id=self.agent_id, file=item.file, sha256=sha, content_type=kind, data=data,
            site=item.site, camera=item.camera,
            captured_at=datetime.fromisoformat(item.captured_at),
            encounter_id=item.encounter_id, individual_id=item.individual_id,
            reference_of=item.reference_of, model=item.model, embedding=item.embedding,
        )  # fmt: skip
        return "sent", chip_payload(chip)


def _in_cap(item: _Queued, cap: int) -> bool:
    """Whether the chip is one of `cap` spread evenly over its encounter (by capture time)."""
    if item.count <= cap:
        return True
    step = item.count / cap
    return any(int(k * step) == item.rank for k in range(cap))
