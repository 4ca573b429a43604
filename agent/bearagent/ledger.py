"""The file ledger: every chip file is processed exactly once, across restarts,
renames and re-copies.

A file is identified by its content (SHA-256); (root, path, size, mtime) is the
fast path that avoids hashing a file seen before. The ledger row is written in the
same transaction as the chip's sighting and events, so a crash before the commit
simply means the file is processed again after restart, and never twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlite_utils

from bearagent.store import migrate

Status = Literal["processed", "rejected", "duplicate"]


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            root TEXT NOT NULL,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT,
            status TEXT NOT NULL CHECK (status IN ('processed', 'rejected', 'duplicate')),
            reason TEXT,
            processed_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX files_by_path ON files (root, path, size, mtime_ns)")
    db.execute("CREATE INDEX files_by_sha ON files (sha256) WHERE sha256 IS NOT NULL")


STEPS = [_v1]


@dataclass(frozen=True)
class FileIdentity:
    """What the ledger knows a file by."""

    root: str
    path: str
    size: int
    mtime_ns: int
    sha256: str | None


def content_sha256(data: bytes) -> str:
    """Hex SHA-256 of a file's content."""
    return hashlib.sha256(data).hexdigest()


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the ``files`` table."""
    migrate(db, "ledger", STEPS)


class Ledger:
    """Read and write the ``files`` table on one connection (its schema: `ensure_schema`)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def seen_path(self, root: str, path: str, size: int, mtime_ns: int) -> bool:
        """This exact file (same path, size and mtime) was handled before."""
        row = self.db.execute(
            "SELECT 1 FROM files WHERE root = ? AND path = ? AND size = ? AND mtime_ns = ? LIMIT 1",
            [root, path, size, mtime_ns],
        ).fetchone()
        return row is not None

    def seen_content(self, sha256: str) -> bool:
        """A file with this content was processed or rejected before (a rename or re-copy)."""
        row = self.db.execute(
            "SELECT 1 FROM files WHERE sha256 = ? AND status != 'duplicate' LIMIT 1", [sha256]
        ).fetchone()
        return row is not None

    def record(self, identity: FileIdentity, status: Status, reason: str | None = None) -> None:
        """Insert the file's row. Does not commit: call inside the chip's transaction."""
        self.db.execute(
            "INSERT INTO files (root, path, size, mtime_ns, sha256, status, reason, processed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                identity.root,
                identity.path,
                identity.size,
                identity.mtime_ns,
                identity.sha256,
                status,
                reason,
                datetime.now(UTC).isoformat(),
            ],
        )

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        rows = self.db.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall()
        return {str(status): int(n) for status, n in rows}
