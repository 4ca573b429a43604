"""The SQLite outbox: rows name a channel and carry the box's stream and sequence number,
enqueue joins the caller's transaction, published rows stay until the station's receipt
(or the retention limit), and a version-1 outbox (topics) keeps its rows when upgraded."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from bearagent.mqtt import outbox
from bearagent.store import migrate, open_database, schema_version, transaction


def test_schema_is_versioned_and_migration_is_idempotent(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    outbox.ensure_schema(db)
    assert schema_version(db, "outbox") == len(outbox.STEPS) == 3
    columns = [row[1] for row in db.execute("PRAGMA table_info(outbox)").fetchall()]
    assert columns == [
        "id", "payload", "retain", "event_id", "created_at", "channel", "published_at", "bytes"
    ]  # fmt: skip
    assert outbox.size(db) == 0
    assert len(outbox.stream(db)) == 36  # a UUID, made with the table


def test_rows_come_back_in_id_order_with_their_fields(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    with transaction(db):
        ids = [outbox.enqueue(db, "sighting", f'{{"n":{n}}}') for n in range(5)]
        outbox.enqueue(db, "correction", "{}", retain=True, event_id="e-1")
    rows = outbox.pending(db, 10)
    stream = outbox.stream(db)
    assert [r.id for r in rows[:5]] == ids == sorted(ids)
    assert [json.loads(r.payload) for r in rows[:5]] == [
        {"stream": stream, "seq": i, "n": n} for i, n in zip(ids, range(5), strict=True)
    ]
    assert json.loads(rows[5].payload) == {"stream": stream, "seq": rows[5].id}
    assert {r.channel for r in rows[:5]} == {"sighting"}
    assert (rows[5].channel, rows[5].retain, rows[5].event_id) == ("correction", True, "e-1")
    assert [r.id for r in outbox.pending(db, 2, after_id=ids[1])] == ids[2:4]
    assert [r.id for r in outbox.rows(db, [ids[3], ids[1], 10_000])] == [ids[1], ids[3]]


def test_enqueue_does_not_commit_so_it_rolls_back_with_the_sighting(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    db = open_database(path)
    outbox.ensure_schema(db)
    db.execute("CREATE TABLE sightings (id INTEGER PRIMARY KEY, individual TEXT)")
    with pytest.raises(RuntimeError, match="crash before commit"), transaction(db):
        db.execute("INSERT INTO sightings (individual) VALUES ('bear-07')")
        outbox.enqueue(db, "sighting", "{}")
        raise RuntimeError("crash before commit")
    assert outbox.size(db) == 0
    # Without a commit, another connection sees nothing either.
    outbox.enqueue(db, "unknown", "{}")
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    db.conn.commit()
    assert other.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
    other.close()


def test_delete_removes_only_the_given_rows_and_ids_never_repeat(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    with transaction(db):
        ids = [outbox.enqueue(db, "sighting", str(n)) for n in range(1200)]
    with transaction(db):
        assert outbox.delete(db, ids[:1100]) == 1100  # more than one chunk
    assert [r.id for r in outbox.pending(db, 500)] == ids[1100:]
    with transaction(db):
        outbox.delete(db, ids[1100:])
        again = outbox.enqueue(db, "sighting", "late")
    assert again > ids[-1] and outbox.size(db) == 1


def test_an_unknown_channel_is_refused_with_its_name(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    for wrong in ("bearid/den-01/sighting", "status", "Sighting", ""):
        with pytest.raises(ValueError) as caught:
            outbox.enqueue(db, wrong, "{}")  # type: ignore[arg-type]
        assert str(caught.value) == (
            f"unknown outbox channel {wrong!r}: use one of sighting, unknown, correction, stats, "
            "chip, blank, feed, model, fetch (the topic is built from it by Topics.of)"
        )
    assert outbox.size(db) == 0


def test_a_version_1_outbox_keeps_its_rows_as_channels(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database from before channels: its undelivered rows survive the upgrade, in order,
    with their channel taken from the topic; ids go on rising after it."""
    db = open_database(tmp_path / "agent.db")
    migrate(db, outbox.COMPONENT, outbox.STEPS[:1])
    old = [
        ("bearid/den-01/sighting", '{"n":1}', 0, "e-1"),
        ("site7/bears/unknown", '{"n":2}', 0, "e-2"),
        ("bearid/den-01/status", "online", 1, None),  # no agent wrote this: dropped, logged
        ("bearid/den-01/sighting", '{"n":3}', 0, "e-3"),
    ]
    with transaction(db):
        db.conn.executemany(
            "INSERT INTO outbox (topic, payload, retain, event_id, created_at) "
            "VALUES (?, ?, ?, ?, '2026-05-14T04:15:03+00:00')",
            old,
        )
        db.execute("DELETE FROM outbox WHERE event_id = 'e-3'")  # delivered before the upgrade
        db.conn.execute(
            "INSERT INTO outbox (topic, payload, retain, event_id, created_at) "
            "VALUES ('bearid/den-01/sighting', '{\"n\":4}', 0, 'e-4', '2026-05-14T04:15:04Z')"
        )
    with caplog.at_level(logging.WARNING, logger="bearagent.mqtt.outbox"):
        outbox.ensure_schema(db)
    rows = outbox.pending(db, 10)
    assert [(r.channel, r.payload, r.event_id) for r in rows] == [
        ("sighting", '{"n":1}', "e-1"),
        ("unknown", '{"n":2}', "e-2"),
        ("sighting", '{"n":4}', "e-4"),
    ]
    assert caplog.messages == [
        "outbox: dropping 1 row(s) whose topic names no channel (bearid/den-01/status)"
    ]
    with transaction(db):
        newer = outbox.enqueue(db, "sighting", "{}")
    assert newer == 6  # after the 5 ids the old table handed out, the deleted one too


