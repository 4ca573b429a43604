"""The audit row of an action and its ``correction`` event (inside the action's transaction)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlite_utils

from bearagent.fleet.decision_payloads import with_command
from bearagent.gallery.writes import now_iso
from bearagent.mqtt import outbox
from bearagent.review.actions.reviewer import Reviewer
from bearagent.wire.payloads import Identity, correction_payload

CorrectionAction = Literal["confirm", "assign", "create", "merge", "rename", "reject", "undo"]
#: A correction lists at most this many chip files.
MAX_FILES = 1000


@dataclass(frozen=True)
class Correction:
    """What the ``correction`` event of an action says."""

    action: CorrectionAction
    encounter_id: str | None
    files: Sequence[str]
    before: Identity
    after: Identity
    undoes: str | None = None  # the event id of the correction an undo reverses
    note: str | None = None


def open_row(db: sqlite_utils.Database, who: Reviewer, action: CorrectionAction) -> int:
    """Start the audit row (its id names what the action saves); `close_row` completes it."""
    cursor = db.execute(
        "INSERT INTO review_actions (at, by, client, action, summary, before, after, files,"
        " inverse, event_id) VALUES (?, ?, ?, ?, '', '{}', '{}', '[]', '{}', '')",
        [now_iso(), who.name, who.client, action],
    )
    return int(cursor.lastrowid or 0)


def close_row(
    db: sqlite_utils.Database,
    action_id: int,
    *,
    correction: Correction,
    individual_id: str | None,
    settles: bool,
    summary: str,
    inverse: dict[str, Any],
    event_id: str,
    undoes: int | None = None,
    encounter_id: str | None = None,
) -> None:
    """Complete the audit row (`encounter_id`: the encounter it settles, when the
    correction names none: a merge decided on an encounter's page)."""
    db.execute(
        "UPDATE review_actions SET encounter_id = ?, individual_id = ?, settles = ?,"
        " summary = ?, before = ?, after = ?, files = ?, inverse = ?, event_id = ?, undoes = ?"
        " WHERE id = ?",
        [
            correction.encounter_id or encounter_id,
            individual_id,
            int(settles),
            summary,
            json.dumps(asdict(correction.before), ensure_ascii=False),
            json.dumps(asdict(correction.after), ensure_ascii=False),
            json.dumps(list(correction.files), ensure_ascii=False),
            json.dumps(inverse, ensure_ascii=False),
            event_id,
            undoes,
            action_id,
        ],
    )
    if undoes is not None:
        db.execute("UPDATE review_actions SET undone_by = ? WHERE id = ?", [action_id, undoes])


def publish(db: sqlite_utils.Database, agent_id: str, who: Reviewer, correction: Correction) -> str:
    """Queue the ``correction`` event in the outbox; returns its event id."""
    event_id = uuid.uuid4()
    files = list(correction.files)
    note = correction.note
    if len(files) > MAX_FILES:
        more = f"{len(files) - MAX_FILES} more chips not listed"
        note = f"{note}; {more}" if note else more
        files = files[:MAX_FILES]
    if who.command_id is not None:  # the correction answers the desk's command
        note = with_command(note, who.command_id)
    text = correction_payload(
        event_id=event_id,
        agent_id=agent_id,
        by=who.name,
        action=correction.action,
        encounter_id=correction.encounter_id,
        files=files,
        before=correction.before,
        after=correction.after,
        undoes=None if correction.undoes is None else uuid.UUID(correction.undoes),
        note=note,
    )
    outbox.enqueue(db, "correction", text, event_id=str(event_id))
    return str(event_id)


def identity(status: str, individual_id: str | None, name: str | None) -> Identity:
    """An `Identity`, mapping an undecided status (``pending``) to ``review``."""
    if status == "known":
        return Identity("known", individual_id, name)
    if status == "unknown":
        return Identity("unknown", individual_id, name)
    if status == "rejected":
        return Identity("rejected", None, None)
    return Identity("review", None, None)


def identity_from(record: dict[str, Any]) -> Identity:
    """An `Identity` stored in an audit row."""
    return identity(str(record["status"]), record.get("individual_id"), record.get("name"))
