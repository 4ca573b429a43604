"""The fleet gallery's feed on a box: each change applied once, in order, whatever the order,
repeats and gaps of the messages that carry it; and the station's feed as boxes read it
(built by the real station library, read back in bounded chunks)."""

from __future__ import annotations

import json
import queue
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from bearagent import gallery
from bearagent.encounters import store as encounter_store
from bearagent.fleet import feed_state
from bearagent.fleet.feed import GalleryFeedHandler, gallery_feed_handler
from bearagent.fleet.feed_payloads import feed_payload
from bearagent.fleet.feed_state import applied_position, merged_into
from bearagent.fleet.inbound import StationMessage
from bearagent.gallery.schema import generation
from bearagent.mqtt import MqttConfig, MqttPublisher, outbox
from bearagent.pipeline.store import migrate_all
from bearagent.store import open_database, transaction
from bearagent.wire.payloads import load_schema
from bearstation.database import open_engine
from bearstation.fleet.feed_positions import feed_positions
from bearstation.fleet.feed_tick import FeedTick, chunks
from bearstation.fleet.gallery import (
    create_individual,
    merge_individuals,
    name_individual,
    split_individual,
)
from bearstation.fleet.gallery_ingest import add_box_reference, register_box_individual
from bearstation.fleet.outbound import Outbound
from bearstation.media.records import store_chip
from bearstation.media.store import MediaStore
from bearstation.migrations import upgrade
from bearstation.station import Station
from support.broker import Mosquitto
from support.station_chips import jpeg_chip, upload
from support.station_payloads import MODEL, T0, publish, wait_until
from support.station_world import station_config
from support.subscriber import Subscriber

TOPIC = "bearid-station/boxb/gallery"


def station_script(folder: Path) -> Engine:
    """A station whose fleet gallery went through every kind of change (SQLite)."""
    engine = open_engine(f"sqlite:///{folder / 'station.db'}")
    upgrade(engine)
    store = MediaStore(folder / "media")
    chips = [upload("boxa", f"north/cam01/{i}.jpg", jpeg_chip(i), T0) for i in range(6)]
    with engine.begin() as conn:
        for chip in chips:
            store_chip(conn, store, chip, now=T0)

        def ref(agent: str, individual: str, i: int) -> None:
            add_box_reference(conn, agent, individual, chips[i].sha256, MODEL.sha256, T0)

        def stranger(agent: str, individual: str) -> None:
            register_box_individual(conn, agent, individual, name=None, provisional=True,
                                    seen_at=T0)  # fmt: skip

        stranger("boxa", "unknown-boxa-0001")
        ref("boxa", "unknown-boxa-0001", 0)
        ref("boxa", "unknown-boxa-0001", 1)
        otis = create_individual(conn, "Otis", "anna", station_id="hq")
        ref("boxa", otis, 2)
        name_individual(conn, "unknown-boxa-0001", "Bruno", "anna")
        stranger("boxb", "unknown-boxb-0001")
        ref("boxb", "unknown-boxb-0001", 3)
        merge_individuals(conn, "unknown-boxb-0001", "bruno", "anna")
        stranger("boxa", "unknown-boxa-0002")
        ref("boxa", "unknown-boxa-0002", 4)
        merge_individuals(conn, "unknown-boxa-0002", otis, "anna")
        split_individual(conn, "unknown-boxa-0002", "ben")
        name_individual(conn, otis, "Otis the Elder", "anna")
    return engine


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The station's whole feed as a box receives it (small messages, to have several)."""
    engine = station_script(tmp_path_factory.mktemp("station"))
    with engine.connect() as conn:
        messages = [chunk for chunk, _ in chunks(conn, 0, 600)]
    assert len(messages) > 3 and all(len(json.dumps(m)) < 2000 for m in messages)
    return [change for chunk in messages for change in chunk]


def new_box(path: Path) -> sqlite_utils.Database:
    db = open_database(path)
    migrate_all(db)
    feed_state.ensure_schema(db)  # as the agent's start does (it reports its position)
    return db


def deliver(handler: GalleryFeedHandler, db: sqlite_utils.Database, changes: list[Any]) -> None:
    body = {"changes": changes, "head": max([c["seq"] for c in changes], default=0)}
    handler.handle(StationMessage("gallery", body, TOPIC), db)


