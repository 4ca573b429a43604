"""The box's side of a desk decision, on a real agent database (the agent decided the
visits itself): the ``decision`` message goes through the box's inbound router (checked
against the station schema) to the handler, which applies it with the box's own review
actions; their ``correction`` names the desk's command. Repeats change nothing; a
decision about an open encounter waits until it has ended; what the box cannot apply is
answered with a ``refused`` correction, word for word."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from jsonschema import Draft202012Validator

from bearagent.fleet.decision_payloads import command_of, decision_body, note_text
from bearagent.fleet.decisions import DecisionHandler
from bearagent.fleet.inbound import InboundRouter
from bearagent.gallery import find_by_name, get_individual
from bearagent.review.queries.encounters import get_encounter
from bearagent.store import open_database
from bearagent.wire.payloads import load_schema
from bearagent.wire.topics import Topics
from support.review_world import ReviewWorld, build, copy_database

VALIDATOR = Draft202012Validator(load_schema())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> ReviewWorld:
    return build(tmp_path_factory.mktemp("desk-box"))


@dataclass
class Box:
    """A copy of the agent's database, its decision handler behind the inbound router."""

    rw: ReviewWorld
    db: sqlite_utils.Database
    handler: DecisionHandler
    router: InboundRouter

    def send(self, action: str, encounter_id: str, **fields: Any) -> str:
        """A ``decision`` message as the station sends it; returns its command id."""
        command_id = fields.pop("command_id", None) or str(uuid.uuid4())
        body = {
            "schema_version": 3, "event": "decision", "message_id": str(uuid.uuid4()),
            "station_id": "hq", "agent_id": "box1", "sent_at": datetime.now(UTC).isoformat(),
            **decision_body(command_id=command_id, encounter_id=encounter_id,
                            action=action, by="Anna", **fields),  # type: ignore[arg-type]
        }  # fmt: skip
        taken = self.router.dispatch(self.router.topics.inbound("decision"),
                                     json.dumps(body).encode(), self.db)  # fmt: skip
        assert taken, "the router dropped the decision"
        return command_id

    def corrections(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT payload FROM outbox WHERE channel = 'correction' ORDER BY id"
        ).fetchall()
        events = [json.loads(r[0]) for r in rows]
        for event in events:
            VALIDATOR.validate(event)
        return events

    def state(self, command_id: str) -> tuple[str, str | None]:
        row = self.db.execute(
            "SELECT state, reason FROM fleet_decisions WHERE command_id = ?", [command_id]
        ).fetchone()
        return str(row[0]), row[1]


@pytest.fixture
def box(built: ReviewWorld, tmp_path: Path) -> Iterator[Box]:
    database = copy_database(built.database, tmp_path / "copy.db")
    cfg = built.config(database)
    handler = DecisionHandler(cfg)
    topics = Topics.build(cfg.mqtt.topic_prefix, cfg.agent.id, cfg.mqtt.station_topic_prefix)
    router = InboundRouter(topics, cfg.agent.id, {"decision": handler})
    b = Box(built, open_database(database), handler, router)
    yield b
    handler.close()
    b.db.conn.close()


def test_an_assign_is_applied_once_and_its_correction_names_the_command(box: Box) -> None:
    rw = box.rw
    holly = get_individual(box.db, sorted(rw.world.unseen)[1])
    command = box.send("assign", rw.review, individual_id=holly.id)
    [event] = box.corrections()
    assert (event["action"], event["encounter_id"], event["by"]) == ("assign", rw.review, "Anna")
    assert event["after"] == {"status": "known", "individual_id": holly.id, "name": holly.name}
    assert command_of(event) == command and note_text(event["note"]) == ""
    assert box.state(command) == ("applied", None)
    view = get_encounter(box.db, rw.review, references=0)
    assert (view.status, view.individual_id) == ("known", holly.id)
    audit = box.db.execute("SELECT by, client, action FROM review_actions").fetchall()
    assert audit == [("Anna", f"station desk, command {command}", "assign")]
    # The station sends it again until it sees the correction: nothing changes.
    box.send("assign", rw.review, individual_id=holly.id, command_id=command)
    assert len(box.corrections()) == 1


