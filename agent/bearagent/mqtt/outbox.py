"""The outbox: everything the box sends the station, in SQLite, until the station has it.

The pipeline writes an event here in the same transaction as its sighting row,
so an event exists on disk before anything tries to publish it. Each row is one
message of the box's **stream** (a UUID made with the table) and its id is the
message's **sequence number**: `enqueue` stamps ``stream`` and ``seq`` into every
JSON payload, so the station can tell what it holds and ask for what it lacks.
Rows are sent in id order; ``AUTOINCREMENT`` keeps ids rising even after the table
empties. Once the broker acknowledges a row (PUBACK) it is marked published and
kept until the station's receipt says it holds it (`confirm`), or the station asks
for it again (`resend`), within a retention limit (`expire`): the broker's copy
alone is not safe (a broker losing power drops what it had not saved). A row
names its `Channel`; the publisher turns it into a topic. Nothing here commits:
callers wrap the calls in `bearagent.store.transaction` with whatever else must
commit together.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


def _v3_stream(db: sqlite_utils.Database) -> None:
    """The box's stream and the rows kept after PUBACK until the station's receipt."""
    db.execute("ALTER TABLE outbox ADD COLUMN published_at TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE outbox SET bytes = length(CAST(payload AS BLOB))")
    db.execute("CREATE INDEX outbox_waiting ON outbox (id) WHERE published_at IS NULL")
    db.execute(
        "CREATE TABLE outbox_stream (stream TEXT NOT NULL, expired_through INTEGER NOT NULL"
        " DEFAULT 0, confirmed_through INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute("INSERT INTO outbox_stream (stream) VALUES (?)", [str(uuid.uuid4())])


#: Schema migrations of the outbox table, applied in order by `ensure_schema`.
STEPS: list[Migration] = [_v1_create, _v2_channels, _v3_stream]


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
    """Add a message for `channel` and return its row id, which is its sequence number
    (stamped into a JSON object payload with the stream). Does not commit.

    An unknown channel is a ValueError naming it (nothing is written).
    """
    row = _run(
        db,
        "INSERT INTO outbox (channel, payload, retain, event_id, created_at) "
        "VALUES (?, '', ?, ?, ?)",
        [check_channel(channel), int(retain), event_id, datetime.now(UTC).isoformat()],
    )
    seq = int(row.lastrowid or 0)
    text = stamped(payload, stream(db), seq)
    _run(
        db,
        "UPDATE outbox SET payload = ?, bytes = ? WHERE id = ?",
        [text, len(text.encode("utf-8", "surrogatepass")), seq],
    )
    return seq


def stamped(payload: str, stream_id: str, seq: int) -> str:
    """A JSON object payload with ``stream`` and ``seq`` first; other text as it is."""
    body = payload.lstrip()
    if not body.startswith("{"):
        return payload
    head = f'{{"stream":{json.dumps(stream_id)},"seq":{seq}'
    rest = body[1:].lstrip()
    return head + ("}" if rest.startswith("}") else "," + rest)


def stream(db: sqlite_utils.Database) -> str:
    """This outbox's stream id (one per box database: a new database is a new stream)."""
    return str(_run(db, "SELECT stream FROM outbox_stream", []).fetchone()[0])


_COLUMNS = "id, channel, payload, retain, event_id"


