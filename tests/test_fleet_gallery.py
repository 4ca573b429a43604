"""Fleet-unique ids on the box, and the station's fleet gallery (on SQLite and PostgreSQL):
individuals, names, merges and splits, reference chips, what boxes report, the feed."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlite_utils
from sqlalchemy import Engine, select, update

from bearagent import gallery
from bearagent.encounters import store as encounter_store
from bearagent.gallery.fleet_ids import adopt_fleet_ids, fleet_id_of
from bearagent.gallery.schema import generation
from bearagent.pipeline.store import migrate_all
from bearagent.review import schema as review_schema
from bearagent.store import open_database, transaction
from bearstation.database import open_engine
from bearstation.fleet.feed import append_change, feed_head
from bearstation.fleet.gallery import (
    create_individual,
    feed_since,
    fleet_references,
    get_fleet_individual,
    list_fleet_individuals,
    merge_individuals,
    name_individual,
    split_individual,
)
from bearstation.fleet.gallery_errors import (
    FleetMergeRefused,
    FleetNameInvalid,
    FleetNameTaken,
    UnknownFleetIndividual,
)
from bearstation.fleet.gallery_ingest import (
    add_box_reference,
    apply_box_correction,
    register_box_individual,
)
from bearstation.fleet.reconcile import adopt_station_individuals
from bearstation.identities import fleet_bears, link, unlink
from bearstation.ingest.registry import individual_ref, touch_box
from bearstation.media.records import store_chip
from bearstation.media.store import MediaStore
from bearstation.migrations import upgrade
from bearstation.tables import fleet_feed, individuals, links
from support.station_chips import jpeg_chip, upload
from support.station_payloads import MODEL, T0

SHA = "c" * 64


def unit(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


# --- the box: fleet-unique ids -------------------------------------------------------------


def legacy_box(path: Path) -> sqlite_utils.Database:
    """A box gallery as older agents left it: bear-NNNN and unknown-NNNN everywhere."""
    db = open_database(path)
    migrate_all(db)
    review_schema.ensure_schema(db)
    otis = gallery.create_known(db, "Otis")  # no agent id: the box-local bear-0001
    gallery.add_references(db, otis, unit(2), SHA, ["/t/o1.jpg", "/t/o2.jpg"])
    stranger = gallery.create_provisional(db, unit(1, 1), SHA, "/t/s.jpg")  # unknown-0001
    decision = {
        "status": "known", "individual_id": otis, "name": "Otis", "provisional": False,
        "score": {"name": "margin", "value": 0.4},
        "top_k": [{"individual_id": otis, "similarity": 0.9},
                  {"individual_id": stranger, "similarity": 0.2}],
    }  # fmt: skip
    with transaction(db):
        db.execute(
            "INSERT INTO sightings (file, processed_at, individual_id, encounter_id,"
            " model_sha256) VALUES ('north/cam01/a.jpg', ?, ?, 'enc-1', ?)",
            [T0.isoformat(), otis, SHA],
        )
        encounter_store.save(db, encounter_store.EncounterRow(
            "enc-1", "cam01", "north", T0, T0, 1, True, None, decision,
            json.dumps({"decision": decision}, separators=(",", ":")),
        ))  # fmt: skip
        db.execute(
            "INSERT INTO review_actions (at, by, action, individual_id, summary, before, after,"
            " files, inverse, event_id) VALUES (?, 'Anna', 'rename', ?, 'named', ?, ?, '[]', ?,"
            " 'e1')",
            [T0.isoformat(), otis,
             json.dumps({"status": "unknown", "individual_id": stranger, "name": None}),
             json.dumps({"status": "known", "individual_id": otis, "name": "Otis"}),
             json.dumps({"created": [otis], "renamed": [[otis, None, "Otis"]]})],
        )  # fmt: skip
    return db


def test_a_box_gives_its_local_ids_its_agent_id_everywhere_they_are_written(
    tmp_path: Path,
) -> None:
    db = legacy_box(tmp_path / "box.db")
    before = generation(db)
    renames = adopt_fleet_ids(db, "den-01")
    assert renames == {"bear-0001": "bear-den-01-0001", "unknown-0001": "unknown-den-01-0001"}
    assert generation(db) != before  # the running agent's index reloads
    assert adopt_fleet_ids(db, "den-01") == {}  # done once
    otis = gallery.get_individual(db, "otis")
    assert (otis.id, otis.name, otis.references, otis.sightings) == ("bear-den-01-0001", "Otis",
                                                                      2, 1)  # fmt: skip
    assert gallery.get_individual(db, "unknown-den-01-0001").references == 1
    (row,) = db.execute("SELECT individual_id, decision, last_event FROM encounters").fetchall()
    assert row[0] == "bear-den-01-0001"
    decision = json.loads(row[1])
    assert decision["individual_id"] == "bear-den-01-0001"
    assert [c["individual_id"] for c in decision["top_k"]] == [
        "bear-den-01-0001", "unknown-den-01-0001",
    ]  # fmt: skip
    assert '"individual_id":"bear-den-01-0001"' in row[2]  # the payload stays compact JSON
    (audit,) = db.execute(
        "SELECT individual_id, before, after, inverse FROM review_actions"
    ).fetchall()
    assert audit[0] == "bear-den-01-0001"
    assert json.loads(audit[1])["individual_id"] == "unknown-den-01-0001"
    assert json.loads(audit[2]) == {"status": "known", "individual_id": "bear-den-01-0001",
                                    "name": "Otis"}  # fmt: skip
    assert json.loads(audit[3]) == {"created": ["bear-den-01-0001"],
                                    "renamed": [["bear-den-01-0001", None, "Otis"]]}  # fmt: skip
    # New ids carry the agent id and never take a number already given out.
    assert gallery.create_known(db, "Grazer", agent_id="den-01") == "bear-den-01-0002"
    assert gallery.create_known(db, "Holly") == "bear-0002"  # a bare call: box-local again
    assert adopt_fleet_ids(db, "den-01") == {"bear-0002": "bear-den-01-0003"}


def test_promote_and_import_mint_ids_with_the_agent_id(tmp_path: Path) -> None:
    db = gallery.open_gallery(tmp_path / "a.db")
    stranger = gallery.create_provisional(db, unit(2), SHA, "/t/a.jpg", agent_id="den-01")
    named = gallery.promote(db, stranger, "Bruno", agent_id="den-01")
    assert (stranger, named.id) == ("unknown-den-01-0001", "bear-den-01-0001")
    gallery.export_gallery(db, tmp_path / "a.json")
    other = gallery.open_gallery(tmp_path / "b.db")
    gallery.create_known(other, "Otis", agent_id="den-02")
    gallery.create_known(other, "Grazer", agent_id="den-02")
    other.execute("UPDATE individuals SET id = 'bear-den-01-0001' WHERE name = 'Grazer'")
    report = gallery.import_gallery(other, tmp_path / "a.json", agent_id="den-02")
    assert report.created == {"bear-den-01-0001": "bear-den-02-0003"}  # 0002 was given out


def test_the_fleet_id_of_an_event_sent_before_a_box_upgraded() -> None:
    assert fleet_id_of("den-01", "bear-0004") == "bear-den-01-0004"
    assert fleet_id_of("den-01", "unknown-0007") == "unknown-den-01-0007"
    assert fleet_id_of("den-01", "bear-den-02-0004") == "bear-den-02-0004"
    assert fleet_id_of("den-01", "unknown-den-01-0007") == "unknown-den-01-0007"


# --- the station: the fleet gallery ----------------------------------------------------------


@pytest.fixture
def engine(station_db: str) -> Engine:
    engine = open_engine(station_db)
    upgrade(engine)
    return engine


def kinds(engine: Engine, after: int = 0) -> list[tuple[int, str, dict[str, object]]]:
    with engine.connect() as conn:
        return [(c.seq, c.kind, c.body) for c in feed_since(conn, after, 1000)]


def test_create_name_merge_and_split_each_write_their_feed_entries(engine: Engine) -> None:
    with engine.begin() as conn:
        stranger = register_box_individual(conn, "den-01", "unknown-den-01-0001", name=None,
                                           provisional=True, seen_at=T0)  # fmt: skip
        otis = create_individual(conn, "Otis", "anna", station_id="hq")
        second = create_individual(conn, "Grazer", "anna")  # the id stored by the tick, else
    assert (stranger, otis, second) == ("unknown-den-01-0001", "bear-hq-0001", "bear-station-0002")
    with engine.begin() as conn:
        named = name_individual(conn, stranger, "Bruno", "anna")
    assert (named.id, named.name, named.provisional) == ("unknown-den-01-0001", "Bruno", False)
    with engine.begin() as conn:
        merged = merge_individuals(conn, "bruno", "OTIS", "anna")
        assert get_fleet_individual(conn, stranger).merged_into == otis
        assert [i.id for i in list_fleet_individuals(conn)] == [second, otis]
        assert len(list_fleet_individuals(conn, include_merged=True)) == 3
    assert (merged.id, merged.name) == (otis, "Otis")
    with engine.begin() as conn:
        back = split_individual(conn, stranger, "ben")
    assert (back.name, back.merged_into) == ("Bruno", None)  # its name was still free
    assert kinds(engine) == [
        (1, "individual", {"individual_id": stranger, "name": None, "provisional": True,
                           "origin": "den-01"}),
        (2, "individual", {"individual_id": otis, "name": "Otis", "provisional": False,
                           "origin": "hq"}),
        (3, "individual", {"individual_id": second, "name": "Grazer", "provisional": False,
                           "origin": "station"}),
        (4, "individual", {"individual_id": stranger, "name": "Bruno", "provisional": False,
                           "origin": "den-01"}),
        (5, "merge", {"from": stranger, "into": otis, "name": "Otis", "provisional": False}),
        (6, "split", {"individual_id": stranger, "from": otis, "name": "Bruno",
                      "provisional": False, "by": "ben"}),
    ]  # fmt: skip


def test_refusals_say_what_is_wrong_and_what_to_do(engine: Engine) -> None:
    with engine.begin() as conn:
        otis = create_individual(conn, "Otis", "anna", station_id="hq")
        create_individual(conn, "Grazer", "anna", station_id="hq")

    def refused(action: object) -> str:
        with pytest.raises(Exception) as e, engine.begin() as conn:
            action(conn)  # type: ignore[operator]
        return f"{type(e.value).__name__}: {e.value}"

    assert refused(lambda c: create_individual(c, " otis ", "x")) == (
        "FleetNameTaken: the name 'otis' is already bear-hq-0001's in the fleet gallery: "
        "choose another name, or merge into bear-hq-0001 (bear-station individuals merge ID "
        "bear-hq-0001)"
    )
    assert refused(lambda c: name_individual(c, "grazer", "OTIS", "x")).startswith(
        "FleetNameTaken: the name 'OTIS' is already bear-hq-0001's"
    )
    assert refused(lambda c: name_individual(c, otis, "bear-den-01-0009", "x")) == (
        "FleetNameInvalid: invalid name 'bear-den-01-0009': names that look like ids "
        "(bear-0001, unknown-0001) would be ambiguous; choose another name"
    )
    assert refused(lambda c: name_individual(c, "Bruno", "Bruno", "x")) == (
        "UnknownFleetIndividual: no individual 'Bruno' in the fleet gallery: see 'bear-station "
        "individuals' (give an id such as bear-den-01-0004, or a name)"
    )
    assert refused(lambda c: merge_individuals(c, otis, "otis", "x")) == (
        "FleetMergeRefused: Otis and Otis are one individual already"
    )
    assert refused(lambda c: split_individual(c, otis, "x")) == (
        "FleetMergeRefused: Otis is not merged into another individual"
    )
    for error in (FleetNameTaken, FleetNameInvalid, UnknownFleetIndividual, FleetMergeRefused):
        assert issubclass(error, Exception)
    assert feed_head_of(engine) == 2  # nothing refused reached the feed


def feed_head_of(engine: Engine) -> int:
    with engine.connect() as conn:
        return feed_head(conn)


def test_boxes_register_individuals_and_named_ones_join_by_name(engine: Engine) -> None:
    with engine.begin() as conn:
        a = register_box_individual(conn, "den-01", "bear-0004", name="Otis", provisional=False,
                                    seen_at=T0)  # fmt: skip
        b = register_box_individual(conn, "den-02", "bear-den-02-0001", name=" otis",
                                    provisional=False, seen_at=T0)  # fmt: skip
        again = register_box_individual(conn, "den-01", "bear-den-01-0004", name="Otis",
                                        provisional=False, seen_at=T0)  # fmt: skip
        root = get_fleet_individual(conn, b)
        legacy = register_box_individual(conn, "den-01", "unknown-0007", name=None,
                                         provisional=False, seen_at=T0)  # fmt: skip
        assert get_fleet_individual(conn, legacy).provisional  # its fleet id says so
    assert (a, b, again) == ("bear-den-01-0004", "bear-den-02-0001", "bear-den-01-0004")
    assert root.merged_into == a
    assert kinds(engine) == [
        (1, "individual", {"individual_id": a, "name": "Otis", "provisional": False,
                           "origin": "den-01"}),
        (2, "merge", {"from": b, "into": a, "name": "Otis", "provisional": False}),
        (3, "individual", {"individual_id": "unknown-den-01-0007", "name": None,
                           "provisional": True, "origin": "den-01"}),
    ]  # fmt: skip


def test_reference_chips_come_from_the_media_store_and_go_out_once(
    engine: Engine, tmp_path: Path
) -> None:
    store = MediaStore(tmp_path / "media")
    chips = [upload("den-01", f"north/cam01/{i}.jpg", jpeg_chip(i), T0) for i in range(3)]
    with engine.begin() as conn:
        for chip in chips:
            store_chip(conn, store, chip, now=T0)
        added = [
            add_box_reference(conn, "den-01", "unknown-den-01-0001", chip.sha256, MODEL.sha256, T0)
            for chip in chips[:2]
        ]
        repeat = add_box_reference(conn, "den-01", "unknown-den-01-0001", chips[0].sha256,
                                   MODEL.sha256, T0)  # fmt: skip
        no_embedding = add_box_reference(conn, "den-01", "unknown-den-01-0001", chips[2].sha256,
                                         None, T0)  # fmt: skip
        refs = fleet_references(conn, "unknown-den-01-0001")
        of_model = fleet_references(conn, "unknown-den-01-0001", model_sha256=MODEL.sha256)
        none = fleet_references(conn, "unknown-den-01-0001", model_sha256="f" * 64)
    assert (added, repeat, no_embedding) == ([True, True], False, True)
    assert [r.sha256 for r in refs] == [c.sha256 for c in chips]
    assert refs[0].model_sha256s == (MODEL.sha256,) and refs[0].content_type == "image/jpeg"
    assert len(of_model) == 3 and none == []  # the store holds every chip's embedding
    assert [k for _, k, _ in kinds(engine)] == ["individual", "references", "references"]
    assert kinds(engine)[1][2] == {
        "individual_id": "unknown-den-01-0001",
        "model_sha256": MODEL.sha256,
        "sha256": [chips[0].sha256],
    }
    with engine.begin() as conn:  # references follow a merge
        otis = create_individual(conn, "Otis", "anna", station_id="hq")
        merge_individuals(conn, "unknown-den-01-0001", otis, "anna")
        assert len(fleet_references(conn, otis)) == 3
        split_individual(conn, "unknown-den-01-0001", "anna")
        back = len(fleet_references(conn, "unknown-den-01-0001"))
        assert (len(fleet_references(conn, otis)), back) == (0, 3)


def correction(action: str, before: dict[str, Any], after: dict[str, Any],
               event_id: str = "e1", undoes: str | None = None) -> dict[str, object]:  # fmt: skip
    return {"event_id": event_id, "action": action, "by": "Anna", "before": before,
            "after": after, "undoes": undoes, "encounter_id": None}  # fmt: skip


def test_a_box_review_page_names_creates_and_merges_in_the_fleet_gallery(engine: Engine) -> None:
    unknown = {"status": "unknown", "individual_id": "unknown-den-01-0001", "name": None}
    with engine.begin() as conn:
        register_box_individual(conn, "den-01", "unknown-den-01-0001", name=None,
                                provisional=True, seen_at=T0)  # fmt: skip
        register_box_individual(conn, "den-02", "unknown-den-02-0001", name=None,
                                provisional=True, seen_at=T0)  # fmt: skip
        apply_box_correction(
            conn,
            "den-01",
            correction(
                "rename",
                unknown,
                {"status": "known", "individual_id": "bear-den-01-0001", "name": "Bruno"},
            ),
            T0,
        )
        named = get_fleet_individual(conn, "bruno")
        gone = get_fleet_individual(conn, "unknown-den-01-0001")
        # den-02 names its stranger Bruno too: the fleet makes it the same bear
        apply_box_correction(
            conn,
            "den-02",
            correction(
                "rename",
                {"status": "unknown", "individual_id": "unknown-den-02-0001", "name": None},
                {"status": "known", "individual_id": "bear-den-02-0001", "name": "bruno"},
            ),
            T0,
        )
        other = get_fleet_individual(conn, "bear-den-02-0001")
        # a rename that keeps the id, and its undo
        apply_box_correction(conn, "den-01", correction("rename", {
            "status": "known", "individual_id": "bear-den-01-0001", "name": "Bruno"}, {
            "status": "known", "individual_id": "bear-den-01-0001", "name": "Big Bruno"},
            "e2"), T0)  # fmt: skip
        renamed = get_fleet_individual(conn, "bear-den-01-0001").name
    assert (named.id, gone.merged_into) == ("bear-den-01-0001", "bear-den-01-0001")
    assert other.merged_into == "bear-den-01-0001"
    assert renamed == "Big Bruno"
    assert [k for _, k, _ in kinds(engine)] == [
        "individual", "individual", "individual", "merge", "merge", "merge", "individual",
    ]  # fmt: skip


def test_feed_numbers_have_no_gaps_and_follow_commit_order(engine: Engine) -> None:
    first = engine.connect()
    tx = first.begin()
    append_change(first, "individual", {"individual_id": "a"}, datetime.now(UTC))
    taken: list[int] = []

    def second_writer() -> None:
        with engine.begin() as conn:
            taken.append(append_change(conn, "individual", {"individual_id": "b"},
                                       datetime.now(UTC)))  # fmt: skip

    writer = threading.Thread(target=second_writer)
    writer.start()
    writer.join(1.0)
    assert writer.is_alive()  # it waits for the first transaction ...
    tx.rollback()  # ... which gives its number back
    first.close()
    writer.join(15)
    assert taken == [1]
    with engine.connect() as conn:
        rows = list(conn.execute(select(fleet_feed.c.seq, fleet_feed.c.body)))
    assert [(r.seq, r.body["individual_id"]) for r in rows] == [(1, "b")]


def test_station_links_are_fleet_merges_and_unlinks_split_them(engine: Engine) -> None:
    with engine.begin() as conn:
        for agent in ("den-01", "den-02"):
            touch_box(conn, agent, T0)
            individual_ref(conn, agent, f"unknown-{agent}-0001", name=None, named_at=T0)
    link(engine, "unknown-den-02-0001", "den-01:unknown-den-01-0001", by="anna")
    with engine.connect() as conn:
        labels = {b.label for b in fleet_bears(conn).values()}
    assert labels == {"unknown-den-01-0001"}
    assert kinds(engine)[-1][1:] == ("merge", {"from": "unknown-den-02-0001",
                                               "into": "unknown-den-01-0001", "name": None,
                                               "provisional": True})  # fmt: skip
    unlink(engine, "unknown-den-01-0001", "unknown-den-02-0001", by="ben")
    with engine.connect() as conn:
        labels = {b.label for b in fleet_bears(conn).values()}
    assert labels == {"unknown-den-01-0001", "unknown-den-02-0001"}
    assert kinds(engine)[-1][1] == "split"


def test_a_station_from_before_the_fleet_gallery_adds_its_individuals_once(
    engine: Engine,
) -> None:
    rows = [("den-01", "bear-0001", "Otis", False), ("den-02", "bear-0003", "otis", False),
            ("den-01", "unknown-den-01-0001", None, True),
            ("den-02", "unknown-den-02-0001", None, True),
            ("den-01", "unknown-0002", None, True)]  # fmt: skip
    with engine.begin() as conn:  # as an older station wrote them: no fleet gallery yet
        for agent in ("den-01", "den-02"):
            touch_box(conn, agent, T0)
        ids = {}
        for agent, individual, name, provisional in rows:
            result = conn.execute(
                individuals.insert().values(
                    agent_id=agent, individual_id=individual, name=name, provisional=provisional
                )
            )
            ids[individual] = int(result.inserted_primary_key[0])  # type: ignore[index]
        conn.execute(update(individuals).where(individuals.c.id == ids["unknown-0002"])
                     .values(merged_into_id=ids["bear-0001"]))  # fmt: skip
        conn.execute(
            links.insert().values(
                a_id=ids["unknown-den-01-0001"],
                linked_by="anna",
                b_id=ids["unknown-den-02-0001"],
                linked_at=T0,
            )
        )
    with engine.connect() as conn:
        before = {ref: bear.label for ref, bear in fleet_bears(conn).items()}
    with engine.begin() as conn:
        assert adopt_station_individuals(conn) == 5
        assert adopt_station_individuals(conn) == 0  # once
        merged = {i.id: i.merged_into for i in list_fleet_individuals(conn, include_merged=True)}
        after = {ref: bear.label for ref, bear in fleet_bears(conn).items()}
    assert merged == {
        "bear-den-01-0001": None, "bear-den-02-0003": "bear-den-01-0001",
        "unknown-den-01-0001": None, "unknown-den-02-0001": "unknown-den-01-0001",
        "unknown-den-01-0002": "bear-den-01-0001",
    }  # fmt: skip
    assert groups(after) == groups(before)  # the same bears, now from the fleet gallery
    assert sorted(set(after.values())) == ["Otis", "unknown-den-01-0001"]


def groups(labels: dict[int, str]) -> list[list[int]]:
    """Which rows are one bear (whatever its label)."""
    return sorted(
        sorted(r for r, x in labels.items() if x == label) for label in set(labels.values())
    )
