"""Desk decisions on their way to a box and back, at the station (SQLite and PostgreSQL):
the running station's fleet round sends each waiting decision to its box on a real
Mosquitto (valid against the station schema, again until answered); the box's answer,
a correction naming the command or a ``refused`` one, settles it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from bearagent.fleet.decision_payloads import refusal_payload, with_command
from bearagent.fleet.inbound import load_station_schema
from bearagent.wire.payloads import Identity, correction_payload, load_schema
from bearstation.desk import actions
from bearstation.desk.commands import due, get_command, mark_sent, settle_answers
from bearstation.desk.views import DeskUser
from bearstation.tables import corrections, desk_commands
from support.broker import Mosquitto
from support.desk_world import OTIS, DeskWorld, build_desk_world
from support.fleet import wait
from support.station_world import ingest, running_station, station_config
from support.subscriber import Subscriber

ANNA = DeskUser("Anna", "127.0.0.1")
EVENTS = Draft202012Validator(load_schema())
_station = load_station_schema()
DECISION = Draft202012Validator({**{k: v for k, v in _station.items() if k != "oneOf"},
                                 "$ref": "#/$defs/decision"})  # fmt: skip


@pytest.fixture
def world(station_db: str, tmp_path: Path) -> Iterator[DeskWorld]:
    built = build_desk_world(station_db, tmp_path)
    yield built
    built.engine.dispose()


def answer(world: DeskWorld, payload: str) -> None:
    """The box's correction, stored as the station's ingest stores it."""
    EVENTS.validate(json.loads(payload))
    ingest(world.engine, [("bearid/boxa/correction", payload)])


def test_the_boxs_correction_or_refusal_settles_the_decision(world: DeskWorld) -> None:
    with world.engine.begin() as conn:
        assigned = actions.assign(conn, "boxa", world.review, OTIS, ANNA).command
        created = actions.create(conn, "boxa", world.unknown, "Ronja", ANNA).command
    assert assigned is not None and created is not None
    review = Identity("review", None, None)
    applied = correction_payload(
        event_id=uuid.uuid4(), agent_id="boxa", by="Anna", action="assign",
        encounter_id=world.review, files=world.files(world.review), before=review,
        after=Identity("known", OTIS, "Otis"), note=with_command(None, assigned.command_id),
    )  # fmt: skip
    refused = refusal_payload(
        event_id=uuid.uuid4(), agent_id="boxa", by="Anna", command_id=created.command_id,
        encounter_id=world.unknown, reason="the name 'Ronja' is already used by bear-boxa-0007",
        state=Identity("unknown", world.provisional, None),
    )  # fmt: skip
    stranger = refusal_payload(  # another box cannot answer for boxa
        event_id=uuid.uuid4(), agent_id="boxb", by="Eve", command_id=assigned.command_id,
        encounter_id=world.review, reason="no", state=review,
    )  # fmt: skip
    ingest(world.engine, [("bearid/boxb/correction", stranger)])
    answer(world, applied)
    answer(world, refused)
    with world.engine.begin() as conn:
        settled = settle_answers(conn)
        assert sorted(c.command_id for c in settled) == sorted(
            [assigned.command_id, created.command_id]
        )
        done, no = get_command(conn, assigned.command_id), get_command(conn, created.command_id)
        assert (done.state, done.status) == ("applied", "applied by boxa")
        assert (no.state, no.status) == (
            "refused", "refused by boxa: the name 'Ronja' is already used by bear-boxa-0007"
        )  # fmt: skip
        # The refusal changed nothing at the station: its correction names no encounter.
        state = conn.execute(
            select(corrections.c.state).where(corrections.c.action == "refused",
                                              corrections.c.agent_id == "boxa")
        ).scalar_one()  # fmt: skip
        assert state == "ignored"
        assert settle_answers(conn) == []  # answered once
        # A refused decision can be made again; an applied one can be undone.
        again = actions.create(conn, "boxa", world.unknown, "Ronja II", ANNA)
        assert again.summary.endswith(": waiting for boxa")
        undo = actions.undo(conn, assigned.command_id, ANNA)
        assert undo.summary == (
            f"undo assign to Otis ({OTIS}) of encounter {world.review} of boxa (kuhmo/cam02): "
            "waiting for boxa"
        )
        with pytest.raises(Exception, match="is still waiting for boxa"):
            actions.undo(conn, undo.command.command_id, ANNA)  # type: ignore[union-attr]


def test_an_unanswered_decision_is_sent_again_less_and_less_often(world: DeskWorld) -> None:
    with world.engine.begin() as conn:
        made = actions.confirm(conn, "boxa", world.review, ANNA).command
        assert made is not None
        now = datetime.now(UTC)
        sent: list[float] = []
        for second in range(0, 20_000, 5):
            at = now + timedelta(seconds=second)
            if [c.command_id for c in due(conn, at, 30.0, 600.0)] == [made.command_id]:
                mark_sent(conn, made.command_id, at)
                sent.append(second)
        assert sent[:6] == [0, 30, 90, 210, 450, 930]  # 30 s, doubling ...
        assert {b - a for a, b in pairwise(sent[5:])} == {600}  # ... capped
        assert get_command(conn, made.command_id).sends == len(sent)


def test_the_fleet_round_sends_decisions_until_the_box_answers(
    tmp_path: Path, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    world = build_desk_world(f"sqlite:///{tmp_path / 'station.db'}", tmp_path)
    sub = subscribe(broker, "bearid-station/+/decision")
    config = station_config(world.db_url, broker).model_copy(update={
        "desk": world.config.desk.model_copy(update={"resend_s": 0.5}),
        "fleet": world.config.fleet.model_copy(update={"round_s": 0.2}),
    })  # fmt: skip
    with world.engine.begin() as conn:
        command = actions.assign(conn, "boxa", world.review, OTIS, ANNA).command
    assert command is not None
    with running_station(config):
        first = sub.wait_for(lambda m: m.topic == "bearid-station/boxa/decision", 15).json()
        DECISION.validate(first)
        assert {k: first[k] for k in ("command_id", "encounter_id", "action", "individual_id",
                                      "by", "agent_id", "station_id")} == {
            "command_id": command.command_id, "encounter_id": world.review,
            "action": "assign", "individual_id": OTIS, "by": "Anna", "agent_id": "boxa",
            "station_id": "test",
        }  # fmt: skip
        second = sub.wait_for(
            lambda m: m.json()["message_id"] != first["message_id"], 15
        ).json()  # sent again: no answer yet
        assert second["command_id"] == command.command_id
        answer(world, correction_payload(
            event_id=uuid.uuid4(), agent_id="boxa", by="Anna", action="assign",
            encounter_id=world.review, files=[], before=Identity("review", None, None),
            after=Identity("known", OTIS, "Otis"), note=with_command(None, command.command_id),
            corrected_at=datetime.now(UTC),
        ))  # fmt: skip

        def state() -> str:
            with world.engine.connect() as conn:
                return str(conn.execute(select(desk_commands.c.state)).scalar_one())

        wait(lambda: state() == "applied", "the round to settle the decision", 15)
        with world.engine.connect() as conn:
            sends = conn.execute(select(desk_commands.c.sends)).scalar_one()
        sub.drain(1.0)
        with world.engine.connect() as conn:
            assert conn.execute(select(desk_commands.c.sends)).scalar_one() == sends
    world.engine.dispose()
