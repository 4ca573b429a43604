"""Fleet-wide identities: which of the boxes' individuals are one bear.

Every individual an event names is a row keyed by (agent_id, individual_id); the fleet
gallery (`bearstation.fleet.gallery`) says which bear each is: a row is the fleet
individual of its fleet id (`bearstation.fleet.reconcile`), or the one that was merged
into. Named ones join by name there, a box's merge is a fleet merge, and a link made
at the station (`link`, audited) merges the two in the fleet gallery, which every box
applies to its own gallery; `unlink` splits them again, everywhere. Each bear gets a
label for exports: its name, else its fleet id.

Rows the fleet gallery does not hold yet (a station database from before it, until
the running station adds them) join as the station always did: by name, by a box's
merge, by a link.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update

from bearstation.errors import IdentityError
from bearstation.fleet.gallery import split_individual
from bearstation.fleet.gallery_rows import FleetIndividual, find_individual
from bearstation.fleet.reconcile import ensure_registered, fleet_id_of_row, join
from bearstation.tables import fleet_individuals, individuals, links


@dataclass(frozen=True)
class Bear:
    """One bear across the fleet: its label, and whether a box has named it."""

    label: str
    named: bool


@dataclass(frozen=True)
class Link:
    """One link made at the station, and whether it still holds."""

    id: int
    a: str
    b: str
    linked_at: datetime
    linked_by: str
    note: str | None
    unlinked_at: datetime | None
    unlinked_by: str | None


def label_of(row: Row[Any]) -> str:
    """``agent:individual``, how the station writes one box's individual."""
    return f"{row.agent_id}:{row.individual_id}"


def resolve(conn: Connection, reference: str) -> Row[Any]:
    """The individual `reference` names: ``AGENT:ID``, or an id found on one box only."""
    agent, sep, individual = reference.strip().rpartition(":")
    query = select(individuals)
    if sep:
        query = query.where(
            individuals.c.agent_id == agent, individuals.c.individual_id == individual
        )
    else:
        query = query.where(individuals.c.individual_id == individual)
    rows = conn.execute(query).all()
    if not rows:
        raise IdentityError(
            f"no individual {reference!r} at the station: see 'bear-station individuals' "
            "(write AGENT:ID, e.g. den-01:bear-0004)"
        )
    if len(rows) > 1:
        boxes = ", ".join(sorted(r.agent_id for r in rows))
        raise IdentityError(
            f"{reference!r} is on several boxes ({boxes}): write AGENT:ID, e.g. "
            f"{rows[0].agent_id}:{individual}"
        )
    return rows[0]


def fleet_bears(conn: Connection) -> dict[int, Bear]:
    """Every individual's row id -> the bear it belongs to."""
    rows = conn.execute(select(individuals)).all()
    fleet = {r.id: r for r in conn.execute(select(fleet_individuals))}
    bears: dict[int, Bear] = {}
    legacy: list[Row[Any]] = []
    for r in rows:
        found = fleet.get(fleet_id_of_row(r))
        if found is None:
            legacy.append(r)
            continue
        root = fleet.get(found.merged_into, found) if found.merged_into else found
        bears[r.id] = Bear(root.name or root.id, root.name is not None)
    bears.update(_legacy_bears(conn, legacy))
    return bears


def fleet_ids_of_rows(conn: Connection) -> dict[int, str]:
    """Every individual's row id -> the fleet id of the individual it is (followed through
    merges); rows the fleet gallery does not hold yet are left out."""
    rows = conn.execute(select(individuals.c.id, individuals.c.agent_id,
                               individuals.c.individual_id)).all()  # fmt: skip
    merged = dict(
        conn.execute(select(fleet_individuals.c.id, fleet_individuals.c.merged_into)).all()
    )
    found: dict[int, str] = {}
    for r in rows:
        fleet_id = fleet_id_of_row(r)
        if fleet_id in merged:
            found[r.id] = merged[fleet_id] or fleet_id
    return found


