"""The worker's store: one connection, every component bound to it, one transaction a batch.

Before, the worker opened ``transaction(ledger.db)`` and relied on ledger,
recorder, gallery and outbox having been handed that same connection elsewhere.
`WorkerStore` owns the connection and builds every component on it, so a
batch's ledger rows, sightings, encounters, new provisional individuals and
outbox events cannot end up in two transactions. `migrate_all` is the one place
every component's schema is created or upgraded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlite_utils

from bearagent import ledger
from bearagent.detection import frames_table
from bearagent.encounters import store as encounter_store
from bearagent.fleet import media
from bearagent.gallery import schema as gallery_schema
from bearagent.gallery import thumbnails
from bearagent.ledger import Ledger
from bearagent.mqtt import outbox
from bearagent.pipeline.recording import GalleryIdentity, ModelIdentity, Recorder
from bearagent.store import open_database, store_errors, transaction

#: Every component's migrations, in the order they are applied.
COMPONENTS = (
    ("gallery", gallery_schema.ensure_schema),
    ("ledger", ledger.ensure_schema),
    ("encounters", encounter_store.ensure_schema),
    ("outbox", outbox.ensure_schema),
    ("thumbnails", thumbnails.ensure_schema),
    ("frames", frames_table.ensure_schema),
    ("media", media.ensure_schema),
)


def migrate_all(db: sqlite_utils.Database) -> None:
    """Create or upgrade the tables of every component the agent keeps."""
    for _name, ensure in COMPONENTS:
        ensure(db)


class WorkerStore:
    """The worker's connection and the components bound to it. Use it from one thread."""

    def __init__(
        self, path: Path, model: ModelIdentity, agent_id: str, *, upload_chips: bool = False
    ) -> None:
        self.db = open_database(path)
        self.ledger = Ledger(self.db)
        self.identity = GalleryIdentity(self.db, model, agent_id)
        self.recorder = Recorder(self.db, self.identity, upload_chips=upload_chips)

    @contextmanager
    def batch(self) -> Iterator[WorkerStore]:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT`` for everything a batch writes.

        Any SQLite error inside (a full disk on an INSERT, a lock) rolls back the whole
        batch and is raised as the typed `bearagent.store.StoreError`.
        """
        with transaction(self.db):
            yield self

    @contextmanager
    def reading(self) -> Iterator[WorkerStore]:
        """Reads outside a batch (gallery search, ledger look-ups), errors typed likewise."""
        with store_errors(self.db):
            yield self

    def reclaim(self) -> None:
        """After a full disk: fold the write-ahead log into the database and cut it back.

        In WAL mode the log only shrinks when it is truncated; on a small disk a log
        grown to its checkpoint size can keep the disk full after space was freed.
        A failure here (the disk still full, a reader in the way) changes nothing.
        """
        with suppress(sqlite3.Error):
            self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        """Close the connection."""
        self.db.conn.close()
