"""Opening the agent's SQLite database, transactions, and errors a user can act on.

Every thread opens its own connection (SQLite connections are not shared across
threads); WAL lets readers and the single writer work at once, and
``synchronous=FULL`` makes a committed transaction survive a power cut, which the
"nothing is lost" promise relies on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from bearagent.errors import BearIdError

BUSY_TIMEOUT_MS = 10_000


class StoreError(BearIdError):
    """The agent's database cannot be used."""


class DatabaseLocked(StoreError):
    """Another process holds a lock on the database for too long."""


class DiskFull(StoreError):
    """The disk holding the database is full."""


def sqlite_error(e: sqlite3.Error, path: Path | str) -> StoreError:
    """Turn an sqlite3 error into a `StoreError` whose message says what to do."""
    text = str(e).lower()
    if "locked" in text or "busy" in text:
        return DatabaseLocked(
            f"database {path} is locked by another process (waited {BUSY_TIMEOUT_MS // 1000} s): "
            "stop the other program using it (a second bearagent, an open sqlite3 shell)"
        )
    if "full" in text:  # "database or disk is full", SQLITE_FULL
        return DiskFull(f"the disk holding {path} is full: free space there; nothing was lost")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"database {path} is read-only: give the agent's user write access")
    if "not a database" in text or "malformed" in text:
        return StoreError(
            f"{path} is not a readable SQLite database ({e}): restore it from a backup, or move it "
            "away to start with an empty one"
        )
    return StoreError(f"database {path}: {e}")


def open_database(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` for use by the calling thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=True)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as e:
        raise sqlite_error(e, path) from e
    return sqlite_utils.Database(conn)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """An explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a busy database fails at BEGIN
    (after the busy timeout) instead of half-way through.
    """
    conn = db.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as e:
        raise sqlite_error(e, _db_path(db)) from e
    try:
        yield db
    except BaseException:
        conn.rollback()
        raise
    try:
        conn.commit()
    except sqlite3.Error as e:
        conn.rollback()
        raise sqlite_error(e, _db_path(db)) from e


def _db_path(db: sqlite_utils.Database) -> str:
    row = db.conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "<database>"
