"""Fleet-wide identities: which of the boxes' individuals are one bear.

Every individual is a row keyed by (agent_id, individual_id). Rows are one bear
when they are joined by any of:
- a shared name: named individuals (``bear-NNNN``, unique only on their box) with
  the same name on different boxes (compared without case or surrounding space);
- a box's merge (a provisional individual promoted into a named one);
- a link made at the station (`link`), audited and reversible (`unlink`).
Each bear gets a label for exports: its name, else its provisional id
(``unknown-<agent>-NNNN`` is unique across the fleet), else ``agent:individual``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update

from bearstation.errors import IdentityError
from bearstation.tables import individuals, links


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
    parent = {r.id: r.id for r in rows}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    by_name: dict[str, int] = {}
    for r in rows:
        if r.merged_into_id is not None and r.merged_into_id in parent:
            join(r.id, r.merged_into_id)
        if r.name and not r.provisional:
            key = r.name.strip().casefold()
            if key in by_name:
                join(r.id, by_name[key])
            else:
                by_name[key] = r.id
    for a, b in conn.execute(
        select(links.c.a_id, links.c.b_id).where(links.c.unlinked_at.is_(None))
    ):
        join(a, b)
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
    """Record that individuals `a` and `b` (of two boxes) are one bear."""
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
        now = datetime.now(UTC)
        result = conn.execute(
            links.insert().values(
                a_id=first.id, b_id=second.id, linked_at=now, linked_by=by, note=note
            )
        )
        link_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return Link(link_id, label_of(first), label_of(second), now, by, note, None, None)


def unlink(engine: Engine, a: str, b: str, *, by: str) -> int:
    """End the link(s) between `a` and `b`; returns how many (the rows stay, as the audit)."""
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
    return int(ended)


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
