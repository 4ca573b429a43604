"""The fleet gallery's feed on a box: each change applied once, in order, whatever the order,
repeats and gaps of the messages that carry it; and the station's feed as boxes read it
(built by the real station library, read back in bounded chunks)."""

from __future__ import annotations

import json
import tempfile
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
from bearagent.fleet.feed import GalleryFeedHandler
from bearagent.fleet import feed_state
from bearagent.fleet.feed_state import applied_position, merged_into
from bearagent.fleet.inbound import StationMessage
from bearagent.gallery.schema import generation
from bearagent.pipeline.store import migrate_all
from bearagent.store import open_database, transaction
from bearagent.wire.payloads import load_schema
from bearstation.database import open_engine
from bearstation.fleet.feed_tick import chunks
from bearstation.fleet.gallery import (
    create_individual,
    merge_individuals,
    name_individual,
    split_individual,
)
from bearstation.fleet.gallery_ingest import add_box_reference, register_box_individual
from bearstation.media.records import store_chip
from bearstation.media.store import MediaStore
from bearstation.migrations import upgrade
from support.station_chips import jpeg_chip, upload
from support.station_payloads import MODEL, T0

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
