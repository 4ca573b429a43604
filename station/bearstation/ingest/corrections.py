"""Corrections: a person's decision on a box's review page, applied to the station's rows.

- confirm / assign / create / reject with an ``encounter_id``: the encounter takes
  the ``after`` identity and is marked decided by a person (later machine events
  keep it). A reject that lists only some of the encounter's chips marks just
  those chips rejected.
- merge (and a rename that changes the id): the box folded one individual into
  another (a promotion of a provisional bear): the old one points at the new one
  and its encounters move over. A rename keeping the id changes the name.
- undo: reverts exactly what the correction it names changed (each applied
  correction keeps the old values of every field it changed).

A correction whose encounter has not arrived yet waits as ``pending`` and is
applied when the encounter does; an undo that overtakes its correction waits too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, select, update

from bearstation.fleet.gallery_ingest import apply_box_correction
from bearstation.ingest.fields import parse_time
from bearstation.ingest.registry import individual_ref, touch_box
from bearstation.messages import Event
from bearstation.tables import UtcDateTime, corrections, encounters, individuals, sightings

_TABLES: dict[str, Table] = {"encounters": encounters, "individuals": individuals}
_TABLES["sightings"] = sightings
Change = dict[str, Any]


def store_correction(conn: Connection, event: Event, received_at: datetime) -> None:
    """Record a correction and apply it (or leave it pending)."""
    body = event.body
    touch_box(conn, event.agent_id, received_at)
    conn.execute(
        corrections.insert().values(
            event_id=body["event_id"],
            agent_id=event.agent_id,
            corrected_at=parse_time(body["corrected_at"], "corrected_at"),
            by=body["by"],
            action=body["action"],
            encounter_id=body["encounter_id"],
            files=body["files"],
            before=body["before"],
            after=body["after"],
            undoes=body["undoes"],
            note=body.get("note"),
            state="pending",
            changes=[],
        )
    )
    apply_correction(conn, body["event_id"])
    apply_box_correction(conn, event.agent_id, body, received_at)
    waiting = conn.execute(
        select(corrections.c.event_id).where(
            corrections.c.agent_id == event.agent_id,
            corrections.c.undoes == body["event_id"],
            corrections.c.state == "pending",
        )
    ).scalars()
    for undo in list(waiting):
        apply_correction(conn, undo)


def apply_pending(conn: Connection, agent_id: str, encounter_id: str) -> None:
    """Apply the corrections that were waiting for this encounter, oldest first."""
    waiting = conn.execute(
        select(corrections.c.event_id)
        .where(
            corrections.c.agent_id == agent_id,
            corrections.c.encounter_id == encounter_id,
            corrections.c.state == "pending",
        )
        .order_by(corrections.c.corrected_at)
    ).scalars()
    for event_id in list(waiting):
        apply_correction(conn, event_id)


def apply_correction(conn: Connection, event_id: str) -> str:
    """Apply one stored correction; returns its new state."""
    row = conn.execute(select(corrections).where(corrections.c.event_id == event_id)).one()
    changes: list[Change] | None
    reason = None
    if row.action == "undo":
        changes = _undo(conn, row)
    elif row.encounter_id is not None:
        changes = _apply_to_encounter(conn, row)
    elif row.action in ("merge", "rename"):
        changes, reason = _merge_or_rename(conn, row)
    else:
        changes, reason = [], f"a {row.action!r} correction that names no encounter"
    if changes is None:
        return "pending"
    state = "ignored" if reason else "applied"
    conn.execute(
        update(corrections)
        .where(corrections.c.event_id == event_id)
        .values(state=state, changes=changes, reason=reason)
    )
    return state


def _apply_to_encounter(conn: Connection, row: Row[Any]) -> list[Change] | None:
    enc = conn.execute(
        select(encounters).where(
            encounters.c.agent_id == row.agent_id, encounters.c.encounter_id == row.encounter_id
        )
    ).one_or_none()
    if enc is None:
        return None
    changes: list[Change] = []
    chips = conn.execute(
        select(sightings.c.id, sightings.c.file, sightings.c.rejected).where(
            sightings.c.encounter_ref == enc.id
        )
    ).all()
    listed = set(row.files)
    if row.action == "reject" and listed and listed < {c.file for c in chips}:
        for chip in (c for c in chips if c.file in listed and not c.rejected):
            changes.append(_change(conn, sightings, chip.id, {"rejected": True}))
        return changes
    after = row.after
    individual = None
    if after["individual_id"] is not None:
        individual = _individual(conn, row, after, changes)
    values = {
        "status": after["status"],
        "individual_ref": individual,
        "decided_by": "human",
        "corrected_at": row.corrected_at,
        "corrected_by": row.by,
    }
    changes.append(_change(conn, encounters, enc.id, values))
    return changes


def _merge_or_rename(conn: Connection, row: Row[Any]) -> tuple[list[Change], str | None]:
    old_id, new_id = row.before["individual_id"], row.after["individual_id"]
    if old_id is None or new_id is None:
        return [], f"a {row.action!r} correction needs an individual before and after"
    changes: list[Change] = []
    if old_id == new_id:
        target = _individual(conn, row, row.after, changes)
        if row.after["name"] is None:
            changes.append(_change(conn, individuals, target, {"name": None}))
        return changes, None
    source = individual_ref(conn, row.agent_id, old_id, name=None, named_at=row.corrected_at)
    target = _individual(conn, row, row.after, changes)
    changes.append(_change(conn, individuals, source, {"merged_into_id": target}))
    moved = conn.execute(
        select(encounters.c.id).where(
            encounters.c.agent_id == row.agent_id, encounters.c.individual_ref == source
        )
    ).scalars()
    for enc in list(moved):
        changes.append(_change(conn, encounters, enc, {"individual_ref": target}))
    return changes, None


def _individual(conn: Connection, row: Row[Any], who: dict[str, Any], changes: list[Change]) -> int:
    """The individual `who` names, created if new; a name change is recorded in `changes`."""
    ref = individual_ref(
        conn, row.agent_id, who["individual_id"], name=None, named_at=row.corrected_at
    )
    if who["name"] is not None:
        changes.append(
            _change(conn, individuals, ref, {"name": who["name"], "name_at": row.corrected_at})
        )
    return ref


def _change(conn: Connection, table: Table, row_id: int, values: dict[str, Any]) -> Change:
    """Set `values` on one row; returns the old values, JSON-ready, to undo it."""
    old = conn.execute(select(*(table.c[k] for k in values)).where(table.c.id == row_id)).one()
    conn.execute(update(table).where(table.c.id == row_id).values(**values))
    return {
        "table": table.name,
        "id": row_id,
        "old": {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in old._mapping.items()
        },
    }


def _revert(conn: Connection, changes: list[Change]) -> None:
    for change in reversed(changes):
        table = _TABLES[change["table"]]
        old = {
            k: parse_time(v, k) if isinstance(table.c[k].type, UtcDateTime) and v else v
            for k, v in change["old"].items()
        }
        conn.execute(update(table).where(table.c.id == change["id"]).values(**old))


def _undo(conn: Connection, row: Row[Any]) -> list[Change] | None:
    target = conn.execute(
        select(corrections).where(
            corrections.c.event_id == row.undoes, corrections.c.agent_id == row.agent_id
        )
    ).one_or_none()
    if target is None:
        return None
    if target.state == "applied":
        _revert(conn, target.changes)
        if target.action == "undo" and target.undoes is not None:  # undoing an undo: redo
            conn.execute(
                update(corrections)
                .where(corrections.c.event_id == target.undoes)
                .values(state="pending")
            )
            apply_correction(conn, target.undoes)
    conn.execute(
        update(corrections).where(corrections.c.event_id == target.event_id).values(state="undone")
    )
    return []
