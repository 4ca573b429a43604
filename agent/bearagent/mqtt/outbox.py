"""The outbox: events waiting for the broker's acknowledgement, in SQLite.

The pipeline writes an event here in the same transaction as its sighting row,
so an event exists on disk before anything tries to publish it; the publisher
deletes a row only once the broker has acknowledged it (PUBACK). Rows are sent
in id order; ``AUTOINCREMENT`` keeps ids rising even after the table empties.
A row names its `Channel` (``sighting``, ``unknown``, ``correction``, ``stats``);
the publisher turns it into a topic. Neither `enqueue` nor `delete` commits:
callers wrap them in `bearagent.store.transaction` with whatever else must
commit together.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from bearagent.store import Migration, migrate, sqlite_error
from bearagent.wire.topics import CHANNELS, Channel, check_channel

COMPONENT = "outbox"
log = logging.getLogger(__name__)


def _v1_create(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE outbox ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " topic TEXT NOT NULL,"
        " payload TEXT NOT NULL,"
        " retain INTEGER NOT NULL DEFAULT 0,"
        " event_id TEXT,"
        " created_at TEXT NOT NULL)"
    )


def _v2_channels(db: sqlite_utils.Database) -> None:
    """Rows name a channel, not a topic: backfilled from the topic's last level."""
    db.execute("ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT id, topic FROM outbox").fetchall()
    known = [(str(topic).rsplit("/", 1)[-1], row_id) for row_id, topic in rows]
    db.conn.executemany("UPDATE outbox SET channel = ? WHERE id = ?", known)
    strays = db.execute(
        f"SELECT id, topic FROM outbox WHERE channel NOT IN ({','.join('?' * len(CHANNELS))})",
        list(CHANNELS),
    ).fetchall()
    if strays:  # never written by an agent: the old enqueue took any topic
        log.warning(
            "outbox: dropping %d row(s) whose topic names no channel (%s)",
            len(strays),
            ", ".join(sorted({str(topic) for _, topic in strays})),
        )
        db.conn.executemany("DELETE FROM outbox WHERE id = ?", [(r[0],) for r in strays])
    db.execute("ALTER TABLE outbox DROP COLUMN topic")


#: Schema migrations of the outbox table, applied in order by `ensure_schema`.
STEPS: list[Migration] = [_v1_create, _v2_channels]


@dataclass(frozen=True)
class OutboxRow:
    """One event waiting to be published."""

    id: int
    channel: Channel
    payload: str
    retain: bool
    event_id: str | None


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the outbox table (each step in its own transaction)."""
    migrate(db, COMPONENT, STEPS)


def enqueue(
    db: sqlite_utils.Database,
    channel: Channel,
    payload: str,
    *,
    retain: bool = False,
    event_id: str | None = None,
) -> int:
    """Add an event for `channel` and return its row id. Does not commit.

    An unknown channel is a ValueError naming it (nothing is written).
    """
    row = _run(
        db,
        "INSERT INTO outbox (channel, payload, retain, event_id, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [check_channel(channel), payload, int(retain), event_id, datetime.now(UTC).isoformat()],
    )
    return int(row.lastrowid or 0)


_COLUMNS = "id, channel, payload, retain, event_id"


def pending(db: sqlite_utils.Database, limit: int, *, after_id: int = 0) -> list[OutboxRow]:
    """Up to `limit` rows with an id above `after_id`, oldest first."""
    cursor = _run(
        db,
        f"SELECT {_COLUMNS} FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
        [after_id, limit],
    )
    return [_row(r) for r in cursor.fetchall()]


def rows(db: sqlite_utils.Database, ids: Sequence[int]) -> list[OutboxRow]:
    """The rows among `ids` still in the outbox, oldest first (at most 500 ids)."""
    if not ids:
        return []
    if len(ids) > 500:
        raise ValueError("outbox.rows() takes at most 500 ids at a time")
    marks = ",".join("?" * len(ids))
    cursor = _run(db, f"SELECT {_COLUMNS} FROM outbox WHERE id IN ({marks}) ORDER BY id", ids)
    return [_row(r) for r in cursor.fetchall()]


def delete(db: sqlite_utils.Database, ids: Iterable[int]) -> int:
    """Remove acknowledged rows; return how many went. Does not commit."""
    removed = 0
    chunk: list[int] = []
    for row_id in ids:
        chunk.append(row_id)
        if len(chunk) == 500:  # stay under SQLite's bound-parameter limit
            removed += _delete_chunk(db, chunk)
            chunk = []
    if chunk:
        removed += _delete_chunk(db, chunk)
    return removed


def size(db: sqlite_utils.Database) -> int:
    """How many events are waiting for the broker."""
    return int(_run(db, "SELECT count(*) FROM outbox", []).fetchone()[0])


def _row(r: tuple[Any, ...]) -> OutboxRow:
    return OutboxRow(int(r[0]), check_channel(str(r[1])), str(r[2]), bool(r[3]), r[4])


def _delete_chunk(db: sqlite_utils.Database, ids: list[int]) -> int:
    marks = ",".join("?" * len(ids))
    return int(_run(db, f"DELETE FROM outbox WHERE id IN ({marks})", ids).rowcount)


def _run(db: sqlite_utils.Database, sql: str, params: Sequence[object]) -> sqlite3.Cursor:
    try:
        return db.conn.execute(sql, params)
    except sqlite3.Error as e:
        raise sqlite_error(e, _path(db)) from e


def _path(db: sqlite_utils.Database) -> str:
    row = db.conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "<database>"
