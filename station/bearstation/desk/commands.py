"""The ``desk_commands`` table: a decision about a box's encounter until its box answers.

A command is made `waiting`; the desk's tick sends it to its box (`due`, `mark_sent`)
and again after ``desk.resend_s``, then twice as long each time (at most an hour), until
the box's answer arrives: the ``correction``
its review action published (the command becomes ``applied``) or a ``refused``
correction (``refused``, with the box's words). `settle_answers` finds those answers
among the corrections the station has stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update

from bearagent.fleet.decision_payloads import REFUSED, command_of, decision_body, note_text
from bearstation.desk.views import CommandView, DeskUser
from bearstation.tables import corrections, desk_commands, events

#: The longest wait between two sendings of an unanswered decision.
RESEND_MAX_S = 3600.0
#: Answers are looked for among corrections received from this long before the oldest
#: waiting command on (the box answers after the command was made).
ANSWER_SLACK = timedelta(minutes=5)


def _view(row: Row[Any]) -> CommandView:
    files = row.files
    return CommandView(
        row.command_id, row.agent_id, row.encounter_id, row.action, row.individual_id,
        row.name, None if files is None else tuple(files), row.note, row.undoes, row.by,
        row.client, row.created_at, row.state, int(row.sends), row.sent_at, row.answered_at,
        row.answer_event_id, row.reason,
    )  # fmt: skip


def new_command(
    conn: Connection,
    who: DeskUser,
    agent_id: str,
    encounter_id: str,
    action: str,
    now: datetime,
    *,
    individual_id: str | None = None,
    name: str | None = None,
    files: Sequence[str] | None = None,
    note: str | None = None,
    undoes: str | None = None,
) -> CommandView:
    """A new waiting command (in the caller's transaction)."""
    command_id = str(uuid.uuid4())
    conn.execute(
        desk_commands.insert().values(
            command_id=command_id, agent_id=agent_id, encounter_id=encounter_id,
            action=action, individual_id=individual_id, name=name,
            files=None if files is None else list(files), note=note, undoes=undoes,
            by=who.name, client=who.client, created_at=now, state="waiting", sends=0,
        )
    )  # fmt: skip
    return get_command(conn, command_id)


def get_command(conn: Connection, command_id: str) -> CommandView:
    """One command; KeyError when there is none."""
    row = conn.execute(
        select(desk_commands).where(desk_commands.c.command_id == command_id)
    ).one_or_none()
    if row is None:
        raise KeyError(command_id)
    return _view(row)


def commands_for(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[CommandView]]:
    """The commands of each (agent_id, encounter_id), newest first."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = conn.execute(
        select(desk_commands)
        .where(desk_commands.c.encounter_id.in_(sorted({e for _a, e in wanted})))
        .order_by(desk_commands.c.created_at.desc(), desk_commands.c.command_id)
    )
    found: dict[tuple[str, str], list[CommandView]] = {}
    for row in rows:
        key = (row.agent_id, row.encounter_id)
        if key in wanted:
            found.setdefault(key, []).append(_view(row))
    return found


def recent_commands(conn: Connection, limit: int, offset: int = 0) -> list[CommandView]:
    """Commands, newest first."""
    rows = conn.execute(
        select(desk_commands)
        .order_by(desk_commands.c.created_at.desc(), desk_commands.c.command_id)
        .limit(limit)
        .offset(offset)
    )
    return [_view(r) for r in rows]


def undone_by(conn: Connection, command_id: str) -> CommandView | None:
    """The undo command made for `command_id` that is not refused, if any."""
    row = conn.execute(
        select(desk_commands).where(
            desk_commands.c.undoes == command_id, desk_commands.c.state != "refused"
        )
    ).first()
    return None if row is None else _view(row)


def due(
    conn: Connection, now: datetime, resend_s: float, resend_max_s: float = RESEND_MAX_S
) -> list[CommandView]:
    """Waiting commands never sent, or unanswered since their last sending for `resend_s`,
    twice that after the second, and so on up to `resend_max_s`: a box away for a week
    does not find thousands of repeats queued for it. Oldest first."""
    rows = conn.execute(
        select(desk_commands)
        .where(desk_commands.c.state == "waiting")
        .order_by(desk_commands.c.created_at)
    )
    out = []
    for row in rows:
        wait = min(resend_max_s, resend_s * 2.0 ** max(0, min(int(row.sends) - 1, 30)))
        if row.sent_at is None or row.sent_at <= now - timedelta(seconds=wait):
            out.append(_view(row))
    return out


def body_of(command: CommandView) -> dict[str, Any]:
    """The ``decision`` message's body."""
    return decision_body(
        command_id=command.command_id, encounter_id=command.encounter_id,
        action=command.action,  # type: ignore[arg-type]  # checked when it was made
        by=command.by, individual_id=command.individual_id,
        name=command.name if command.action == "create" else None,
        files=command.files, note=command.note, undoes=command.undoes,
    )  # fmt: skip


def mark_sent(conn: Connection, command_id: str, now: datetime) -> None:
    """One more decision message went out for `command_id`."""
    conn.execute(
        update(desk_commands)
        .where(desk_commands.c.command_id == command_id, desk_commands.c.state == "waiting")
        .values(sent_at=now, sends=desk_commands.c.sends + 1)
    )


def settle_answers(conn: Connection) -> list[CommandView]:
    """Mark the waiting commands whose box has answered (applied or refused); returns them."""
    waiting = {
        r.command_id: r
        for r in conn.execute(select(desk_commands).where(desk_commands.c.state == "waiting"))
    }
    if not waiting:
        return []
    since = min(r.created_at for r in waiting.values()) - ANSWER_SLACK
    answers = conn.execute(
        select(events.c.event_id, events.c.payload, events.c.received_at, corrections.c.action)
        .join(corrections, corrections.c.event_id == events.c.event_id)
        .where(
            events.c.channel == "correction",
            events.c.agent_id.in_(sorted({r.agent_id for r in waiting.values()})),
            events.c.received_at >= since,
        )
        .order_by(events.c.received_at)
    )
    settled: list[str] = []
    for answer in answers:
        body = json.loads(answer.payload)
        command_id = command_of(body)
        row = waiting.get(command_id or "")
        if row is None or row.agent_id != body.get("agent_id") or command_id in settled:
            continue
        refused = answer.action == REFUSED
        conn.execute(
            update(desk_commands).where(desk_commands.c.command_id == command_id).values(
                state="refused" if refused else "applied", answered_at=answer.received_at,
                answer_event_id=answer.event_id,
                reason=_reason(body.get("note")) if refused else None,
            )
        )  # fmt: skip
        settled.append(str(command_id))
    return [get_command(conn, c) for c in settled]


def _reason(note: str | None) -> str:
    """The box's words in a refusal's note (``encounter E: <words> (desk command ...)``)."""
    text = note_text(note)
    head, sep, rest = text.partition(": ")
    return rest if sep and head.startswith("encounter ") else text
