"""Ingest rules, on SQLite and PostgreSQL, without a broker: late and repeated events,
merged encounters, corrections (confirm, merge, reject, undo; early or late), stats, and a
payload the schema allows but the database cannot take."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from bearagent.decisions import Outcome
from bearagent.wire.payloads import Identity
from bearstation.exports.records import counted_encounters
from bearstation.identities import fleet_bears
from bearstation.tables import corrections, individuals, sightings, stats
from support.station_payloads import T0, FakeBox, Message, encounter_id_of
from support.station_world import count, encounter_rows, fresh_engine, ingest, quarantine_reasons


def variant(message: Message, **changes: Any) -> Message:
    """The same event with a new event_id and `changes` (deep for 'decision')."""
    topic, payload = message
    body = json.loads(payload) | {"event_id": str(uuid.uuid4())}
    decision = changes.pop("decision", None)
    body |= changes
    if decision is not None:
        body["decision"] = body["decision"] | decision
    return topic, json.dumps(body)


def individual_of(engine: Engine, encounter_ref: int) -> tuple[str, str] | None:
    rows = {r.id: r for r in encounter_rows(engine)}
    ref = rows[encounter_ref].individual_ref
    if ref is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(individuals).where(individuals.c.id == ref)).one()
    return row.agent_id, row.individual_id


def test_late_and_repeated_events_never_undo_a_later_one(station_db: str) -> None:
    engine = fresh_engine(station_db)
    new, end = FakeBox("den-01").encounter("cam01", T0, individual="bear-0001", chips=4)
    assert ingest(engine, [end]) == ["stored"]
    assert ingest(engine, [new, end, new]) == ["stored", "duplicate", "duplicate"]
    (row,) = encounter_rows(engine)
    assert (row.state, row.chip_count, row.event_rank) == ("ended", 4, 2)
    assert row.started_at == T0 and row.started_offset_min == 180
    assert count(engine, sightings) == 4


def test_a_merged_encounter_hands_its_chips_to_the_one_it_joined(station_db: str) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    first = box.encounter("cam01", T0, individual="bear-0001", chips=2, end=False)
    second = box.encounter("cam01", T0 + timedelta(seconds=2), individual="bear-0001", chips=2)
    merged_id, kept_id = encounter_id_of(second[:1]), encounter_id_of(first)
    merged = variant(second[0], type="merged", merged_into=kept_id)
    chips = json.loads(first[0][1])["file"], *(c["file"] for c in json.loads(second[1][1])["chips"])
    end_body = json.loads(second[1][1]) | {"encounter_id": kept_id, "chip_count": 3}
    end_body["chips"] = [
        {"file": f, "captured_at": end_body["captured_at"], "time_source": "exif"} for f in chips
    ]
    end = variant(("bearid/den-01/sighting", json.dumps(end_body)))
    assert ingest(engine, [*first, second[0], merged, end]) == ["stored"] * 4
    rows = {r.encounter_id: r for r in encounter_rows(engine)}
    assert rows[merged_id].state == "merged" and rows[merged_id].merged_into == kept_id
    assert rows[kept_id].state == "ended" and rows[kept_id].chip_count == 3
    with engine.connect() as conn:
        counted = [e.encounter_id for e in counted_encounters(conn)]
        owners = set(conn.execute(select(sightings.c.encounter_ref)).scalars())
    assert counted == [kept_id]
    assert owners == {rows[kept_id].id}


def test_a_person_confirms_a_review_later_machine_events_keep_it_and_undo_reverts(
    station_db: str,
) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    new, end = box.encounter("cam01", T0, individual=None, outcome=Outcome.REVIEW)
    eid = encounter_id_of([new, end])
    ingest(engine, [new, end])
    (row,) = encounter_rows(engine)
    assert (row.status, row.individual_ref, row.decided_by) == ("review", None, "machine")
    confirm_id = uuid.uuid4()
    confirm = box.correction(
        "confirm",
        encounter_id=eid,
        before=Identity("review", None, None),
        after=Identity("known", "bear-0009", "Otis"),
        event_id=confirm_id,
    )
    late_machine = variant(
        end,
        processed_at=(T0 + timedelta(hours=1)).isoformat(),
        decision={"status": "known", "individual_id": "bear-0002", "name": "Holly"},
    )
    assert ingest(engine, [confirm, late_machine]) == ["stored", "stored"]
    (row,) = encounter_rows(engine)
    assert (row.status, row.decided_by, row.corrected_by) == ("known", "human", "ranger")
    assert individual_of(engine, row.id) == ("den-01", "bear-0009")
    undo = box.correction(
        "undo",
        encounter_id=eid,
        before=Identity("known", "bear-0009", "Otis"),
        after=Identity("review", None, None),
        undoes=confirm_id,
    )
    assert ingest(engine, [undo]) == ["stored"]
    (row,) = encounter_rows(engine)
    assert (row.status, row.individual_ref, row.decided_by) == ("review", None, "machine")
    with engine.connect() as conn:
        rows = conn.execute(select(corrections.c.event_id, corrections.c.state))
        states = {r.event_id: r.state for r in rows}
    assert states[str(confirm_id)] == "undone"


def test_a_correction_or_an_undo_that_arrives_early_waits_for_what_it_needs(
    station_db: str,
) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    messages = box.encounter("cam01", T0, individual=None, outcome=Outcome.REVIEW)
    eid = encounter_id_of(messages)
    assign_id = uuid.uuid4()
    assign = box.correction(
        "assign",
        encounter_id=eid,
        before=Identity("review", None, None),
        after=Identity("known", "bear-0004", "Juno"),
        event_id=assign_id,
    )
    ingest(engine, [assign])
    with engine.connect() as conn:
        assert conn.execute(select(corrections.c.state)).scalar_one() == "pending"
    ingest(engine, messages)
    (row,) = encounter_rows(engine)
    assert individual_of(engine, row.id) == ("den-01", "bear-0004")
    # An undo of a correction the station has not seen yet waits for it, then reverts it.
    other = box.encounter("cam02", T0, individual=None, outcome=Outcome.REVIEW)
    second_id = uuid.uuid4()
    second = box.correction(
        "assign",
        encounter_id=encounter_id_of(other),
        before=Identity("review", None, None),
        after=Identity("known", "bear-0005", None),
        event_id=second_id,
    )
    undo = box.correction(
        "undo",
        encounter_id=encounter_id_of(other),
        before=Identity("known", "bear-0005", None),
        after=Identity("review", None, None),
        undoes=second_id,
    )
    ingest(engine, [*other, undo])
    ingest(engine, [second])
    rows = {r.encounter_id: r for r in encounter_rows(engine)}
    assert rows[encounter_id_of(other)].status == "review"
    assert rows[encounter_id_of(other)].individual_ref is None


def test_a_box_promotes_a_provisional_bear_and_the_station_follows(station_db: str) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    stranger = box.encounter("cam01", T0, individual=None, outcome=Outcome.UNKNOWN)
    provisional = json.loads(stranger[1][1])["provisional_id"]
    again = box.encounter("cam02", T0 + timedelta(days=1), individual=provisional)
    ingest(engine, [*stranger, *again])
    merge_id = uuid.uuid4()
    merge = box.correction(
        "merge",
        encounter_id=None,
        before=Identity("unknown", provisional, None),
        after=Identity("known", "bear-0007", "Wanda"),
        event_id=merge_id,
    )
    assert ingest(engine, [merge]) == ["stored"]
    assert {individual_of(engine, r.id) for r in encounter_rows(engine)} == {
        ("den-01", "bear-0007")
    }
    with engine.connect() as conn:
        labels = {b.label for b in fleet_bears(conn).values()}
    assert labels == {"Wanda"}
    undo = box.correction(
        "undo",
        encounter_id=None,
        before=Identity("known", "bear-0007", "Wanda"),
        after=Identity("unknown", provisional, None),
        undoes=merge_id,
    )
    ingest(engine, [undo])
    assert {individual_of(engine, r.id) for r in encounter_rows(engine)} == {
        ("den-01", provisional)
    }


def test_rejecting_some_chips_marks_only_those(station_db: str) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    messages = box.encounter("cam01", T0, individual="bear-0001", chips=4)
    files = [c["file"] for c in json.loads(messages[-1][1])["chips"]]
    reject = box.correction(
        "reject",
        encounter_id=encounter_id_of(messages),
        before=Identity("known", "bear-0001", None),
        after=Identity("rejected", None, None),
        files=files[:1],
    )
    ingest(engine, [*messages, reject])
    assert count(engine, sightings, sightings.c.rejected.is_(True)) == 1
    assert encounter_rows(engine)[0].status == "known"
    whole = box.correction(
        "reject",
        encounter_id=encounter_id_of(messages),
        before=Identity("known", "bear-0001", None),
        after=Identity("rejected", None, None),
        files=files,
    )
    ingest(engine, [whole])
    assert encounter_rows(engine)[0].status == "rejected"
    with engine.connect() as conn:
        assert list(counted_encounters(conn)) == []


def test_stats_are_stored_once(station_db: str) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    message = box.stats(T0)
    assert ingest(engine, [message, message, box.stats(T0 + timedelta(minutes=1))]) == [
        "stored",
        "duplicate",
        "stored",
    ]
    assert count(engine, stats) == 2


def test_a_payload_the_database_cannot_take_is_quarantined_alone(station_db: str) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    good = box.encounter("cam01", T0, individual="bear-0001")
    # Matches the schema's date-time pattern, but there is no 30 February.
    impossible = variant(good[0], started_at="2026-02-30T06:00:00+03:00")
    nul_camera = variant(box.encounter("cam02", T0, individual="bear-0002")[0], camera="c\x00m")
    assert ingest(engine, [impossible, *good, nul_camera]) == [
        "quarantined",
        "stored",
        "stored",
        "stored",
    ]
    assert quarantine_reasons(engine) == [
        "could not be stored: PayloadProblem: started_at '2026-02-30T06:00:00+03:00' is not "
        "a valid date and time"
    ]
    assert {r.chip_count for r in encounter_rows(engine)} == {1, 3}


def test_a_rename_on_one_box_joins_the_bear_of_that_name_on_another(station_db: str) -> None:
    engine = fresh_engine(station_db)
    north, south = FakeBox("den-01"), FakeBox("den-02")
    ingest(engine, north.encounter("cam01", T0, individual="bear-0002", name="Bruno"))
    ingest(engine, south.encounter("cam01", T0, individual="bear-0005", name="Otis"))
    with engine.connect() as conn:
        assert {b.label for b in fleet_bears(conn).values()} == {"Bruno", "Otis"}
    rename = north.correction(
        "rename",
        encounter_id=None,
        before=Identity("known", "bear-0002", "Bruno"),
        after=Identity("known", "bear-0002", "otis "),
    )
    assert ingest(engine, [rename]) == ["stored"]
    with engine.connect() as conn:
        bears = fleet_bears(conn)
        names = dict(conn.execute(select(individuals.c.individual_id, individuals.c.name)).all())
    assert names == {"bear-0002": "otis ", "bear-0005": "Otis"}
    assert len({b.label for b in bears.values()}) == 1, "one bear across the two boxes"