def snapshot(db: sqlite_utils.Database) -> dict[str, Any]:
    """What the feed decides: individuals, and where each reference is."""
    people = db.execute("SELECT id, name, kind FROM individuals ORDER BY id").fetchall()
    refs = db.execute(
        "SELECT source, individual_id FROM reference_embeddings ORDER BY source"
    ).fetchall()
    return {"individuals": [tuple(p) for p in people], "references": [tuple(r) for r in refs]}


def reported(db: sqlite_utils.Database) -> list[int]:
    rows = db.execute("SELECT payload FROM outbox WHERE channel = 'feed' ORDER BY id").fetchall()
    return [json.loads(r[0])["applied"] for r in rows]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[GalleryFeedHandler, sqlite_utils.Database]]:
    db = new_box(tmp_path / "boxb.db")
    yield GalleryFeedHandler("boxb", lambda: MODEL.sha256), db
    db.conn.close()


def test_the_whole_feed_in_order_builds_the_fleet_gallery(
    box: tuple[GalleryFeedHandler, sqlite_utils.Database], wire: list[dict[str, Any]]
) -> None:
    handler, db = box
    deliver(handler, db, wire)
    assert applied_position(db) == len(wire)
    assert snapshot(db)["individuals"] == [
        ("bear-hq-0001", "Otis the Elder", "known"),
        ("unknown-boxa-0001", "Bruno", "known"),
        ("unknown-boxa-0002", None, "provisional"),
    ]
    owners = [owner for _, owner in snapshot(db)["references"]]
    assert sorted(owners) == ["bear-hq-0001", "unknown-boxa-0001", "unknown-boxa-0001",
                              "unknown-boxa-0001", "unknown-boxa-0002"]  # fmt: skip
    assert merged_into(db, "unknown-boxb-0001") == "unknown-boxa-0001"
    assert reported(db) == [len(wire)]
    (payload,) = db.execute("SELECT payload FROM outbox WHERE channel = 'feed'").fetchone()
    validator = jsonschema.Draft202012Validator(load_schema())
    validator.validate(json.loads(payload))  # with the outbox's stream and seq
    before = generation(db)
    deliver(handler, db, wire)  # a repeat changes nothing and asks for nothing
    assert (generation(db), reported(db)) == (before, [len(wire)])


def test_a_gap_is_asked_for_again_and_nothing_after_it_is_applied(
    box: tuple[GalleryFeedHandler, sqlite_utils.Database], wire: list[dict[str, Any]]
) -> None:
    handler, db = box
    deliver(handler, db, wire[:3])
    deliver(handler, db, wire[5:8])  # 4 and 5 are missing
    assert applied_position(db) == 3
    assert reported(db) == [3, 3]  # the second report asks for what follows 3 again
    deliver(handler, db, wire[3:])
    assert applied_position(db) == len(wire)


def test_a_merge_waits_while_this_box_has_the_individual_in_an_open_encounter(
    box: tuple[GalleryFeedHandler, sqlite_utils.Database], wire: list[dict[str, Any]]
) -> None:
    handler, db = box
    mine = gallery.create_provisional(db, np.ones((1, 8), np.float32) / 8**0.5, MODEL.sha256,
                                      "north/cam02/x.jpg", agent_id="boxb")  # fmt: skip
    assert mine == "unknown-boxb-0001"  # the feed's merge of it is in the wire
    decision = {"status": "unknown", "individual_id": mine, "score": {"value": 0.0}}
    row = encounter_store.EncounterRow("enc-b1", "cam02", "north", T0, T0, 1, False, None,
                                       decision, "{}")  # fmt: skip
    with transaction(db):
        encounter_store.save(db, row)
    merge = next(c["seq"] for c in wire if c["kind"] == "merge")
    deliver(handler, db, wire)
    assert applied_position(db) == merge - 1
    assert reported(db) == [merge - 1]
    assert gallery.get_individual(db, mine).references == 2  # its own, and the fleet's chip
    with transaction(db):
        encounter_store.save(db, row.__class__(**{**row.__dict__, "ended": True}))
    deliver(handler, db, wire)  # the station sends it again: now it goes through
    assert applied_position(db) == len(wire)
    assert db.execute("SELECT individual_id FROM encounters").fetchone()[0] == "unknown-boxa-0001"
    with pytest.raises(gallery.UnknownIndividual):
        gallery.get_individual(db, mine)


