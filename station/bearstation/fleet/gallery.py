"""The fleet gallery: the station's one record of the fleet's individuals.

Every individual has a fleet-unique id (``bear-<agent_id>-NNNN`` or
``unknown-<agent_id>-NNNN`` from the box that found it, ``bear-<station_id>-NNNN``
from the station), a name unique across the fleet (compared case-folded),
a provisional flag, the box or station that made it, and, once merged, the one it
was merged into. Its reference chips are chips of the media store (by SHA-256; their
embeddings per model are the store's). Each function here writes its change and
its feed entries (`bearstation.fleet.feed`) in the caller's transaction; every box
applies the feed to its own gallery.

`create_individual`, `name_individual`, `merge_individuals` and `split_individual`
are what a person does (at the desk or with ``bear-station individuals``); what
boxes report feeds the same functions (`bearstation.fleet.gallery_ingest`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select, update

from bearagent.gallery.errors import InvalidName
from bearagent.gallery.individuals import validate_name
from bearstation.fleet.feed import FeedChange, append_change, ensure_state
from bearstation.fleet.feed import feed_since as feed_since
from bearstation.fleet.gallery_errors import FleetMergeRefused, FleetNameInvalid, FleetNameTaken
from bearstation.fleet.gallery_rows import (
    FleetIndividual,
    FleetReference,
    find_individual,
    name_key,
    resolve_root,
)
from bearstation.fleet.gallery_rows import fleet_references as fleet_references
from bearstation.fleet.gallery_rows import get_fleet_individual as get_fleet_individual
from bearstation.fleet.gallery_rows import list_fleet_individuals as list_fleet_individuals
from bearstation.tables import fleet_individuals, fleet_state
from bearstation.tables import fleet_references as references_table

__all__ = [
    "FeedChange",
    "FleetIndividual",
    "FleetReference",
    "create_individual",
    "feed_since",
    "fleet_references",
    "get_fleet_individual",
    "insert_individual",
    "list_fleet_individuals",
    "merge_individuals",
    "name_individual",
    "split_individual",
]

DEFAULT_STATION_ID = "station"


def checked_name(name: str) -> str:
    """`name` stripped, or `FleetNameInvalid` saying what a usable name looks like."""
    try:
        return validate_name(name)
    except InvalidName as e:
        raise FleetNameInvalid(str(e)) from None


def _check_free(conn: Connection, name: str, owner: str | None) -> None:
    holder = conn.execute(
        select(fleet_individuals.c.id).where(fleet_individuals.c.name_key == name_key(name))
    ).scalar_one_or_none()
    if holder is not None and holder != owner:
        raise FleetNameTaken(
            f"the name {name!r} is already {holder}'s in the fleet gallery: choose another "
            f"name, or merge into {holder} (bear-station individuals merge ID {holder})"
        )


def _individual_change(conn: Connection, individual_id: str, now: datetime) -> None:
    row = find_individual(conn, individual_id)
    assert row is not None
    append_change(conn, "individual", {"individual_id": row.id, "name": row.name,
                                       "provisional": row.provisional, "origin": row.origin},
                  now)  # fmt: skip


def insert_individual(
    conn: Connection, individual_id: str, name: str | None, provisional: bool, origin: str,
    by: str, now: datetime, *, feed: bool = True,
) -> None:  # fmt: skip
    """Add an individual (its name checked free) and, with `feed`, its feed entry."""
    if name is not None:
        _check_free(conn, name, None)
    conn.execute(
        fleet_individuals.insert().values(
            id=individual_id, name=name, name_key=name_key(name) if name else None,
            provisional=provisional, origin=origin, created_at=now, created_by=by,
            updated_at=now,
        )
    )  # fmt: skip
    if feed:
        _individual_change(conn, individual_id, now)


def create_individual(
    conn: Connection, name: str, by: str, *, station_id: str | None = None
) -> str:
    """A new named individual minted by the station (``bear-<station_id>-NNNN``)."""
    clean = checked_name(name)
    _check_free(conn, clean, None)
    ensure_state(conn)
    now = datetime.now(UTC)
    conn.execute(
        update(fleet_state).where(fleet_state.c.id == 1)
        .values(next_number=fleet_state.c.next_number + 1)
    )  # fmt: skip
    state = conn.execute(select(fleet_state).where(fleet_state.c.id == 1)).one()
    owner = station_id or state.station_id or DEFAULT_STATION_ID
    number = int(state.next_number) - 1
    new_id = f"bear-{owner}-{number:04d}"
    while find_individual(conn, new_id) is not None:  # an agent id equal to the station's
        number += 1
        new_id = f"bear-{owner}-{number:04d}"
    conn.execute(update(fleet_state).where(fleet_state.c.id == 1).values(next_number=number + 1))
    insert_individual(conn, new_id, clean, False, owner, by, now)
    return new_id


def name_individual(conn: Connection, ref: str, name: str, by: str) -> FleetIndividual:
    """Give individual `ref` (id or name; a merged one's: the one it went into) the name
    `name`; a provisional one becomes a named one and keeps its id."""
    clean = checked_name(name)
    target = resolve_root(conn, ref)
    _check_free(conn, clean, target.id)
    if (target.name, target.provisional) != (clean, False):
        now = datetime.now(UTC)
        conn.execute(
            update(fleet_individuals).where(fleet_individuals.c.id == target.id)
            .values(name=clean, name_key=name_key(clean), provisional=False, updated_at=now)
        )  # fmt: skip
        _individual_change(conn, target.id, now)
    return get_fleet_individual(conn, target.id)


def merge_individuals(
    conn: Connection, source_ref: str, target_ref: str, by: str
) -> FleetIndividual:
    """`source_ref` is really `target_ref`: its references, and what was merged into it,
    become the target's; the target takes the source's name when it has none.
    Returns the target as it is now."""
    source, target = get_fleet_individual(conn, source_ref), resolve_root(conn, target_ref)
    if source.merged_into is not None:
        raise FleetMergeRefused(
            f"{source.id} was merged into {source.merged_into} already: merge that one instead"
        )
    if source.id == target.id:
        raise FleetMergeRefused(f"{source.label} and {target.label} are one individual already")
    now = datetime.now(UTC)
    name = target.name if target.name is not None else source.name
    provisional = target.provisional and source.provisional
    conn.execute(
        update(fleet_individuals).where(fleet_individuals.c.id == source.id)
        .values(merged_into=target.id, merged_at=now, merged_by=by, name_key=None,
                updated_at=now)
    )  # fmt: skip
    conn.execute(
        update(fleet_individuals).where(fleet_individuals.c.merged_into == source.id)
        .values(merged_into=target.id)
    )  # fmt: skip
    conn.execute(
        update(references_table).where(references_table.c.individual_id == source.id)
        .values(individual_id=target.id)
    )  # fmt: skip
    conn.execute(
        update(fleet_individuals).where(fleet_individuals.c.id == target.id)
        .values(name=name, name_key=name_key(name) if name else None,
                provisional=provisional, updated_at=now)
    )  # fmt: skip
    append_change(conn, "merge", {"from": source.id, "into": target.id, "name": name,
                                  "provisional": provisional}, now)  # fmt: skip
    return get_fleet_individual(conn, target.id)


def split_individual(conn: Connection, individual_id: str, by: str) -> FleetIndividual:
    """Undo the merge of `individual_id`: it is an individual of its own again, with the
    reference chips it brought (and its name, when no one took it meanwhile)."""
    source = get_fleet_individual(conn, individual_id)
    if source.merged_into is None:
        raise FleetMergeRefused(f"{source.label} is not merged into another individual")
    target, now = source.merged_into, datetime.now(UTC)
    name = source.name
    if name is not None:
        holder = conn.execute(
            select(fleet_individuals.c.id).where(fleet_individuals.c.name_key == name_key(name))
        ).scalar_one_or_none()
        name = name if holder is None else None
    conn.execute(
        update(fleet_individuals).where(fleet_individuals.c.id == source.id)
        .values(merged_into=None, merged_at=None, merged_by=None, name=name,
                name_key=name_key(name) if name else None, updated_at=now)
    )  # fmt: skip
    conn.execute(
        update(references_table)
        .where(references_table.c.first_individual_id == source.id,
               references_table.c.individual_id == target)
        .values(individual_id=source.id)
    )  # fmt: skip
    append_change(conn, "split", {"individual_id": source.id, "from": target, "name": name,
                                  "provisional": source.provisional, "by": by}, now)  # fmt: skip
    return get_fleet_individual(conn, source.id)
