"""How far this box has applied the fleet gallery's feed (component ``fleet_feed``).

- ``feed_state``: one row, ``applied``: the seq of the last feed change applied
  (every change up to it, in order, exactly once), and when it moved;
- ``feed_merges``: each merge the feed made here: which individual went into which,
  at which seq, and the rows it moved (references, sightings, encounters), so a
  ``split`` can move them back;
- ``feed_references``: each reference chip the feed gave this box (by SHA-256), so it
  is added once (and not again after a person removed it here).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from bearagent.store import Migration, migrate

COMPONENT = "fleet_feed"


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE feed_state (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " applied INTEGER NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute(
        "INSERT INTO feed_state (id, applied, updated_at) VALUES (1, 0, ?)",
        [datetime.now(UTC).isoformat(timespec="seconds")],
    )
    db.execute(
        "CREATE TABLE feed_merges (source TEXT PRIMARY KEY, target TEXT NOT NULL,"
        " seq INTEGER NOT NULL, merged_at TEXT NOT NULL, moved TEXT NOT NULL DEFAULT '{}')"
    )


def _v2(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE feed_references (sha256 TEXT PRIMARY KEY, individual_id TEXT NOT NULL,"
        " seq INTEGER NOT NULL)"
    )


#: Migrations of the feed's tables, oldest first; append, never edit.
STEPS: list[Migration] = [_v1, _v2]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the feed's tables (outside a transaction: each step has its own)."""
    migrate(db, COMPONENT, STEPS)


def applied_position(db: sqlite_utils.Database) -> int:
    """The seq of the last feed change this box applied (0: none yet)."""
    row = db.execute("SELECT applied FROM feed_state WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


def set_applied(db: sqlite_utils.Database, seq: int) -> None:
    """Record that every change through `seq` is applied (inside the caller's transaction)."""
    db.execute(
        "UPDATE feed_state SET applied = ?, updated_at = ? WHERE id = 1",
        [seq, datetime.now(UTC).isoformat(timespec="seconds")],
    )


def record_merge(
    db: sqlite_utils.Database,
    source: str,
    target: str,
    seq: int,
    moved: dict[str, list[Any]] | None = None,
) -> None:
    """Remember that the feed merged `source` into `target` and the rows it `moved`
    ({table: row ids}) (inside the transaction)."""
    db.execute(
        "INSERT INTO feed_merges (source, target, seq, merged_at, moved) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (source) DO UPDATE SET target = excluded.target, seq = excluded.seq,"
        " merged_at = excluded.merged_at, moved = excluded.moved",
        [source, target, seq, datetime.now(UTC).isoformat(timespec="seconds"),
         json.dumps(moved or {})],
    )  # fmt: skip


def take_merge(db: sqlite_utils.Database, source: str) -> tuple[str, dict[str, list[Any]]] | None:
    """The target and moved rows of the feed's merge of `source`, forgotten (a split)."""
    row = db.execute("SELECT target, moved FROM feed_merges WHERE source = ?", [source]).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM feed_merges WHERE source = ?", [source])
    moved: dict[str, list[Any]] = json.loads(row[1])
    return str(row[0]), moved


def merged_into(db: sqlite_utils.Database, individual_id: str) -> str | None:
    """Where the feed merged `individual_id` (followed to the end), or None."""
    seen: set[str] = set()
    current, found = individual_id, None
    while current not in seen:
        seen.add(current)
        row = db.execute("SELECT target FROM feed_merges WHERE source = ?", [current]).fetchone()
        if row is None:
            break
        current = found = str(row[0])
    return found


def has_reference(db: sqlite_utils.Database, sha256: str) -> bool:
    """Whether the feed gave this box the reference chip `sha256` already."""
    found = db.execute("SELECT 1 FROM feed_references WHERE sha256 = ?", [sha256]).fetchone()
    return found is not None


def record_references(
    db: sqlite_utils.Database, individual_id: str, seq: int, sha256s: list[str]
) -> None:
    """Remember the reference chips a feed change added (inside the transaction)."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO feed_references (sha256, individual_id, seq) VALUES (?, ?, ?)",
        [(sha, individual_id, seq) for sha in sha256s],
    )
