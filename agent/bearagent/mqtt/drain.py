"""The outbox drain: rows out to the broker in id order, each marked published on its
PUBACK (kept for the station's receipt), or deleted at once without a station.

At most the connection's window of rows is unacknowledged at a time; each paho
message id maps to its row. A row the broker refuses (a PUBACK reason code of
0x80 or more, e.g. 0x87 Not authorized from an ACL) stays in the outbox and is
offered again with a growing wait (`retry.RefusedRows`), so a fixed ACL takes
effect without a restart, while the rows after it go on. Everything here runs on
the publisher thread, which owns `db`.
"""

from __future__ import annotations

import logging
import sqlite3
import time

import sqlite_utils

from bearagent.mqtt import outbox
from bearagent.mqtt.connection import BrokerConnection
from bearagent.mqtt.counters import Tally
from bearagent.mqtt.retry import RefusedRows
from bearagent.mqtt.signals import Acked
from bearagent.store import StoreError, transaction
from bearagent.wire.topics import Topics

log = logging.getLogger("bearagent.mqtt")


class OutboxDrain:
    """Publishes outbox rows through a `BrokerConnection` and deletes the acknowledged ones."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        topics: Topics,
        tally: Tally,
        retry: RefusedRows,
        *,
        keep_until_confirmed: bool = True,
    ) -> None:
        self.db = db
        self.topics = topics
        self.tally = tally
        self.retry = retry
        self.keep = keep_until_confirmed
        self._inflight: dict[int, int] = {}  # paho mid -> outbox row id
        self._acked: list[int] = []  # acknowledged rows not yet deleted
        self._cursor = 0  # highest row id handed to paho in order (retries come on top)

    def step(self, connection: BrokerConnection, *, fill: bool) -> None:
        """Top up the in-flight window (if `fill`), then delete acknowledged rows."""
        try:
            # Fill first: paho sends the new rows while this thread waits for the fsync.
            if fill and connection.connected:
                self._fill(connection)
            if self._acked:
                with transaction(self.db):
                    if self.keep:
                        outbox.mark_published(self.db, self._acked)
                    else:
                        outbox.delete(self.db, self._acked)
                self._acked.clear()
        except StoreError as e:  # disk full, locked: keep the rows, try again next wake-up
            self.tally.error(f"outbox: {e}")
            log.error("MQTT publisher cannot use the outbox, retrying: %s", e)

    def acknowledged(self, ack: Acked, where: str) -> None:
        """The broker answered the PUBLISH `ack.mid`: delete its row, or keep it for a retry."""
        row_id = self._inflight.pop(ack.mid, None)
        if row_id is None:  # status or stats: not from the outbox
            return
        if ack.failure is None:
            self._acked.append(row_id)
            self.retry.delivered(row_id)
            self.tally.add(published=1)
        else:
            self._refused(row_id, ack.failure, where)
        self.tally.set_waiting(self.retry.waiting)

    def busy(self) -> bool:
        """Whether rows are in flight, or could be sent now."""
        if self._inflight or self.retry.next_in(time.monotonic()) == 0.0:
            return True
        try:
            return bool(outbox.pending(self.db, 1, after_id=self._cursor))
        except StoreError:
            return False  # the rows stay for the next start; step() has logged why

    def rewind(self) -> None:
        """Rows were marked unpublished again (the station asked for them): send from the
        oldest such row on (rows already in flight are not sent twice)."""
        try:
            row = self.db.execute(
                "SELECT min(id) FROM outbox WHERE published_at IS NULL"
            ).fetchone()
        except sqlite3.Error as e:  # look again at the next request
            log.error("cannot look for rows to resend: %s", e)
            return
        if row is not None and row[0] is not None and int(row[0]) <= self._cursor:
            self._cursor = int(row[0]) - 1

    def next_retry_in(self) -> float | None:
        """Seconds until a refused row is due again (None when none waits)."""
        return self.retry.next_in(time.monotonic())

    def _refused(self, row_id: int, reason: str, where: str) -> None:
        wait = self.retry.refused(row_id, time.monotonic())
        self.tally.add(refused=1)
        self.tally.error(f"broker refused outbox row {row_id}: {reason}")
        attempts = self.retry.attempts(row_id)
        log.log(
            logging.ERROR if attempts == 1 else logging.WARNING,
            "broker %s refused outbox row %d (%s); it stays in the outbox and is sent again "
            "in %.1f s (refusal %d; waits double up to mqtt.reconnect_max_s): check the "
            "broker's ACL for %s",
            where,
            row_id,
            reason,
            wait,
            attempts,
            self.topics.prefix + "#",
        )

    def _fill(self, connection: BrokerConnection) -> None:
        room = connection.window - len(self._inflight)
        due = self.retry.due(time.monotonic(), room)
        flying = set(self._inflight.values())
        rows = [r for r in (outbox.rows(self.db, due) if due else []) if r.id not in flying]
        sent_retries = len(rows)
        if len(rows) < room:
            fresh = outbox.pending(self.db, room - len(rows) + len(flying), after_id=self._cursor)
            rows += [r for r in fresh if r.id not in flying][: room - len(rows)]
        for n, row in enumerate(rows):
            mid = connection.publish(self.topics.of(row.channel), row.payload, retain=row.retain)
            if mid is None:  # paho will not take more now: the rest waits for the next step
                self.retry.postpone([r.id for r in rows[n:sent_retries]], time.monotonic())
                return
            self._inflight[mid] = row.id
            if n >= sent_retries:
                self._cursor = max(self._cursor, row.id)
            self.tally.add(sent=1)