def _legacy_bears(conn: Connection, rows: list[Row[Any]]) -> dict[int, Bear]:
    """Rows the fleet gallery does not hold yet, joined by name, box merges and links."""
    parent = {r.id: r.id for r in rows}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def unite(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    by_name: dict[str, int] = {}
    for r in rows:
        if r.merged_into_id is not None and r.merged_into_id in parent:
            unite(r.id, r.merged_into_id)
        if r.name and not r.provisional:
            key = r.name.strip().casefold()
            if key in by_name:
                unite(r.id, by_name[key])
            else:
                by_name[key] = r.id
    for a, b in conn.execute(
        select(links.c.a_id, links.c.b_id).where(links.c.unlinked_at.is_(None))
    ):
        if a in parent and b in parent:
            unite(a, b)
    members: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in rows:
        members[find(r.id)].append(r)
    bears: dict[int, Bear] = {}
    for group in members.values():
        bear = _bear(group)
        bears.update({r.id: bear for r in group})
    return bears


def _bear(group: list[Row[Any]]) -> Bear:
    names = {r.name.strip().casefold(): r.name.strip() for r in group if r.name and r.name.strip()}
    if names:
        return Bear(" / ".join(sorted(names.values())), True)
    provisional = sorted(r.individual_id for r in group if r.provisional)
    return Bear(provisional[0] if provisional else min(label_of(r) for r in group), False)


def link(engine: Engine, a: str, b: str, *, by: str, note: str | None = None) -> Link:
    """Record that individuals `a` and `b` (of two boxes) are one bear: they merge in the
    fleet gallery (into the named one, else the one with the smaller id), and so in
    every box's gallery."""
    with engine.begin() as conn:
        first, second = resolve(conn, a), resolve(conn, b)
        if first.agent_id == second.agent_id:
            raise IdentityError(
                f"{label_of(first)} and {label_of(second)} are on the same box: merge them on "
                "that box's review page (or 'bearagent gallery promote'), and the box tells "
                "the station"
            )
        bears = fleet_bears(conn)
        if bears[first.id] == bears[second.id]:
            raise IdentityError(
                f"{label_of(first)} and {label_of(second)} are already one individual "
                f"({bears[first.id].label})"
            )
        named = [bears[r.id].label for r in (first, second) if bears[r.id].named]
        if len(named) == 2:
            raise IdentityError(
                f"{label_of(first)} is {named[0]!r} and {label_of(second)} is {named[1]!r}: "
                "rename one of them on its box first, then they join by name"
            )
        join(conn, ensure_registered(conn, first), ensure_registered(conn, second), by)
        now = datetime.now(UTC)
        result = conn.execute(
            links.insert().values(
                a_id=first.id, b_id=second.id, linked_at=now, linked_by=by, note=note
            )
        )
        link_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return Link(link_id, label_of(first), label_of(second), now, by, note, None, None)


def unlink(engine: Engine, a: str, b: str, *, by: str) -> int:
    """End the link(s) between `a` and `b` and split their fleet merge; returns how many
    links ended (the rows stay, as the audit)."""
    with engine.begin() as conn:
        first, second = resolve(conn, a), resolve(conn, b)
        pair = ((links.c.a_id == first.id) & (links.c.b_id == second.id)) | (
            (links.c.a_id == second.id) & (links.c.b_id == first.id)
        )
        ended = conn.execute(
            update(links)
            .where(pair, links.c.unlinked_at.is_(None))
            .values(unlinked_at=datetime.now(UTC), unlinked_by=by)
        ).rowcount
        if not ended:
            raise IdentityError(
                f"{label_of(first)} and {label_of(second)} are not linked at the station "
                "(see 'bear-station links'); a link by name or by a box's merge is undone on "
                "the box"
            )
        _split(conn, first, second, by)
    return int(ended)


def _split(conn: Connection, first: Row[Any], second: Row[Any], by: str) -> None:
    """Undo the fleet merge a link made between the two rows' individuals."""
    a, b = (
        find_individual(conn, fleet_id_of_row(first)),
        find_individual(conn, fleet_id_of_row(second)),
    )
    if a is None or b is None:
        return
    for source, other in ((a, b), (b, a)):
        if source.merged_into is not None and source.merged_into == _root_id(other):
            split_individual(conn, source.id, by)
            return


def _root_id(individual: FleetIndividual) -> str:
    return individual.merged_into or individual.id


def all_links(conn: Connection) -> list[Link]:
    """Every link ever made, oldest first (unlinked ones included: the audit)."""
    a, b = individuals.alias("a"), individuals.alias("b")
    query = (
        select(links, a.c.agent_id.label("a_agent"), a.c.individual_id.label("a_ind"))
        .add_columns(b.c.agent_id.label("b_agent"), b.c.individual_id.label("b_ind"))
        .join(a, a.c.id == links.c.a_id)
        .join(b, b.c.id == links.c.b_id)
        .order_by(links.c.id)
    )
    return [
        Link(
            r.id,
            f"{r.a_agent}:{r.a_ind}",
            f"{r.b_agent}:{r.b_ind}",
            r.linked_at,
            r.linked_by,
            r.note,
            r.unlinked_at,
            r.unlinked_by,
        )
        for r in conn.execute(query)
    ]
