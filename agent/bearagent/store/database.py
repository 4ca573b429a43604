"""Opening the agent's SQLite database, transactions, and errors a user can act on.

Every thread opens its own connection (SQLite connections are not shared across
threads); WAL lets readers and the single writer work at once, and
``synchronous=FULL`` makes a committed transaction survive a power cut, which the
"nothing is lost" promise relies on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlite_utils

from bearagent.errors import BearIdError

BUSY_TIMEOUT_MS = 10_000
#: Pages in the write-ahead log that trigger a checkpoint (4 KiB pages: about 1 MiB).
WAL_CHECKPOINT_PAGES = 256
#: Bytes the write-ahead log is cut back to after a checkpoint.
WAL_SIZE_LIMIT = 1 << 20


class StoreError(BearIdError):
    """The agent's database cannot be used."""


class DatabaseLocked(StoreError):
    """Another process holds a lock on the database for too long."""


class DiskFull(StoreError):
    """The disk holding the database is full."""


def _kind(e: sqlite3.Error) -> str:
    """SQLite's error name (``SQLITE_FULL``, ``SQLITE_BUSY_SNAPSHOT``, ...), or a guess from
    the message for errors raised without one (Python 3.11 sets it on most)."""
    name = getattr(e, "sqlite_errorname", None)
    if isinstance(name, str) and name:
        return name
    text = str(e).lower()
    for needle, guess in (("locked", "SQLITE_LOCKED"), ("busy", "SQLITE_BUSY"),
                          ("full", "SQLITE_FULL"), ("readonly", "SQLITE_READONLY"),
                          ("read-only", "SQLITE_READONLY"), ("not a database", "SQLITE_NOTADB"),
                          ("malformed", "SQLITE_CORRUPT")):  # fmt: skip
        if needle in text:
            return guess
    return "SQLITE_ERROR"


def sqlite_error(e: sqlite3.Error, path: Path | str) -> StoreError:
    """Turn an sqlite3 error into a `StoreError` whose message says what to do.

    Classified by SQLite's own error code (``e.sqlite_errorname``), not its wording.
    """
    kind = _kind(e)
    if kind.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DatabaseLocked(
            f"database {path} is locked by another process (waited {BUSY_TIMEOUT_MS // 1000} s): "
            "stop the other program using it (a second bearagent, an open sqlite3 shell)"
        )
    if kind == "SQLITE_FULL" or (kind.startswith("SQLITE_IOERR") and "full" in str(e).lower()):
        return DiskFull(f"the disk holding {path} is full: free space there; nothing was lost")
    if kind.startswith("SQLITE_READONLY"):
        return StoreError(f"database {path} is read-only: give the agent's user write access")
    if kind.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StoreError(
            f"{path} is not a readable SQLite database ({e}): restore it from a backup, or move it "
            "away to start with an empty one"
        )
    if kind.startswith("SQLITE_CANTOPEN"):
        return StoreError(
            f"cannot open database {path} ({e}): check the folder and its permissions"
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
        # Fold the write-ahead log back into the database every ~1 MiB and cut the file
        # back to that size: a log left at its high-water mark can keep a small disk full
        # (the checkpoint that would empty it needs room to grow the database).
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as e:
        raise sqlite_error(e, path) from e
    return sqlite_utils.Database(conn)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """An explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a busy database fails at BEGIN
    (after the busy timeout) instead of half-way through. An `sqlite3.Error` anywhere
    (BEGIN, a statement in the body, COMMIT) rolls back and becomes a `StoreError`.
    """
    conn = db.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as e:
        raise sqlite_error(e, _db_path(db)) from e
    try:
        yield db
    except sqlite3.Error as e:  # a full disk or a lock can strike any statement in the body
        _rollback(conn)
        raise sqlite_error(e, _db_path(db)) from e
    except BaseException:
        _rollback(conn)
        raise
    try:
        conn.commit()
    except sqlite3.Error as e:
        _rollback(conn)
        raise sqlite_error(e, _db_path(db)) from e


@contextmanager
def store_errors(db: sqlite_utils.Database) -> Iterator[None]:
    """Turn any `sqlite3.Error` raised inside into the typed `StoreError` (reads, too)."""
    try:
        yield
    except sqlite3.Error as e:
        raise sqlite_error(e, _db_path(db)) from e


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back, tolerating a connection whose transaction SQLite already ended."""
    with suppress(sqlite3.Error):
        conn.rollback()


def _db_path(db: sqlite_utils.Database) -> str:
    row = db.conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "<database>"
