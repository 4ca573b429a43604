"""The box's record of the desk's decisions (component ``fleet_decisions``).

One row per desk command, written when its first ``decision`` message arrives (a
repeat changes nothing): what it asks, and its state here: ``received`` (not tried
yet), ``waiting`` (its encounter is still open: tried again later), ``applied`` (the
review action that applied it, and that action's correction) or ``refused`` (the
box's words, sent back in a ``refused`` correction).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from bearagent.fleet.decision_payloads import DECISION_ACTIONS, DecisionAction
from bearagent.gallery.writes import now_iso
from bearagent.store import Migration, migrate

COMPONENT = "fleet_decisions"
#: States a decision is still to be applied in.
PENDING = ("received", "waiting")


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE fleet_decisions ("
        " command_id TEXT PRIMARY KEY,"
        " station_id TEXT NOT NULL,"
        " encounter_id TEXT NOT NULL,"
        " action TEXT NOT NULL,"
        " individual_id TEXT,"
        " name TEXT,"
        " files TEXT,"
        " note TEXT,"
        " undoes TEXT,"
        " by TEXT NOT NULL,"
        " received_at TEXT NOT NULL,"
        " state TEXT NOT NULL CHECK (state IN ('received', 'waiting', 'applied', 'refused')),"
        " tries INTEGER NOT NULL DEFAULT 0,"
        " action_id INTEGER,"
        " event_id TEXT,"
        " reason TEXT,"
        " updated_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX fleet_decisions_state ON fleet_decisions (state, received_at)")


#: Migrations of the table, oldest first; append, never edit.
STEPS: list[Migration] = [_v1]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the table."""
    migrate(db, COMPONENT, STEPS)


@dataclass(frozen=True)
class DeskDecision:
    """One decision of the desk about one of this box's encounters."""

    command_id: str
    station_id: str
    encounter_id: str
    action: DecisionAction
    by: str
    individual_id: str | None = None
    name: str | None = None
    files: tuple[str, ...] | None = None  # reject: the chips (None: all)
    note: str | None = None  # reject: the reason
    undoes: str | None = None  # undo: the command whose decision it reverses

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DeskDecision:
        """The decision a checked ``decision`` message carries; ValueError if it cannot be
        one (an action this box does not know, a field missing for its action)."""
        action = body.get("action")
        found = next((a for a in DECISION_ACTIONS if a == action), None)
        if found is None:
            raise ValueError(f"unknown decision {action!r}: this box applies "
                             f"{', '.join(DECISION_ACTIONS)}")  # fmt: skip
        files = body.get("files")
        decision = cls(
            command_id=str(body["command_id"]),
            station_id=str(body.get("station_id") or "station"),
            encounter_id=str(body["encounter_id"]),
            action=found,
            by=str(body["by"]),
            individual_id=body.get("individual_id"),
            name=body.get("name"),
            files=None if files is None else tuple(str(f) for f in files),
            note=body.get("note"),
            undoes=body.get("undoes"),
        )
        needs = {"assign": "individual_id", "create": "name", "undo": "undoes"}.get(found)
        if needs is not None and not getattr(decision, needs):
            raise ValueError(f"a {found!r} decision needs {needs}")
        return decision

    @property
    def client(self) -> str:
        """What the audit records as where the action came from: the desk's command
        (also how a decision applied just before a crash is recognised)."""
        return f"station desk, command {self.command_id}"


def record(db: sqlite_utils.Database, decision: DeskDecision) -> bool:
    """Keep `decision` (in the caller's transaction); False when it was there already."""
    now = now_iso()
    cursor = db.execute(
        "INSERT INTO fleet_decisions (command_id, station_id, encounter_id, action,"
        " individual_id, name, files, note, undoes, by, received_at, state, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?)"
        " ON CONFLICT (command_id) DO NOTHING",
        [decision.command_id, decision.station_id, decision.encounter_id, decision.action,
         decision.individual_id, decision.name,
         None if decision.files is None else json.dumps(list(decision.files)),
         decision.note, decision.undoes, decision.by, now, now],
    )  # fmt: skip
    return cursor.rowcount == 1


def pending(db: sqlite_utils.Database) -> list[DeskDecision]:
    """The decisions still to apply, in the order they arrived."""
    rows = db.execute(
        "SELECT command_id, station_id, encounter_id, action, by, individual_id, name, files,"
        " note, undoes FROM fleet_decisions WHERE state IN ('received', 'waiting')"
        " ORDER BY received_at, rowid"
    ).fetchall()
    return [
        DeskDecision(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                     None if r[7] is None else tuple(json.loads(r[7])), r[8], r[9])
        for r in rows
    ]  # fmt: skip


def set_state(
    db: sqlite_utils.Database,
    command_id: str,
    state: str,
    *,
    action_id: int | None = None,
    event_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Record how far `command_id` got (in the caller's transaction)."""
    db.execute(
        "UPDATE fleet_decisions SET state = ?, tries = tries + 1, action_id = ?, event_id = ?,"
        " reason = ?, updated_at = ? WHERE command_id = ?",
        [state, action_id, event_id, reason, now_iso(), command_id],
    )


def applied_action(db: sqlite_utils.Database, command_id: str) -> tuple[int, str] | None:
    """(review action id, its correction's event id) of the action that applied
    `command_id`, found by the audit row's client."""
    row = db.execute(
        "SELECT id, event_id FROM review_actions WHERE client = ? ORDER BY id LIMIT 1",
        [f"station desk, command {command_id}"],
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def state_of(db: sqlite_utils.Database, command_id: str) -> tuple[str, str | None] | None:
    """(state, reason) of `command_id`, or None when the box never received it."""
    row = db.execute(
        "SELECT state, reason FROM fleet_decisions WHERE command_id = ?", [command_id]
    ).fetchone()
    return None if row is None else (str(row[0]), row[1])
