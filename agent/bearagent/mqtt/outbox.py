"""The outbox: events waiting for the broker's acknowledgement, in SQLite.

The pipeline writes an event here in the same transaction as its sighting row,
so an event exists on disk before anything tries to publish it; the publisher
deletes a row only once the broker has acknowledged it (PUBACK). Rows are sent
in id order; ``AUTOINCREMENT`` keeps ids rising even after the table empties.
Neither `enqueue` nor `delete` commits: callers wrap them in
`bearagent.store.transaction` with whatever else must commit together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from bearagent.store import Migration, migrate, sqlite_error

COMPONENT = "outbox"


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


#: Schema migrations of the outbox table, applied in order by `ensure_schema`.
STEPS: list[Migration] = [_v1_create]


@dataclass(frozen=True)
class OutboxRow:
    """One event waiting to be published."""

    id: int
    topic: str
    payload: str
    retain: bool
    event_id: str | None


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the outbox table (each step in its own transaction)."""
    migrate(db, COMPONENT, STEPS)


def enqueue(
    db: sqlite_utils.Database,
    topic: str,
    payload: str,
    *,
    retain: bool = False,
    event_id: str | None = None,
) -> int:
    """Add an event to the outbox and return its row id. Does not commit."""
    if not topic or any(c in topic for c in "+#\x00"):
        raise ValueError(f"not a topic one can publish to: {topic!r} (build it with Topics)")
    row = _run(
        db,
        "INSERT INTO outbox (topic, payload, retain, event_id, created_at) VALUES (?, ?, ?, ?, ?)",
        [topic, payload, int(retain), event_id, datetime.now(UTC).isoformat()],
    )
    return int(row.lastrowid or 0)


def pending(db: sqlite_utils.Database, limit: int, *, after_id: int = 0) -> list[OutboxRow]:
    """Up to `limit` rows with an id above `after_id`, oldest first."""
    cursor = _run(
        db,
        "SELECT id, topic, payload, retain, event_id FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
        [after_id, limit],
    )
    return [OutboxRow(r[0], r[1], r[2], bool(r[3]), r[4]) for r in cursor.fetchall()]


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