def pending(db: sqlite_utils.Database, limit: int, *, after_id: int = 0) -> list[OutboxRow]:
    """Up to `limit` rows not yet published with an id above `after_id`, oldest first."""
    cursor = _run(
        db,
        f"SELECT {_COLUMNS} FROM outbox WHERE published_at IS NULL AND id > ? ORDER BY id LIMIT ?",
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
    """How many messages are waiting for the broker."""
    return int(_run(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL", []).fetchone()[0])


def mark_published(db: sqlite_utils.Database, ids: Iterable[int]) -> int:
    """The broker acknowledged these rows: kept until the station's receipt. No commit."""
    now = datetime.now(UTC).isoformat()
    done = 0
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        done += int(
            _run(
                db, f"UPDATE outbox SET published_at = ? WHERE id IN ({marks})", [now, *chunk]
            ).rowcount
        )
    return done


def confirm(db: sqlite_utils.Database, stream_id: str, through: int) -> int:
    """The station holds every message of `stream_id` up to `through`: drop the published
    ones (a row not yet published again after a resend request stays). No commit."""
    if stream_id != stream(db):
        return 0
    _run(
        db,
        "UPDATE outbox_stream SET confirmed_through = max(confirmed_through, ?)",
        [through],
    )
    return int(
        _run(
            db, "DELETE FROM outbox WHERE id <= ? AND published_at IS NOT NULL", [through]
        ).rowcount
    )


def resend(db: sqlite_utils.Database, stream_id: str, ranges: Sequence[tuple[int, int]]) -> int:
    """The station lacks these sequence numbers: publish the rows still kept again; returns
    how many. Rows gone (confirmed, or expired: see `expired_through`) cannot be. No commit."""
    if stream_id != stream(db):
        return 0
    again = 0
    for first, last in ranges:
        again += int(
            _run(
                db,
                "UPDATE outbox SET published_at = NULL WHERE id BETWEEN ? AND ?"
                " AND published_at IS NOT NULL",
                [first, last],
            ).rowcount
        )
    return again


@dataclass(frozen=True)
class Expired:
    """Published rows dropped before the station confirmed them (the retention limit)."""

    rows: int
    through: int  # every sequence number up to this one is gone from the box


def expire(db: sqlite_utils.Database, max_age_s: float, max_bytes: int) -> Expired:
    """Drop published, unconfirmed rows older than `max_age_s` or beyond `max_bytes` in all,
    oldest first; rows never published are never dropped. No commit."""
    cutoff = (datetime.now(UTC) - timedelta(seconds=max_age_s)).isoformat()
    gone = [
        int(r[0])
        for r in _run(
            db,
            "SELECT id FROM outbox WHERE published_at IS NOT NULL AND created_at < ?",
            [cutoff],
        ).fetchall()
    ]
    kept = _run(
        db, "SELECT id, bytes FROM outbox WHERE published_at IS NOT NULL ORDER BY id DESC", []
    ).fetchall()
    total = 0
    for row_id, n in kept:
        total += int(n)
        if total > max_bytes:
            gone.append(int(row_id))
    if not gone:
        return Expired(0, expired_through(db))
    through = max(gone)
    delete(db, sorted(set(gone)))
    _run(db, "UPDATE outbox_stream SET expired_through = max(expired_through, ?)", [through])
    return Expired(len(set(gone)), through)


def expired_through(db: sqlite_utils.Database) -> int:
    """The highest sequence number dropped before the station confirmed it (0: none)."""
    return int(_run(db, "SELECT expired_through FROM outbox_stream", []).fetchone()[0])


@dataclass(frozen=True)
class StreamState:
    """Where this box's stream stands (for stats, status and the station)."""

    stream: str
    head: int  # the latest sequence number given out
    waiting: int  # rows not yet published
    unconfirmed: int  # published rows kept for the station's receipt
    unconfirmed_bytes: int
    confirmed_through: int
    expired_through: int


def stream_state(db: sqlite_utils.Database) -> StreamState:
    """Head, waiting and kept rows, and what the station confirmed."""
    head = _run(db, "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'", []).fetchone()
    waiting, kept, kept_bytes = _run(
        db,
        "SELECT count(*) FILTER (WHERE published_at IS NULL),"
        " count(*) FILTER (WHERE published_at IS NOT NULL),"
        " coalesce(sum(bytes) FILTER (WHERE published_at IS NOT NULL), 0) FROM outbox",
        [],
    ).fetchone()
    sid, expired, confirmed = _run(
        db, "SELECT stream, expired_through, confirmed_through FROM outbox_stream", []
    ).fetchone()
    return StreamState(
        str(sid),
        int(head[0]) if head else 0,
        int(waiting),
        int(kept),
        int(kept_bytes),
        int(confirmed),
        int(expired),
    )


def _chunks(ids: Iterable[int], size: int = 500) -> Iterable[list[int]]:
    chunk: list[int] = []
    for row_id in ids:
        chunk.append(row_id)
        if len(chunk) == size:  # stay under SQLite's bound-parameter limit
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
