"""The agent's SQLite store: WAL, per-component migrations, errors a user can act on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from bearagent.ledger import FileIdentity, Ledger, ensure_schema
from bearagent.store import (
    DatabaseLocked,
    SchemaTooNew,
    migrate,
    open_database,
    schema_version,
    transaction,
)


def _t1(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)")


def _t2(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE things ADD COLUMN colour TEXT")


def test_wal_and_migrations_apply_once_in_order(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert migrate(db, "things", [_t1]) == 1
    assert migrate(db, "things", [_t1, _t2]) == 2
    assert migrate(db, "things", [_t1, _t2]) == 2  # nothing left to do
    assert schema_version(db, "things") == 2 and schema_version(db, "other") == 0
    assert [c.name for c in db["things"].columns] == ["id", "name", "colour"]


def test_a_failed_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")

    def broken(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half (id INTEGER)")
        db.execute("THIS IS NOT SQL")

    with pytest.raises(Exception, match="syntax error"):
        migrate(db, "things", [_t1, broken])
    assert schema_version(db, "things") == 1 and "half" not in db.table_names()


def test_a_database_from_a_newer_bearid_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    migrate(open_database(path), "things", [_t1, _t2])
    with pytest.raises(SchemaTooNew) as e:
        migrate(open_database(path), "things", [_t1])
    assert str(e.value) == (
        f"database {path} has things schema version 2, but this bearid knows only up to 1: "
        "upgrade bearid, or restore a backup made with this release"
    )


def test_a_lock_held_by_another_process_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = open_database(path)
    migrate(db, "things", [_t1])
    other = sqlite3.connect(path, timeout=0.1)
    other.execute("BEGIN EXCLUSIVE")
    db.conn.execute("PRAGMA busy_timeout = 100")
    with pytest.raises(DatabaseLocked, match=r"is locked by another process"), transaction(db):
        pass
    other.rollback()
    with transaction(db):
        db.execute("INSERT INTO things (name) VALUES ('ok')")
    assert db["things"].count == 1


def test_ledger_knows_files_by_path_and_by_content(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")
    ensure_schema(db)
    ledger = Ledger(db)
    ident = FileIdentity("/traps", "north/cam01/a.jpg", 10, 123, "ab" * 32)
    with transaction(db):
        ledger.record(ident, "processed")
    assert ledger.seen_path("/traps", "north/cam01/a.jpg", 10, 123)
    assert not ledger.seen_path("/traps", "north/cam01/a.jpg", 10, 124)
    assert ledger.seen_content("ab" * 32) and not ledger.seen_content("cd" * 32)
    assert Ledger(open_database(tmp_path / "state.db")).counts() == {"processed": 1}
