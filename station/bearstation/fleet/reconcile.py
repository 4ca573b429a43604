"""One concept of identity at the station: boxes' individuals are fleet individuals.

The station's ``individuals`` rows say which box's id an event named (keyed by agent
id and individual id); the fleet gallery says which bear that is. `fleet_id_of_row`
maps a row to its fleet individual, `ensure_registered` adds one the fleet gallery
lacks, and `adopt_station_individuals` adds every individual a station knew before it
had a fleet gallery (with the box merges and station links between them), once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from bearagent.gallery.fleet_ids import fleet_id_of
from bearstation.fleet.feed import ensure_state
from bearstation.fleet.gallery import merge_individuals
from bearstation.fleet.gallery_ingest import register_box_individual
from bearstation.fleet.gallery_rows import FleetIndividual, find_individual
from bearstation.tables import fleet_state, individuals, links


def fleet_id_of_row(row: Any) -> str:
    """The fleet id of a station ``individuals`` row (anything with its agent_id and
    individual_id)."""
    return fleet_id_of(str(row.agent_id), str(row.individual_id))


def ensure_registered(conn: Connection, row: Row[Any]) -> str:
    """The fleet id of an ``individuals`` row, registered from what the row says if new."""
    seen = row.first_seen_at or row.name_at or datetime.now(UTC)
    return register_box_individual(
        conn, row.agent_id, row.individual_id, name=row.name, provisional=row.provisional,
        seen_at=seen,
    )  # fmt: skip


def root_of(conn: Connection, fleet_id: str) -> FleetIndividual | None:
    """The fleet individual `fleet_id` is (followed through its merge), if registered."""
    found = find_individual(conn, fleet_id)
    if found is None or found.merged_into is None:
        return found
    return find_individual(conn, found.merged_into)


def join(conn: Connection, a: str, b: str, by: str) -> bool:
    """Merge the fleet individuals of `a` and `b` (fleet ids) into one: into the named
    one, else into the one with the smaller id; False when they were one already."""
    first, second = root_of(conn, a), root_of(conn, b)
    if first is None or second is None or first.id == second.id:
        return False
    ordered = sorted((first, second), key=lambda f: (f.name is None, f.id))
    merge_individuals(conn, ordered[1].id, ordered[0].id, by)
    return True


def adopt_station_individuals(conn: Connection) -> int:
    """Once: register every individual the station knew before its fleet gallery, then
    make its box merges and its station links fleet merges; returns how many were added."""
    ensure_state(conn)
    if conn.execute(select(fleet_state.c.adopted_at)).scalar_one_or_none() is not None:
        return 0
    rows = list(conn.execute(select(individuals).order_by(individuals.c.id)))
    added = 0
    for row in rows:
        if find_individual(conn, fleet_id_of_row(row)) is None:
            ensure_registered(conn, row)
            added += 1
    by_id = {r.id: r for r in rows}
    for row in rows:
        if row.merged_into_id is not None and row.merged_into_id in by_id:
            join(conn, fleet_id_of_row(row), fleet_id_of_row(by_id[row.merged_into_id]),
                 f"box {row.agent_id}")  # fmt: skip
    active = conn.execute(
        select(links.c.a_id, links.c.b_id, links.c.linked_by).where(links.c.unlinked_at.is_(None))
    )
    for a, b, by in list(active):
        if a in by_id and b in by_id:
            join(conn, fleet_id_of_row(by_id[a]), fleet_id_of_row(by_id[b]), by)
    conn.execute(
        update(fleet_state).where(fleet_state.c.id == 1).values(adopted_at=datetime.now(UTC))
    )
    return added
