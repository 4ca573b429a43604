"""The fleet gallery seen from the desk: candidates with their reference chips, individuals
with theirs, and the choices of the assign and merge forms.

Every read goes through the fleet gallery's library (`bearstation.fleet.gallery`); one
`CandidateLookup` serves one page and asks for each individual once (a queue page names
the same few bears many times).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from bearagent.gallery.fleet_ids import fleet_id_of
from bearstation.desk.views import CandidateCard, IndividualCard
from bearstation.fleet.gallery import (
    FleetIndividual,
    fleet_references,
    get_fleet_individual,
    list_fleet_individuals,
)
from bearstation.fleet.gallery_errors import UnknownFleetIndividual
from bearstation.tables import encounters, individuals


class CandidateLookup:
    """Individuals of the fleet gallery and their first reference chips, asked once each."""

    def __init__(self, conn: Connection, references: int) -> None:
        self.conn = conn
        self.references = references
        self._found: dict[str, tuple[FleetIndividual | None, tuple[str, ...]]] = {}

    def individual(self, individual_id: str) -> tuple[FleetIndividual | None, tuple[str, ...]]:
        """The individual `individual_id` leads to (its merge target when merged), or None
        when the fleet gallery does not know it, with its first reference chips."""
        if individual_id not in self._found:
            try:
                found = get_fleet_individual(self.conn, individual_id)
                if found.merged_into is not None:
                    found = get_fleet_individual(self.conn, found.merged_into)
                refs = fleet_references(self.conn, found.id)[: self.references]
                self._found[individual_id] = (found, tuple(r.sha256 for r in refs))
            except UnknownFleetIndividual:
                self._found[individual_id] = (None, ())
        return self._found[individual_id]

    def label_of(
        self, agent_id: str, individual_id: str | None, box_name: str | None
    ) -> str | None:
        """How box `agent_id`'s individual is shown: its fleet name, else what the box
        called it, else its id."""
        if individual_id is None:
            return None
        found, _refs = self.individual(fleet_id_of(agent_id, individual_id))
        if found is not None:
            return found.label
        return box_name or individual_id

    def candidates(
        self, agent_id: str, top_k: Iterable[dict[str, Any]], exclude: str | None = None
    ) -> list[CandidateCard]:
        """Box `agent_id`'s top-k (``individual_id``, ``name``, ``similarity``) as the fleet
        gallery knows them now, without the encounter's own individual."""
        cards = []
        for c in top_k:
            box_id = fleet_id_of(agent_id, str(c["individual_id"]))
            if exclude is not None and box_id == fleet_id_of(agent_id, exclude):
                continue
            found, refs = self.individual(box_id)
            if found is None:
                label = c.get("name") or box_id
                cards.append(
                    CandidateCard(box_id, label, float(c["similarity"]), "gone", box_id, (), 0)
                )
                continue
            kind = "provisional" if found.provisional else "named"
            cards.append(CandidateCard(box_id, found.label, float(c["similarity"]), kind,
                                       found.id, refs, found.references))  # fmt: skip
        return cards


def individual_card(conn: Connection, ref: str, references: int) -> IndividualCard:
    """One individual of the fleet gallery (by id or name) with its reference chips and
    the boxes that have encounters of it."""
    found = get_fleet_individual(conn, ref)
    refs = fleet_references(conn, found.id) if found.merged_into is None else []
    return _card(found, tuple(r.sha256 for r in refs[:references]), _boxes_of(conn, [found.id]))


def individual_cards(
    conn: Connection, *, provisional: bool | None, references: int, limit: int = 200
) -> list[IndividualCard]:
    """Individuals not merged into another (provisional ones, named ones, or all)."""
    found = list_fleet_individuals(conn, provisional=provisional, limit=limit)
    boxes = _boxes_by_individual(conn, [f.id for f in found])
    cards = []
    for f in found:
        refs = fleet_references(conn, f.id)[:references]
        cards.append(_card(f, tuple(r.sha256 for r in refs), tuple(boxes.get(f.id, ()))))
    return cards


def named_choices(conn: Connection, exclude: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(id, label) of every named individual, for the assign and merge forms."""
    return [
        (f.id, f.label if f.name == f.id else f"{f.label} ({f.id})")
        for f in list_fleet_individuals(conn, provisional=False)
        if f.id not in exclude
    ]


def search(conn: Connection, text: str, limit: int = 20) -> list[IndividualCard]:
    """Individuals whose id or name holds `text` (case-insensitive), named ones first."""
    needle = text.strip().casefold()
    if not needle:
        return []
    hits = [
        f for f in list_fleet_individuals(conn)
        if needle in f.id.casefold() or needle in (f.name or "").casefold()
    ]  # fmt: skip
    return [_card(f, (), ()) for f in hits[:limit]]


def _card(found: FleetIndividual, refs: tuple[str, ...], boxes: Sequence[str]) -> IndividualCard:
    return IndividualCard(found.id, found.name, found.provisional, found.origin,
                          found.merged_into, found.references, refs, tuple(boxes))  # fmt: skip


def _boxes_of(conn: Connection, ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({b for bs in _boxes_by_individual(conn, ids).values() for b in bs}))


def _boxes_by_individual(conn: Connection, ids: Sequence[str]) -> dict[str, list[str]]:
    """The boxes whose encounters name each individual (by the box's id of it)."""
    if not ids:
        return {}
    rows = conn.execute(
        select(individuals.c.individual_id, encounters.c.agent_id, func.count())
        .join(encounters, encounters.c.individual_ref == individuals.c.id)
        .where(individuals.c.individual_id.in_(list(ids)))
        .group_by(individuals.c.individual_id, encounters.c.agent_id)
    )
    found: dict[str, list[str]] = {}
    for individual_id, agent_id, _count in rows:
        found.setdefault(str(individual_id), []).append(str(agent_id))
    return {k: sorted(v) for k, v in found.items()}
