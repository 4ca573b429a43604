"""The words of a desk decision on the wire, both ways.

Station -> box: a ``decision`` (`decision_body`): the desk's command id, the box's
encounter, the action (confirm, assign, create, reject, undo) and what it needs.
Box -> station: the box's answer is the ``correction`` its review action publishes,
naming the command (`with_command` puts ``(desk command <id>)`` in its note until the
correction schema has a ``command_id`` field; `command_of` reads either); a decision
the box cannot apply is answered by a correction with action ``refused``
(`refusal_payload`): no encounter (so it changes nothing at the station), the box's
words in the note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from uuid import UUID

from bearagent.wire import jsontext as jt
from bearagent.wire.payloads import SCHEMA_VERSION, Identity, load_schema

DecisionAction = Literal["confirm", "assign", "create", "reject", "undo"]
DECISION_ACTIONS: tuple[DecisionAction, ...] = get_args(DecisionAction)
#: Why chips are rejected (the box's review page offers the same two).
REJECT_REASONS = ("not_a_bear", "unusable")
#: The correction action of a decision the box could not apply.
REFUSED = "refused"

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_MARK = re.compile(rf"\s*\(desk command ({_UUID})\)$")


def with_command(note: str | None, command_id: str) -> str:
    """`note` with the desk command it answers appended: ``... (desk command <id>)``."""
    mark = f"(desk command {UUID(command_id)})"
    return f"{note} {mark}" if note else mark


def command_of(body: dict[str, Any]) -> str | None:
    """The desk command a correction answers (its ``command_id``, else its note's mark)."""
    given = body.get("command_id")
    if isinstance(given, str):
        return given
    note = body.get("note")
    found = _MARK.search(note) if isinstance(note, str) else None
    return found.group(1) if found else None


def note_text(note: str | None) -> str:
    """A correction's note without the desk command's mark."""
    return _MARK.sub("", note or "")


def decision_body(
    *,
    command_id: str,
    encounter_id: str,
    action: DecisionAction,
    by: str,
    individual_id: str | None = None,
    name: str | None = None,
    files: Sequence[str] | None = None,
    note: str | None = None,
    undoes: str | None = None,
) -> dict[str, Any]:
    """The body of a ``decision`` message (the station's `Outbound` adds the envelope)."""
    if action not in DECISION_ACTIONS:
        raise ValueError(f"unknown decision {action!r}: use one of {', '.join(DECISION_ACTIONS)}")
    body: dict[str, Any] = {
        "command_id": str(UUID(command_id)),
        "encounter_id": jt.text(encounter_id),
        "action": action,
        "by": jt.text(by) or "?",
        "individual_id": jt.optional_text(individual_id),
        "name": jt.optional_text(name),
        "note": jt.optional_text(note),
    }
    if files is not None:
        body["files"] = [jt.text(f) for f in files]
    if undoes is not None:
        body["undoes"] = str(UUID(undoes))
    return body


def _schema_has_command_id() -> bool:
    correction = load_schema()["$defs"]["correction"]
    return "command_id" in correction.get("properties", {})


def refusal_payload(
    *,
    event_id: UUID,
    agent_id: str,
    by: str,
    command_id: str,
    encounter_id: str,
    reason: str,
    state: Identity,
    refused_at: datetime | None = None,
) -> str:
    """JSON text of the ``correction`` that refuses a desk decision (action ``refused``)."""
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event": "correction",
        "event_id": str(event_id),
        "agent_id": jt.text(agent_id),
        "corrected_at": jt.timestamp(refused_at or datetime.now(UTC), "corrected_at"),
        "by": jt.text(by) or "?",
        "action": REFUSED,
        "encounter_id": None,  # names no encounter: the station changes nothing for it
        "files": [],
        "before": _identity(state),
        "after": _identity(state),
        "undoes": None,
        "note": with_command(f"encounter {jt.text(encounter_id)}: {jt.text(reason)}", command_id),
    }
    if _schema_has_command_id():
        body["command_id"] = str(UUID(command_id))
    return jt.dumps(body)


def _identity(i: Identity) -> dict[str, Any]:
    return {
        "status": i.status,
        "individual_id": jt.optional_text(i.individual_id),
        "name": jt.optional_text(i.name),
    }
