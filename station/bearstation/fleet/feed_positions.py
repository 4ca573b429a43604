"""How far each box has applied the fleet gallery's feed, and what the station sent it.

A box reports its position (``feed`` {"applied": N}) at start, on every connect,
after applying and when it cannot go on (a gap, a merge that waits). A report that
moves forward leaves what is in flight alone; one that does not (the box asks again,
or its database is new) makes the station send everything after N again, but not
sooner than `quiet_s` after its last send, so a box that waits is not flooded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from bearstation.ingest.sql import insert_ignore
from bearstation.tables import boxes, fleet_positions

#: After a send, a box that asks again without progress waits this long for the next.
QUIET_S = 5.0


@dataclass(frozen=True)
class FeedPosition:
    """One box's feed position as the station knows it."""

    agent_id: str
    applied: int
    reported_at: datetime
    sent_through: int
    sent_at: datetime | None
    retry_at: datetime | None
    resends: int
    online: bool  # the box's retained status: not 'offline'
    status_at: datetime | None


def record_feed_position(
    conn: Connection, agent_id: str, applied: int, at: datetime, quiet_s: float = QUIET_S
) -> None:
    """Box `agent_id` has applied every change through `applied` (inside the ingest)."""
    values = {"agent_id": agent_id, "applied": applied, "reported_at": at,
              "sent_through": applied, "sent_at": None, "retry_at": None,
              "resends": 0}  # fmt: skip
    if insert_ignore(conn, fleet_positions, values):
        return
    row = conn.execute(select(fleet_positions).where(fleet_positions.c.agent_id == agent_id)).one()
    if applied > row.applied:  # progress: what is in flight goes on
        changes = {"applied": applied, "sent_through": max(row.sent_through, applied),
                   "retry_at": None, "resends": 0}  # fmt: skip
    else:  # the box asks again (a gap, a merge that waits, a reconnect, a new database)
        soon = row.sent_at + timedelta(seconds=quiet_s) if row.sent_at else None
        changes = {"applied": applied, "sent_through": applied,
                   "retry_at": soon if soon is not None and soon > at else None}  # fmt: skip
    conn.execute(
        update(fleet_positions)
        .where(fleet_positions.c.agent_id == agent_id)
        .values(reported_at=max(at, row.reported_at), **changes)
    )


def feed_positions(conn: Connection) -> list[FeedPosition]:
    """Every box that reported a position, by agent id, with its online status."""
    rows = conn.execute(
        select(fleet_positions, boxes.c.status, boxes.c.status_at)
        .join(boxes, boxes.c.agent_id == fleet_positions.c.agent_id, isouter=True)
        .order_by(fleet_positions.c.agent_id)
    )
    return [
        FeedPosition(
            r.agent_id,
            int(r.applied),
            r.reported_at,
            int(r.sent_through),
            r.sent_at,
            r.retry_at,
            int(r.resends),
            r.status != "offline",
            r.status_at,
        )
        for r in rows
    ]


def mark_sent(conn: Connection, seen: FeedPosition, through: int, at: datetime) -> bool:
    """Record a send of the changes through `through`, unless a report came meanwhile
    (then the next round decides again); True when recorded."""
    done = conn.execute(
        update(fleet_positions)
        .where(
            fleet_positions.c.agent_id == seen.agent_id,
            fleet_positions.c.applied == seen.applied,
            fleet_positions.c.sent_through == seen.sent_through,
        )
        .values(sent_through=through, sent_at=at, retry_at=None)
    )
    return bool(done.rowcount)


def resend_stalled(conn: Connection, seen: FeedPosition, at: datetime) -> None:
    """Send again from the box's position: what was sent did not move it."""
    conn.execute(
        update(fleet_positions)
        .where(
            fleet_positions.c.agent_id == seen.agent_id,
            fleet_positions.c.sent_through == seen.sent_through,
        )
        .values(sent_through=fleet_positions.c.applied, retry_at=None,
                resends=fleet_positions.c.resends + 1)
    )  # fmt: skip