def test_references_only_for_this_box_s_model_and_chips_it_does_not_have(
    tmp_path: Path, wire: list[dict[str, Any]]
) -> None:
    other_model = new_box(tmp_path / "other.db")
    deliver(GalleryFeedHandler("boxb", lambda: "f" * 64), other_model, wire)
    assert snapshot(other_model)["references"] == []  # other model: individuals only
    assert len(snapshot(other_model)["individuals"]) == 3
    own = new_box(tmp_path / "own.db")  # box A processed the first chip itself
    first = next(c for c in wire if c["kind"] == "references")["references"][0]["sha256"]
    own.execute(
        "INSERT INTO files (root, path, size, mtime_ns, sha256, status, processed_at)"
        " VALUES ('/traps', 'north/cam01/0.jpg', 1, 1, ?, 'processed', '2026-06-01')",
        [first],
    )
    deliver(GalleryFeedHandler("boxa", lambda: MODEL.sha256, max_references=2), own, wire)
    sources = [s for s, _ in snapshot(own)["references"]]
    assert f"fleet:{first}" not in sources
    counts = own.execute(
        "SELECT individual_id, count(*) FROM reference_embeddings GROUP BY individual_id"
    ).fetchall()
    assert max(n for _, n in counts) <= 2  # max_references


def test_a_fleet_name_this_box_uses_for_another_individual_is_parked(
    box: tuple[GalleryFeedHandler, sqlite_utils.Database], wire: list[dict[str, Any]]
) -> None:
    handler, db = box
    mine = gallery.create_known(db, "bruno", agent_id="boxb")
    deliver(handler, db, wire)
    assert gallery.get_individual(db, "Bruno").id == "unknown-boxa-0001"
    assert gallery.get_individual(db, mine).name == "bruno (bear-boxb-0001)"


def test_a_box_s_own_new_bear_coming_back_changes_nothing(
    tmp_path: Path, wire: list[dict[str, Any]]
) -> None:
    db = new_box(tmp_path / "boxa.db")
    made = gallery.create_provisional(db, np.ones((1, 8), np.float32) / 8**0.5, MODEL.sha256,
                                      "north/cam01/s.jpg", agent_id="boxa")  # fmt: skip
    before = generation(db)
    deliver(GalleryFeedHandler("boxa", lambda: MODEL.sha256), db, wire[:1])
    assert (made, applied_position(db), generation(db)) == ("unknown-boxa-0001", 1, before)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_order_repeats_and_losses_end_in_the_same_gallery(
    data: st.DataObject, wire: list[dict[str, Any]]
) -> None:
    n = len(wire)
    messages = data.draw(
        st.lists(st.lists(st.integers(0, n - 1), min_size=1, max_size=6).map(sorted), max_size=12),
        label="messages (indexes of changes; repeats allowed, some never sent)",
    )
    with tempfile.TemporaryDirectory() as folder:
        reference = new_box(Path(folder) / "ref.db")
        handler = GalleryFeedHandler("boxc", lambda: MODEL.sha256)
        deliver(handler, reference, wire)
        db = new_box(Path(folder) / "box.db")
        expected = 0
        for picked in messages:
            deliver(handler, db, [wire[i] for i in picked])
            for i in picked:  # the model: only the next change moves the position
                if i == expected:
                    expected += 1
                elif i > expected:
                    break
            assert applied_position(db) == expected
        while applied_position(db) < n:  # the station sends what follows the position
            deliver(handler, db, wire[applied_position(db) :][:4])
        assert snapshot(db) == snapshot(reference)
        assert reported(db)[-1] == n


# --- the station's tick, over a real broker -------------------------------------------------


def positions(engine: Engine) -> dict[str, tuple[int, int]]:
    with engine.connect() as conn:
        return {p.agent_id: (p.applied, p.sent_through) for p in feed_positions(conn)}


def gallery_messages(sub: Subscriber, timeout: float = 0.5) -> list[tuple[int, list[int]]]:
    """(size, seqs) of each ``gallery`` message that arrived by now."""
    found = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = sub.messages.get(timeout=0.05)
        except queue.Empty:
            continue
        if message.channel == "gallery":
            found.append((len(message.payload), [c["seq"] for c in message.json()["changes"]]))
    return found


@pytest.fixture
def station(broker: Mosquitto, tmp_path: Path) -> Iterator[Station]:
    """The real station on `broker` with no ticks of its own (the tests run the feed's)."""
    station = Station(station_config(f"sqlite:///{tmp_path / 'station.db'}", broker), ticks=[])
    station.start()
    try:
        assert station.wait_connected(15), "the station did not connect"
        yield station
    finally:
        station.stop()


