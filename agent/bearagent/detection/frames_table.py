"""The ``frames`` table: every frame and clip the detector stage handled, once.

A frame (or clip) is identified like a chip in the ledger: (root, path, size,
mtime) is the fast path, its SHA-256 catches renames and re-copies. Its row says
what came of it: ``blank`` (nothing found), ``detected`` (boxes found; `chips`
of them became chip files), ``rejected`` (with the reason) or ``duplicate``.
Blank frames wait for the publisher (`unpublished_blanks`, `mark_blanks_published`),
which sends them on so the station can write Camtrap DP ``blank`` observations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlite_utils

from bearagent.store import migrate

FrameStatus = Literal["blank", "detected", "rejected", "duplicate"]
FileKind = Literal["frame", "clip"]


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE frames (
            id INTEGER PRIMARY KEY,
            root TEXT NOT NULL,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT,
            kind TEXT NOT NULL CHECK (kind IN ('frame', 'clip')),
            site TEXT NOT NULL,
            camera TEXT NOT NULL,
            captured_at TEXT,
            time_source TEXT,
            status TEXT NOT NULL CHECK (status IN ('blank', 'detected', 'rejected', 'duplicate')),
            detections INTEGER NOT NULL DEFAULT 0,
            chips INTEGER NOT NULL DEFAULT 0,
            reason TEXT,
            detector TEXT,
            processed_at TEXT NOT NULL,
            published_at TEXT
        )"""
    )
    db.execute("CREATE INDEX frames_by_path ON frames (root, path, size, mtime_ns)")
    db.execute("CREATE INDEX frames_by_sha ON frames (sha256) WHERE sha256 IS NOT NULL")
    db.execute(
        "CREATE INDEX frames_blank_waiting ON frames (id)"
        " WHERE status = 'blank' AND published_at IS NULL"
    )


STEPS = [_v1]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the ``frames`` table (component ``frames``)."""
    migrate(db, "frames", STEPS)


@dataclass(frozen=True)
class FrameRecord:
    """One handled frame or clip, as its row records it."""

    root: str
    path: str  # relative to the root
    size: int
    mtime_ns: int
    sha256: str | None
    kind: FileKind
    site: str
    camera: str
    status: FrameStatus
    captured_at: datetime | None = None
    time_source: str | None = None
    detections: int = 0  # boxes above the threshold (faces; animals too in a two-stage setup)
    chips: int = 0  # chip files written
    reason: str | None = None
    detector: str | None = None


@dataclass(frozen=True)
class BlankFrame:
    """A blank frame or clip waiting to be published."""

    id: int
    site: str
    camera: str
    captured_at: datetime | None
    time_source: str | None
    file: str  # relative to its watch root
    kind: FileKind


class FramesTable:
    """Reads and writes the ``frames`` table on one connection."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def seen_path(self, root: str, path: str, size: int, mtime_ns: int) -> bool:
        """This exact file (same path, size and mtime) was handled before."""
        row = self.db.execute(
            "SELECT 1 FROM frames"
            " WHERE root = ? AND path = ? AND size = ? AND mtime_ns = ? LIMIT 1",
            [root, path, size, mtime_ns],
        ).fetchone()
        return row is not None

    def seen_content(self, sha256: str) -> bool:
        """A file with this content was handled before (a rename or a re-copy)."""
        row = self.db.execute(
            "SELECT 1 FROM frames WHERE sha256 = ? AND status != 'duplicate' LIMIT 1", [sha256]
        ).fetchone()
        return row is not None

    def record(self, r: FrameRecord) -> None:
        """Insert the row. Does not commit: call inside a transaction."""
        self.db.execute(
            "INSERT INTO frames (root, path, size, mtime_ns, sha256, kind, site, camera,"
            " captured_at, time_source, status, detections, chips, reason, detector,"
            " processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                r.root, r.path, r.size, r.mtime_ns, r.sha256, r.kind, r.site, r.camera,
                r.captured_at.isoformat() if r.captured_at else None, r.time_source, r.status,
                r.detections, r.chips, r.reason, r.detector, datetime.now(UTC).isoformat(),
            ],
        )  # fmt: skip


def unpublished_blanks(db: sqlite_utils.Database, limit: int = 500) -> list[BlankFrame]:
    """Blank frames and clips not yet published, oldest first (at most `limit`)."""
    if "frames" not in db.table_names():
        return []
    rows = db.execute(
        "SELECT id, site, camera, captured_at, time_source, path, kind FROM frames"
        " WHERE status = 'blank' AND published_at IS NULL ORDER BY id LIMIT ?",
        [limit],
    ).fetchall()
    return [
        BlankFrame(
            id=int(r[0]),
            site=str(r[1]),
            camera=str(r[2]),
            captured_at=datetime.fromisoformat(r[3]) if r[3] else None,
            time_source=r[4],
            file=str(r[5]),
            kind=r[6],
        )
        for r in rows
    ]


def mark_blanks_published(
    db: sqlite_utils.Database, ids: list[int], at: datetime | None = None
) -> int:
    """Mark blank frames published; returns how many changed. Does not commit: call it in
    the transaction that queues their events, so a crash cannot lose or repeat them."""
    when = (at or datetime.now(UTC)).isoformat()
    changed = 0
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join("?" * len(part))
        cursor = db.execute(
            f"UPDATE frames SET published_at = ? WHERE published_at IS NULL AND status = 'blank'"
            f" AND id IN ({marks})",
            [when, *part],
        )
        changed += cursor.rowcount
    return changed


def frames_summary(db: sqlite_utils.Database) -> dict[str, Any]:
    """Frames and clips by status, blanks per camera (site/camera), blanks waiting."""
    if "frames" not in db.table_names():
        return {}
    by_status = db.execute("SELECT status, COUNT(*) FROM frames GROUP BY status").fetchall()
    blanks = db.execute(
        "SELECT site, camera, COUNT(*) FROM frames WHERE status = 'blank'"
        " GROUP BY site, camera ORDER BY site, camera"
    ).fetchall()
    waiting = db.execute(
        "SELECT COUNT(*) FROM frames WHERE status = 'blank' AND published_at IS NULL"
    ).fetchone()[0]
    chips = db.execute("SELECT COALESCE(SUM(chips), 0) FROM frames").fetchone()[0]
    return {
        "by_status": {str(s): int(n) for s, n in by_status},
        "blanks_by_camera": {f"{site}/{camera}": int(n) for site, camera, n in blanks},
        "blanks_unpublished": int(waiting),
        "chips_written": int(chips),
    }
