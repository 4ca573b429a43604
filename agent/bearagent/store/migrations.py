"""Versioned schema migrations, one independent list per component.

Each component that keeps tables (gallery, ledger, outbox, ...) owns an ordered
list of migration steps. `migrate` applies the ones a database has not seen yet,
each in its own transaction, and records the component's version in
``schema_versions``. A database written by a newer bearid is refused, not
silently downgraded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import sqlite_utils

from bearagent.store.database import StoreError, _db_path, sqlite_error

Migration = Callable[[sqlite_utils.Database], None]


class SchemaTooNew(StoreError):
    """The database was written by a newer bearid than this one."""


def _ensure_versions_table(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions ("
        " component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
    )


def schema_version(db: sqlite_utils.Database, component: str) -> int:
    """The component's schema version in `db` (0 when it has none yet)."""
    _ensure_versions_table(db)
    row = db.execute(
        "SELECT version FROM schema_versions WHERE component = ?", [component]
    ).fetchone()
    return int(row[0]) if row else 0


def migrate(db: sqlite_utils.Database, component: str, steps: Sequence[Migration]) -> int:
    """Bring `component`'s tables up to ``len(steps)``; return the version reached."""
    current = schema_version(db, component)
    if current > len(steps):
        raise SchemaTooNew(
            f"database {_db_path(db)} has {component} schema version {current}, but this bearid "
            f"knows only up to {len(steps)}: upgrade bearid, or restore a backup made with this "
            "release"
        )
    for version in range(current + 1, len(steps) + 1):
        conn = db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            steps[version - 1](db)
            conn.execute(
                "INSERT INTO schema_versions (component, version, applied_at) VALUES (?, ?, ?) "
                "ON CONFLICT(component) DO UPDATE SET version = excluded.version, "
                "applied_at = excluded.applied_at",
                [component, version, datetime.now(UTC).isoformat()],
            )
            conn.commit()
        except sqlite3.Error as e:
            conn.rollback()
            raise sqlite_error(e, _db_path(db)) from e
        except BaseException:
            conn.rollback()
            raise
    return len(steps)