def test_the_station_catches_a_box_up_in_bounded_messages(
    broker: Mosquitto, station: Station, tmp_path: Path
) -> None:
    assert station.engine is not None
    engine = station.engine
    with engine.begin() as conn:
        made = [
            create_individual(conn, f"Bear {i:03d}", "anna", station_id="hq") for i in range(300)
        ]
    database = tmp_path / "boxz.db"
    new_box(database).conn.close()
    handler = gallery_feed_handler(database, "boxz", lambda: MODEL.sha256)  # reports 0
    box = MqttPublisher(
        MqttConfig(host=broker.host, port=broker.port, reconnect_min_s=0.2, reconnect_max_s=1.0),
        agent_id="boxz", database=database, inbound={"gallery": handler},
    )  # fmt: skip
    sub = Subscriber(broker, "bearid-station/boxz/gallery")
    sub.connect()
    box.start()
    try:
        wait_until(lambda: "boxz" in positions(engine), 20, "box Z's position at the station")
        tick = FeedTick(resend_s=60, max_message_bytes=4096, max_bytes_per_round=12_000)
        outbound = Outbound("hq", station.links, "bearid-station/")
        rounds, seen = 0, []
        while positions(engine)["boxz"][0] < 300 and rounds < 60:
            tick.tick(engine, outbound)
            sent = gallery_messages(sub)
            assert sum(size for size, _ in sent) < 12_000 + 4096 + 400 * len(sent)
            seen += sent
            rounds += 1
        assert positions(engine)["boxz"] == (300, 300)
        assert rounds >= 3  # 300 changes of ~110 bytes take several rounds
        assert all(size < 4096 + 400 for size, _ in seen)  # the envelope adds a little
        seqs = [s for _, chunk in seen for s in chunk]
        assert seqs == sorted(seqs) and set(seqs) == set(range(1, 301))
        db = open_database(database)
        assert gallery.get_individual(db, made[-1]).name == "Bear 299"
        db.conn.close()
    finally:
        box.stop()
        sub.close()


def test_unanswered_sends_go_again_backing_off_and_wait_while_the_box_is_offline(
    broker: Mosquitto, station: Station
) -> None:
    assert station.engine is not None
    engine = station.engine
    with engine.begin() as conn:
        create_individual(conn, "Otis", "anna", station_id="hq")
    stream = str(uuid.uuid4())
    report = outbox.stamped(feed_payload("ghost", 0), stream, 1)
    publish(broker, [("bearid/ghost/status", "online"), ("bearid/ghost/feed", report)])
    wait_until(lambda: "ghost" in positions(engine), 20, "the ghost box's position")
    sub = Subscriber(broker, "bearid-station/ghost/gallery")
    sub.connect()
    try:
        tick = FeedTick(resend_s=0.6, max_resend_s=5.0)
        outbound = Outbound("hq", station.links, "bearid-station/")
        sends: list[float] = []
        start = time.monotonic()
        while time.monotonic() - start < 4.0:
            tick.tick(engine, outbound)
            sends += [time.monotonic() - start for _ in gallery_messages(sub, 0.1)]
        # sent at once, then again after 0.6 s, 1.2 s more, 2.4 s more (no answer came)
        assert len(sends) == 3, sends
        assert 0.5 < sends[1] - sends[0] < 1.2 and 1.1 < sends[2] - sends[1] < 2.0
        publish(broker, [("bearid/ghost/status", "offline")])
        wait_until(lambda: not _online(engine, "ghost"), 10, "the ghost box offline")
        with engine.begin() as conn:
            create_individual(conn, "Grazer", "anna", station_id="hq")
        for _ in range(5):
            tick.tick(engine, outbound)
        assert gallery_messages(sub) == []  # nothing for a box that is away
        publish(broker, [("bearid/ghost/status", "online")])
        wait_until(lambda: _online(engine, "ghost"), 10, "the ghost box back online")
        tick.tick(engine, outbound)
        assert [seqs for _, seqs in gallery_messages(sub)] == [[1, 2]]  # everything, at once
    finally:
        sub.close()


def _online(engine: Engine, agent_id: str) -> bool:
    with engine.connect() as conn:
        return next(p.online for p in feed_positions(conn) if p.agent_id == agent_id)