def test_published_rows_stay_until_the_station_confirms_them(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    with transaction(db):
        ids = [outbox.enqueue(db, "sighting", "{}") for _ in range(6)]
        outbox.mark_published(db, ids[:4])
    state = outbox.stream_state(db)
    assert (state.head, state.waiting, state.unconfirmed) == (ids[-1], 2, 4)
    assert [r.id for r in outbox.pending(db, 10)] == ids[4:]  # only the unpublished go out
    with transaction(db):
        assert outbox.confirm(db, "another-stream", ids[-1]) == 0  # not ours: nothing
        assert outbox.confirm(db, state.stream, ids[2]) == 3  # the 4th waits for its receipt
    with transaction(db):  # the station lost the 4th: it is published again
        assert outbox.resend(db, state.stream, [(ids[0], ids[3])]) == 1
    assert [r.id for r in outbox.pending(db, 10)] == ids[3:]
    assert outbox.stream_state(db).confirmed_through == ids[2]


def test_the_retention_limit_drops_only_published_rows_oldest_first(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    with transaction(db):
        ids = [outbox.enqueue(db, "sighting", '{"x":"' + "a" * 100 + '"}') for _ in range(5)]
        outbox.mark_published(db, ids[:4])
    one = db.execute("SELECT bytes FROM outbox WHERE id = ?", [ids[0]]).fetchone()[0]
    with transaction(db):
        gone = outbox.expire(db, max_age_s=3600, max_bytes=2 * one)
    assert (gone.rows, gone.through) == (2, ids[1])
    assert [r[0] for r in db.execute("SELECT id FROM outbox ORDER BY id")] == ids[2:]
    with transaction(db):
        gone = outbox.expire(db, max_age_s=0, max_bytes=10**9)  # everything published is old
    assert (gone.rows, gone.through) == (2, ids[3]) and outbox.expired_through(db) == ids[3]
    assert [r.id for r in outbox.pending(db, 10)] == [ids[4]]  # never published: never dropped


def test_the_stamp_goes_first_and_leaves_other_text_alone() -> None:
    assert outbox.stamped('{"a":1}', "s", 7) == '{"stream":"s","seq":7,"a":1}'
    assert outbox.stamped("{}", "s", 7) == '{"stream":"s","seq":7}'
    assert outbox.stamped("online", "s", 7) == "online"
