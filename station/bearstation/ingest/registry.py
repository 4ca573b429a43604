"""Boxes, cameras and individuals: found or created as events name them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from bearagent.wire.payloads import PROVISIONAL_ID
from bearstation.fleet.gallery_ingest import register_box_individual
from bearstation.ingest.sql import earliest, find_id, insert_ignore, latest
from bearstation.tables import boxes, cameras, individuals


def is_provisional(individual_id: str) -> bool:
    """Whether `individual_id` names a provisional individual (``unknown-<agent>-NNNN``)."""
    return PROVISIONAL_ID.match(individual_id) is not None


def touch_box(conn: Connection, agent_id: str, seen_at: datetime) -> None:
    """Record that `agent_id` was heard from at `seen_at`."""
    inserted = insert_ignore(
        conn, boxes, {"agent_id": agent_id, "first_seen_at": seen_at, "last_seen_at": seen_at}
    )
    if not inserted:
        conn.execute(
            update(boxes)
            .where(boxes.c.agent_id == agent_id, boxes.c.last_seen_at < seen_at)
            .values(last_seen_at=seen_at)
        )


def set_status(conn: Connection, agent_id: str, online: bool, at: datetime) -> None:
    """The box's retained status (online / offline) as of `at`."""
    touch_box(conn, agent_id, at)
    conn.execute(
        update(boxes)
        .where(boxes.c.agent_id == agent_id)
        .values(status="online" if online else "offline", status_at=at)
    )


def camera_id(
    conn: Connection, agent_id: str, site: str, camera: str, first: datetime, last: datetime
) -> int:
    """The camera's row id (created at first sight), its capture span widened to [first, last]."""
    row = conn.execute(
        select(cameras.c.id, cameras.c.first_captured_at, cameras.c.last_captured_at).where(
            cameras.c.agent_id == agent_id, cameras.c.site == site, cameras.c.camera == camera
        )
    ).one_or_none()
    if row is None:
        values = {"agent_id": agent_id, "site": site, "camera": camera}
        insert_ignore(
            conn, cameras, {**values, "first_captured_at": first, "last_captured_at": last}
        )
        found = find_id(conn, cameras, **values)
        assert found is not None  # just inserted (or by a concurrent writer)
        return found
    span = (earliest(row.first_captured_at, first), latest(row.last_captured_at, last))
    if span != (row.first_captured_at, row.last_captured_at):
        conn.execute(
            update(cameras)
            .where(cameras.c.id == row.id)
            .values(first_captured_at=span[0], last_captured_at=span[1])
        )
    return int(row.id)


def individual_ref(
    conn: Connection,
    agent_id: str,
    individual_id: str,
    *,
    name: str | None,
    named_at: datetime,
    seen: tuple[datetime, datetime] | None = None,
) -> int:
    """The row id of (agent_id, individual_id), created at first sight.

    `name` replaces the stored one when it is given and at least as recent
    (`named_at`) as the name stored; `seen` widens its first / last sighting.
    """
    keys = {"agent_id": agent_id, "individual_id": individual_id}
    row = conn.execute(
        select(
            individuals.c.id,
            individuals.c.name,
            individuals.c.name_at,
            individuals.c.first_seen_at,
            individuals.c.last_seen_at,
        ).where(individuals.c.agent_id == agent_id, individuals.c.individual_id == individual_id)
    ).one_or_none()
    if row is None:
        insert_ignore(
            conn,
            individuals,
            {
                **keys,
                "name": name,
                "name_at": named_at if name is not None else None,
                "provisional": is_provisional(individual_id),
                "first_seen_at": seen[0] if seen else None,
                "last_seen_at": seen[1] if seen else None,
            },
        )
        found = find_id(conn, individuals, **keys)
        assert found is not None
        provisional = is_provisional(individual_id)
        register_box_individual(
            conn, agent_id, individual_id, name=name, provisional=provisional, seen_at=named_at
        )
        return found
    changes: dict[str, object] = {}
    if name is not None and name != row.name and (row.name_at is None or named_at >= row.name_at):
        changes.update(name=name, name_at=named_at)
    if seen is not None:
        first, last = earliest(row.first_seen_at, seen[0]), latest(row.last_seen_at, seen[1])
        if (first, last) != (row.first_seen_at, row.last_seen_at):
            changes.update(first_seen_at=first, last_seen_at=last)
    if changes:
        conn.execute(update(individuals).where(individuals.c.id == row.id).values(**changes))
    return int(row.id)
