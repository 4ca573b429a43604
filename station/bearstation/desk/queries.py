"""Every read the desk makes: the queue of every box's encounters waiting for a person, one
encounter with all its chips, and the desk's decisions beside them.

An encounter waits when the machine left it in ``review``, or decided ``unknown`` (a new
provisional bear) and no person has confirmed it yet, or when a desk decision about it
still waits for its box. Its chips are the station's sightings with their bytes from
the media store (``chip_media`` joins the box's file to its SHA-256); its candidates
are the box's top-k, looked up in the fleet gallery (`bearstation.desk.candidates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, or_, select

from bearagent.gallery.fleet_ids import fleet_id_of
from bearstation.desk.candidates import CandidateLookup
from bearstation.desk.commands import commands_for
from bearstation.desk.errors import DeskNotFound
from bearstation.desk.views import ChipCard, EncounterCard, QueueFilters, QueuePage
from bearstation.tables import cameras, chip_media, desk_commands, encounters, individuals
from bearstation.tables import sightings as sighting_rows

#: Chips shown per encounter on the queue (the encounter's page shows all).
QUEUE_CHIPS = 8
_STATUSES = ("review", "unknown")


def _waiting_command() -> Any:
    return exists().where(
        desk_commands.c.agent_id == encounters.c.agent_id,
        desk_commands.c.encounter_id == encounters.c.encounter_id,
        desk_commands.c.state == "waiting",
    )


def _day(text: str, end: bool) -> datetime | None:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if end else day


def _filtered(query: Select[Any], filters: QueueFilters) -> Select[Any]:
    statuses = (filters.status,) if filters.status in _STATUSES else _STATUSES
    query = query.where(
        encounters.c.state != "merged",
        or_(
            and_(encounters.c.decided_by == "machine", encounters.c.status.in_(statuses)),
            _waiting_command(),
        ),
    )
    if filters.agent_id:
        query = query.where(encounters.c.agent_id == filters.agent_id)
    if filters.site:
        query = query.where(cameras.c.site == filters.site)
    if filters.camera:
        query = query.where(cameras.c.camera == filters.camera)
    start, end = _day(filters.date_from, False), _day(filters.date_to, True)
    if start is not None:
        query = query.where(encounters.c.started_at >= start)
    if end is not None:
        query = query.where(encounters.c.started_at < end)
    return query


def _base() -> Select[Any]:
    return (
        select(encounters, cameras.c.site, cameras.c.camera,
               individuals.c.individual_id.label("own_id"), individuals.c.name.label("own_name"))
        .join(cameras, cameras.c.id == encounters.c.camera_id)
        .outerjoin(individuals, individuals.c.id == encounters.c.individual_ref)
    )  # fmt: skip


def queue_page(
    conn: Connection, filters: QueueFilters, page_size: int, references: int
) -> QueuePage:
    """One page of the encounters waiting for a person, newest first."""
    joined = encounters.join(cameras, cameras.c.id == encounters.c.camera_id)
    total = int(
        conn.execute(_filtered(select(func.count()).select_from(joined), filters)).scalar_one()
    )
    pages = max(1, -(-total // page_size))
    page = min(max(1, filters.page), pages)
    rows = conn.execute(
        _filtered(_base(), filters)
        .order_by(encounters.c.started_at.desc(), encounters.c.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    cards = _cards(conn, rows, references, QUEUE_CHIPS)
    places = conn.execute(
        select(cameras.c.agent_id, cameras.c.site, cameras.c.camera).distinct()
    ).all()
    return QueuePage(
        tuple(cards), total, page, pages,
        boxes=tuple(sorted({p.agent_id for p in places})),
        sites=tuple(sorted({p.site for p in places})),
        cameras=tuple(sorted({p.camera for p in places})),
    )  # fmt: skip


def get_encounter_card(
    conn: Connection, agent_id: str, encounter_id: str, references: int
) -> EncounterCard:
    """One encounter with all its chips, its candidates and its desk decisions."""
    row = conn.execute(
        _base().where(encounters.c.agent_id == agent_id, encounters.c.encounter_id == encounter_id)
    ).one_or_none()
    if row is None:
        raise DeskNotFound(
            f"the station has no encounter {encounter_id!r} of box {agent_id!r}: see the "
            "queue ('bear-station encounters list')"
        )
    return _cards(conn, [row], references, None)[0]


def _cards(
    conn: Connection, rows: Sequence[Any], references: int, chip_limit: int | None
) -> list[EncounterCard]:
    chips = _chips_of(conn, [r.id for r in rows])
    commands = commands_for(conn, [(r.agent_id, r.encounter_id) for r in rows])
    lookup = CandidateLookup(conn, references)
    lookup.prefetch(
        fleet_id_of(r.agent_id, str(i))
        for r in rows
        for i in [r.own_id, *(c["individual_id"] for c in r.candidates or [])]
        if i is not None
    )
    cards = []
    for r in rows:
        own = lookup.label_of(r.agent_id, r.own_id, r.own_name)
        own_id = None if r.own_id is None else fleet_id_of(r.agent_id, r.own_id)
        shown = chips.get(r.id, [])
        cards.append(
            EncounterCard(
                r.id, r.agent_id, r.encounter_id, r.site, r.camera, r.started_at,
                r.last_captured_at, r.chip_count, r.state, r.merged_into, r.status, own_id,
                own, r.decided_by, r.score_name, r.score_value, r.similarity,
                r.known_threshold, r.unknown_threshold, r.threshold_source, r.model_sha256,
                tuple(shown if chip_limit is None else _spread(shown, chip_limit)),
                tuple(lookup.candidates(r.agent_id, r.candidates or [], exclude=r.own_id)),
                tuple(commands.get((r.agent_id, r.encounter_id), [])),
            )
        )  # fmt: skip
    return cards


def _chips_of(conn: Connection, refs: Sequence[int]) -> dict[int, list[ChipCard]]:
    """Each encounter's chips in capture order, with the SHA-256 of their bytes."""
    if not refs:
        return {}
    rows = conn.execute(
        select(sighting_rows.c.encounter_ref, sighting_rows.c.file,
               sighting_rows.c.captured_at, sighting_rows.c.rejected, chip_media.c.sha256)
        .outerjoin(chip_media, and_(chip_media.c.agent_id == sighting_rows.c.agent_id,
                                    chip_media.c.file == sighting_rows.c.file))
        .where(sighting_rows.c.encounter_ref.in_(list(refs)))
        .order_by(sighting_rows.c.captured_at, sighting_rows.c.id)
    )  # fmt: skip
    found: dict[int, list[ChipCard]] = {}
    for r in rows:
        card = ChipCard(r.file, r.sha256, r.captured_at, bool(r.rejected))
        found.setdefault(int(r.encounter_ref), []).append(card)
    return found


def _spread(chips: list[ChipCard], limit: int) -> list[ChipCard]:
    """At most `limit` chips spread over the encounter (first and last included)."""
    if len(chips) <= limit:
        return chips
    step = (len(chips) - 1) / (limit - 1)
    return [chips[round(i * step)] for i in range(limit)]


def encounter_files(conn: Connection, agent_id: str, encounter_id: str) -> list[tuple[str, bool]]:
    """(file, rejected) of every chip of the encounter, as the station holds them."""
    rows = conn.execute(
        select(sighting_rows.c.file, sighting_rows.c.rejected)
        .join(encounters, encounters.c.id == sighting_rows.c.encounter_ref)
        .where(encounters.c.agent_id == agent_id, encounters.c.encounter_id == encounter_id)
        .order_by(sighting_rows.c.captured_at, sighting_rows.c.id)
    )
    return [(str(r.file), bool(r.rejected)) for r in rows]


def waiting_count(conn: Connection) -> int:
    """How many encounters wait for a person (the queue's total without filters)."""
    joined = encounters.join(cameras, cameras.c.id == encounters.c.camera_id)
    query = _filtered(select(func.count()).select_from(joined), QueueFilters())
    return int(conn.execute(query).scalar_one())
