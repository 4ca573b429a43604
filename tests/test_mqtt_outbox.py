"""The SQLite outbox: enqueue joins the caller's transaction; rows leave only by delete."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bearagent.mqtt import outbox
from bearagent.store import open_database, schema_version, transaction


def test_schema_is_versioned_and_migration_is_idempotent(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    outbox.ensure_schema(db)
    assert schema_version(db, "outbox") == len(outbox.STEPS) == 1
    assert outbox.size(db) == 0


def test_rows_come_back_in_id_order_with_their_fields(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    with transaction(db):
        ids = [outbox.enqueue(db, "bearid/a/sighting", f'{{"n":{n}}}') for n in range(5)]
        outbox.enqueue(db, "bearid/a/status", "online", retain=True, event_id="e-1")
    rows = outbox.pending(db, 10)
    assert [r.id for r in rows[:5]] == ids == sorted(ids)
    assert [r.payload for r in rows[:5]] == [f'{{"n":{n}}}' for n in range(5)]
    assert (rows[5].topic, rows[5].retain, rows[5].event_id) == ("bearid/a/status", True, "e-1")
    assert [r.id for r in outbox.pending(db, 2, after_id=ids[1])] == ids[2:4]


def test_enqueue_does_not_commit_so_it_rolls_back_with_the_sighting(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    db = open_database(path)
    outbox.ensure_schema(db)
    db.execute("CREATE TABLE sightings (id INTEGER PRIMARY KEY, individual TEXT)")
    with pytest.raises(RuntimeError, match="crash before commit"), transaction(db):
        db.execute("INSERT INTO sightings (individual) VALUES ('bear-07')")
        outbox.enqueue(db, "bearid/a/sighting", "{}")
        raise RuntimeError("crash before commit")
    assert outbox.size(db) == 0
    # Without a commit, another connection sees nothing either.
    outbox.enqueue(db, "bearid/a/sighting", "{}")
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    db.conn.commit()
    assert other.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
    other.close()


def test_delete_removes_only_the_given_rows_and_ids_never_repeat(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    with transaction(db):
        ids = [outbox.enqueue(db, "t/sighting", str(n)) for n in range(1200)]
    with transaction(db):
        assert outbox.delete(db, ids[:1100]) == 1100  # more than one chunk
    assert [r.id for r in outbox.pending(db, 500)] == ids[1100:]
    with transaction(db):
        outbox.delete(db, ids[1100:])
        again = outbox.enqueue(db, "t/sighting", "late")
    assert again > ids[-1] and outbox.size(db) == 1


def test_wildcard_topics_cannot_be_enqueued(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    with pytest.raises(ValueError, match="not a topic one can publish to"):
        outbox.enqueue(db, "bearid/+/sighting", "{}")
