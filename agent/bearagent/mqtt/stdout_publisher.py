"""The publisher for a box without a broker: events as JSON lines on stdout.

The agent still records everything in SQLite; each event row of the outbox
(sighting, unknown, correction) is printed (one JSON object per line, with the topic
it would have had under ``mqtt.topic_prefix``) and then deleted, in order. Rows meant
for a station only (a gallery feed position, a model report) are deleted unprinted:
without a broker there is no station.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TextIO

import sqlite_utils

from bearagent.mqtt import outbox
from bearagent.mqtt.base import PublisherCounters
from bearagent.store import open_database, transaction
from bearagent.wire.channels import EVENT_CHANNELS
from bearagent.wire.topics import Topics


class StdoutPublisher:
    """A `Publisher` that writes outbox rows to a text stream instead of a broker."""

    def __init__(
        self,
        topics: Topics,
        *,
        database: Path,
        stream: TextIO | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.topics = topics
        self._database = database
        self._stream = stream if stream is not None else sys.stdout
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._printed = 0  # written by the printing thread only; an int read is atomic

    def start(self) -> None:
        """Prepare the outbox and start printing."""
        db = open_database(self._database)
        try:
            outbox.ensure_schema(db)
        finally:
            db.conn.close()
        self._thread = threading.Thread(target=self._run, name="stdout-publisher", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New rows are waiting."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Print what is left, then stop."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def counters(self) -> PublisherCounters:
        """Events printed so far."""
        printed = self._printed
        return PublisherCounters("stdout", True, printed, printed, 0, 0, 0, None)

    def _run(self) -> None:
        db = open_database(self._database)
        try:
            while True:
                self._drain(db)
                if self._stopping.is_set():
                    return
                self._wake.wait(self._poll_s)
                self._wake.clear()
        finally:
            db.conn.close()

    def _drain(self, db: sqlite_utils.Database) -> None:
        while rows := outbox.pending(db, 200):
            for row in rows:
                if row.channel not in EVENT_CHANNELS:
                    continue
                line = {"topic": self.topics.of(row.channel), "payload": json.loads(row.payload)}
                self._stream.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._stream.flush()
            with transaction(db):
                outbox.delete(db, [r.id for r in rows])
            self._printed += len(rows)
