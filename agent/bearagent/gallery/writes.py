"""Writing to the gallery: inside the caller's transaction, or in one of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlite_utils

from bearagent.store import transaction


@contextmanager
def writing(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Join the open transaction (the caller commits), or run in a new one and commit.

    The agent calls gallery functions inside `bearagent.store.transaction` with its
    sighting and outbox rows; the CLI calls them on their own.
    """
    if db.conn.in_transaction:
        yield db
    else:
        with transaction(db):
            yield db


def now_iso() -> str:
    """The current time, ISO 8601 UTC with offset."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def next_id(db: sqlite_utils.Database, prefix: str) -> str:
    """Allocate ``<prefix>-NNNN`` (never reused); call inside a write transaction."""
    db.execute(
        "INSERT INTO gallery_counters (prefix, next) VALUES (?, 1) ON CONFLICT(prefix) DO NOTHING",
        [prefix],
    )
    (number,) = db.execute(
        "UPDATE gallery_counters SET next = next + 1 WHERE prefix = ? RETURNING next - 1",
        [prefix],
    ).fetchone()
    return f"{prefix}-{int(number):04d}"


def reserve_id(db: sqlite_utils.Database, individual_id: str) -> None:
    """Make sure ``<prefix>-NNNN`` taken from elsewhere (an import) is never allocated again."""
    prefix, _, number = individual_id.rpartition("-")
    if prefix and number.isdigit():
        db.execute(
            "INSERT INTO gallery_counters (prefix, next) VALUES (?, ?) "
            "ON CONFLICT(prefix) DO UPDATE SET next = max(next, excluded.next)",
            [prefix, int(number) + 1],
        )


@contextmanager
def reading(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A consistent snapshot for several reads (a deferred transaction; WAL lets writers on)."""
    if db.conn.in_transaction:
        yield db
        return
    db.execute("BEGIN")
    try:
        yield db
    finally:
        db.conn.commit()
