"""The fleet gallery seen from the desk: candidates with their reference chips, individuals
with theirs, and the choices of the assign and merge forms.

Individuals and their references come from the fleet gallery's library
(`bearstation.fleet.gallery`), except the candidates of a page: one `CandidateLookup`
reads every individual a page names, what they were merged into and their first
reference chips in four queries over the gallery's tables (a queue page names dozens;
asked one by one, they cost ten times as long).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
from bearstation.tables import encounters, fleet_individuals, individuals
from bearstation.tables import fleet_references as reference_rows


@dataclass(frozen=True)
class _Found:
    """What a candidate needs of an individual: the one it is now, and its references."""

    id: str
    name: str | None
    provisional: bool
    references: int

    @property
    def label(self) -> str:
        """Its name, else its id."""
        return self.name or self.id


class CandidateLookup:
    """Individuals of the fleet gallery and their first reference chips, read for a whole
    page at once (`prefetch`: four queries, however many encounters name them)."""

    def __init__(self, conn: Connection, references: int) -> None:
        self.conn = conn
        self.references = references
        self._found: dict[str, tuple[_Found | None, tuple[str, ...]]] = {}

    def prefetch(self, ids: Iterable[str]) -> None:
        """Read `ids` (fleet ids), the individuals they were merged into, and the first
        reference chips and reference counts of those."""
        wanted = sorted(set(ids) - set(self._found))
        if not wanted:
            return
        rows = {r.id: r for r in self._individuals(wanted)}
        roots = {r.merged_into for r in rows.values() if r.merged_into} - set(rows)
        rows.update({r.id: r for r in self._individuals(sorted(roots))})
        live = sorted({r.merged_into or r.id for r in rows.values()})
        counts: dict[str, int] = {
            str(owner): int(n)
            for owner, n in self.conn.execute(
                select(reference_rows.c.individual_id, func.count())
                .where(reference_rows.c.individual_id.in_(live))
                .group_by(reference_rows.c.individual_id)
            )
        }
        shas: dict[str, list[str]] = {}
        for owner, sha in self.conn.execute(
            select(reference_rows.c.individual_id, reference_rows.c.sha256)
            .where(reference_rows.c.individual_id.in_(live)).order_by(reference_rows.c.id)
        ):  # fmt: skip
            if len(shas.setdefault(owner, [])) < self.references:
                shas[owner].append(sha)
        for individual_id in wanted:
            row = rows.get(individual_id)
            if row is None:
                self._found[individual_id] = (None, ())
                continue
            root = rows[row.merged_into] if row.merged_into else row
            found = _Found(root.id, root.name, bool(root.provisional), int(counts.get(root.id, 0)))
            self._found[individual_id] = (found, tuple(shas.get(root.id, ())))

    def _individuals(self, ids: Sequence[str]) -> list[Any]:
        if not ids:
            return []
        query = select(fleet_individuals).where(fleet_individuals.c.id.in_(list(ids)))
        return list(self.conn.execute(query))

    def individual(self, individual_id: str) -> tuple[_Found | None, tuple[str, ...]]:
        """The individual `individual_id` leads to (its merge target when merged), or None
        when the fleet gallery does not know it, with its first reference chips."""
        self.prefetch([individual_id])
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
