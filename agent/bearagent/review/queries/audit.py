"""Reading the audit log: what people did, newest first, and what can be undone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from bearagent.review.errors import NotFound
from bearagent.review.queries.types import ActionView

_COLUMNS = (
    "id, at, by, client, action, encounter_id, individual_id, summary, before, after, files,"
    " event_id, undoes, undone_by"
)


def _view(r: Sequence[Any]) -> ActionView:
    return ActionView(
        id=int(r[0]),
        at=str(r[1]),
        by=str(r[2]),
        client=str(r[3]),
        action=str(r[4]),
        encounter_id=r[5],
        individual_id=r[6],
        summary=str(r[7]),
        before=json.loads(r[8]),
        after=json.loads(r[9]),
        files=tuple(json.loads(r[10])),
        event_id=str(r[11]),
        undoes=None if r[12] is None else int(r[12]),
        undone_by=None if r[13] is None else int(r[13]),
    )


def recent_actions(
    db: sqlite_utils.Database, limit: int = 100, offset: int = 0
) -> list[ActionView]:
    """Actions newest first."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM review_actions ORDER BY id DESC LIMIT ? OFFSET ?",
        [limit, offset],
    ).fetchall()
    return [_view(r) for r in rows]


def action_count(db: sqlite_utils.Database) -> int:
    """How many actions the log holds."""
    return int(db.execute("SELECT count(*) FROM review_actions").fetchone()[0])


def get_action(db: sqlite_utils.Database, action_id: int) -> ActionView:
    """One action, or `NotFound`."""
    row = db.execute(f"SELECT {_COLUMNS} FROM review_actions WHERE id = ?", [action_id]).fetchone()
    if row is None:
        raise NotFound(f"no review action {action_id} in the audit log")
    return _view(row)


def undoable(db: sqlite_utils.Database) -> int | None:
    """The action an undo reverses now: the latest that is neither an undo nor undone
    (undo goes back one step at a time, so everything after it is undone already)."""
    row = db.execute(
        "SELECT id FROM review_actions WHERE action != 'undo' AND undone_by IS NULL"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else int(row[0])


def inverse_of(db: sqlite_utils.Database, action_id: int) -> dict[str, Any]:
    """The old values an action replaced (its ``inverse``)."""
    row = db.execute("SELECT inverse FROM review_actions WHERE id = ?", [action_id]).fetchone()
    if row is None:
        raise NotFound(f"no review action {action_id} in the audit log")
    value: dict[str, Any] = json.loads(row[0])
    return value
