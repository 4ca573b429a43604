"""Reading the fleet gallery: individuals (by id or name) and their reference chips."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select

from bearstation.fleet.gallery_errors import UnknownFleetIndividual
from bearstation.tables import embeddings, fleet_individuals, media
from bearstation.tables import fleet_references as reference_rows


@dataclass(frozen=True)
class FleetIndividual:
    """One individual of the fleet gallery, with how many reference chips it has."""

    id: str
    name: str | None
    provisional: bool
    origin: str
    created_at: datetime
    created_by: str
    merged_into: str | None
    merged_at: datetime | None
    merged_by: str | None
    references: int

    @property
    def label(self) -> str:
        """Its name, else its id."""
        return self.name or self.id


@dataclass(frozen=True)
class FleetReference:
    """A reference chip of an individual: its media SHA-256 (the media store's key), the
    box that sent it, and the models it has an embedding under (those asked for)."""

    sha256: str
    individual_id: str
    first_individual_id: str
    agent_id: str | None
    added_at: datetime
    content_type: str
    model_sha256s: tuple[str, ...]


def name_key(name: str) -> str:
    """How names are compared across the fleet: stripped and case-folded."""
    return name.strip().casefold()


def _counts() -> Any:
    return (
        select(func.count())
        .where(reference_rows.c.individual_id == fleet_individuals.c.id)
        .scalar_subquery()
    )


def _individual(row: Row[Any]) -> FleetIndividual:
    return FleetIndividual(
        row.id, row.name, bool(row.provisional), row.origin, row.created_at, row.created_by,
        row.merged_into, row.merged_at, row.merged_by, int(row.references),
    )  # fmt: skip


def _select() -> Any:
    return select(fleet_individuals, _counts().label("references"))


def find_individual(conn: Connection, individual_id: str) -> FleetIndividual | None:
    """The individual with this exact id, merged or not, if any."""
    row = conn.execute(_select().where(fleet_individuals.c.id == individual_id)).one_or_none()
    return None if row is None else _individual(row)


def get_fleet_individual(conn: Connection, ref: str) -> FleetIndividual:
    """The individual whose id, or (current) name compared case-folded, is `ref`."""
    found = find_individual(conn, ref.strip())
    if found is None:
        row = conn.execute(
            _select().where(fleet_individuals.c.name_key == name_key(ref))
        ).one_or_none()
        found = None if row is None else _individual(row)
    if found is None:
        raise UnknownFleetIndividual(
            f"no individual {ref!r} in the fleet gallery: see 'bear-station individuals' "
            "(give an id such as bear-den-01-0004, or a name)"
        )
    return found


def resolve_root(conn: Connection, ref: str) -> FleetIndividual:
    """The individual `ref` names, or the one it was merged into."""
    found = get_fleet_individual(conn, ref)
    return found if found.merged_into is None else get_fleet_individual(conn, found.merged_into)


def list_fleet_individuals(
    conn: Connection,
    *,
    provisional: bool | None = None,
    include_merged: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[FleetIndividual]:
    """Individuals, named ones first (by name), then provisional ones by id; merged ones
    only with `include_merged`."""
    query = _select()
    if not include_merged:
        query = query.where(fleet_individuals.c.merged_into.is_(None))
    if provisional is not None:
        query = query.where(fleet_individuals.c.provisional == provisional)
    query = query.order_by(
        fleet_individuals.c.name_key.is_(None), fleet_individuals.c.name_key,
        fleet_individuals.c.id,
    ).offset(offset)  # fmt: skip
    if limit is not None:
        query = query.limit(limit)
    return [_individual(r) for r in conn.execute(query)]


def fleet_references(
    conn: Connection, individual_id: str, model_sha256: str | None = None
) -> list[FleetReference]:
    """The reference chips of `individual_id` (what was merged into it included), oldest
    first; with `model_sha256`, only those with an embedding under that model."""
    root = resolve_root(conn, individual_id)
    query = (
        select(reference_rows, media.c.content_type)
        .join(media, media.c.sha256 == reference_rows.c.sha256)
        .where(reference_rows.c.individual_id == root.id)
        .order_by(reference_rows.c.id)
    )
    rows = list(conn.execute(query))
    models: dict[str, list[str]] = {}
    if rows:
        found = conn.execute(
            select(embeddings.c.sha256, embeddings.c.model_sha256)
            .where(embeddings.c.sha256.in_([r.sha256 for r in rows]))
            .order_by(embeddings.c.model_sha256)
        )  # fmt: skip
        for sha, model in found:
            models.setdefault(sha, []).append(model)
    references = [
        FleetReference(r.sha256, r.individual_id, r.first_individual_id, r.agent_id,
                       r.added_at, r.content_type, tuple(models.get(r.sha256, ())))
        for r in rows
    ]  # fmt: skip
    if model_sha256 is not None:
        references = [r for r in references if model_sha256 in r.model_sha256s]
    return references