def test_confirm_create_reject_and_undo_go_through_the_review_actions(box: Box) -> None:
    rw = box.rw
    confirmed = box.send("confirm", rw.unknown)
    created = box.send("create", rw.known, name="Ronja")
    files = [c.file for c in get_encounter(box.db, rw.review, references=0).chips][:2]
    rejected = box.send("reject", rw.review, files=files, note="not_a_bear")
    events = box.corrections()
    assert [(e["action"], command_of(e)) for e in events] == [
        ("confirm", confirmed), ("create", created), ("reject", rejected)
    ]  # fmt: skip
    assert events[0]["after"]["individual_id"] == rw.provisional
    assert events[1]["after"]["name"] == "Ronja" and find_by_name(box.db, "Ronja") is not None
    assert (sorted(events[2]["files"]), note_text(events[2]["note"])) == (sorted(files),
                                                                         "not a bear")  # fmt: skip
    # Undo goes back one step at a time, as on the box's page.
    undone = box.send("undo", rw.review, undoes=rejected)
    last = box.corrections()[-1]
    assert (last["action"], last["undoes"], command_of(last)) == ("undo", events[2]["event_id"],
                                                                  undone)  # fmt: skip
    early = box.send("undo", rw.unknown, undoes=confirmed)
    refusal = box.corrections()[-1]
    assert refusal["action"] == "refused" and command_of(refusal) == early
    assert box.state(early) == ("refused", "only the last action can be undone (#2), not #1")


def test_what_the_box_cannot_apply_is_refused_in_its_words(box: Box) -> None:
    rw = box.rw
    unknown = box.send("confirm", "no-such-encounter")
    nobody = box.send("assign", rw.review, individual_id="bear-box9-0042")
    never = str(uuid.uuid4())
    lost = box.send("undo", rw.review, undoes=never)
    events = box.corrections()
    assert [e["action"] for e in events] == ["refused"] * 3
    assert [command_of(e) for e in events] == [unknown, nobody, lost]
    assert [e["encounter_id"] for e in events] == [None] * 3  # the station changes nothing
    assert [note_text(e["note"]) for e in events] == [
        "encounter no-such-encounter: no encounter 'no-such-encounter': it may belong to "
        "another box",
        f"encounter {rw.review}: no individual 'bear-box9-0042' on this box: the fleet "
        "gallery's feed has not brought it yet; decide again once the box has it",
        f"encounter {rw.review}: cannot undo desk decision {never}: it never reached this box",
    ]
    assert events[1]["before"] == events[1]["after"] == {
        "status": "review", "individual_id": None, "name": None
    }  # fmt: skip
    # A decision the router cannot read never reaches the handler.
    bad = {"schema_version": 3, "event": "decision", "agent_id": "box1", "action": "confirm"}
    assert not box.router.dispatch(box.router.topics.inbound("decision"),
                                   json.dumps(bad).encode(), box.db)  # fmt: skip


def test_a_decision_about_an_open_encounter_waits_until_it_has_ended(box: Box) -> None:
    rw = box.rw
    with box.db.conn:  # the agent still adds chips to it
        box.db.execute("UPDATE encounters SET ended = 0 WHERE id = ?", [rw.review])
    holly = get_individual(box.db, sorted(rw.world.unseen)[1])
    command = box.send("assign", rw.review, individual_id=holly.id)
    assert box.corrections() == []
    state, reason = box.state(command)
    assert state == "waiting" and reason is not None and "is still open" in reason
    with box.db.conn:  # the agent ended it
        box.db.execute("UPDATE encounters SET ended = 1 WHERE id = ?", [rw.review])
    box.send("assign", rw.review, individual_id=holly.id, command_id=command)  # the resend
    [event] = box.corrections()
    assert (event["action"], command_of(event)) == ("assign", command)
    assert box.state(command) == ("applied", None)
