"""Reading the gallery for the review pages: individuals with their reference chips, one
individual's history (encounters over time and per camera), and the name search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlite_utils

from bearagent.gallery import get_individual
from bearagent.gallery.individuals import Individual
from bearagent.review.queries.encounters import spread
from bearagent.review.queries.types import (
    CameraCount,
    EncounterSummary,
    IndividualCard,
    ReferenceView,
)

#: Reference chips per individual on the gallery page.
GALLERY_CHIPS = 6
#: Search results at most.
SEARCH_LIMIT = 20
#: An individual's encounters shown (and plotted) at most.
HISTORY_LIMIT = 2000

_ENCOUNTERS_OF = "e.individual_id = ? AND e.merged_into IS NULL AND e.status != 'rejected'"


def individual_cards(db: sqlite_utils.Database, kind: str | None = None) -> list[IndividualCard]:
    """Every individual (or those of one `kind`), named ones first, with reference ids."""
    where, args = (" WHERE i.kind = ?", [kind]) if kind else ("", [])
    rows = db.execute(
        "SELECT i.id, i.name, i.kind,"
        " (SELECT count(*) FROM reference_embeddings r WHERE r.individual_id = i.id),"
        " (SELECT count(*) FROM encounters e WHERE e.individual_id = i.id"
        "  AND e.merged_into IS NULL AND e.status != 'rejected'),"
        " (SELECT max(e.last_captured_at) FROM encounters e WHERE e.individual_id = i.id)"
        f" FROM individuals i{where} ORDER BY i.kind = 'provisional', i.name COLLATE NOCASE, i.id",
        args,
    ).fetchall()
    refs = _reference_ids(db, [str(r[0]) for r in rows])
    return [
        IndividualCard(
            id=str(r[0]),
            name=r[1],
            kind=str(r[2]),
            references=int(r[3]),
            encounters=int(r[4]),
            last_seen=r[5],
            shown=tuple(spread(refs.get(str(r[0]), []), GALLERY_CHIPS)),
        )
        for r in rows
    ]


def _reference_ids(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {i: [] for i in ids}
    for owner, ref_id in db.execute(
        "SELECT individual_id, id FROM reference_embeddings ORDER BY individual_id, id"
    ).fetchall():
        if owner in out:
            out[owner].append(int(ref_id))
    return out


def references_of(db: sqlite_utils.Database, individual_id: str) -> list[ReferenceView]:
    """Every reference of one individual, oldest first."""
    rows = db.execute(
        "SELECT id, source, captured_at, created FROM reference_embeddings"
        " WHERE individual_id = ? ORDER BY id",
        [individual_id],
    ).fetchall()
    return [ReferenceView(int(r[0]), str(r[1]), r[2], str(r[3])) for r in rows]


def encounters_of(db: sqlite_utils.Database, individual_id: str) -> list[EncounterSummary]:
    """The individual's encounters, newest first, each with its first chip."""
    rows = db.execute(
        "SELECT e.id, e.site, e.camera, e.started_at, e.last_captured_at, e.status,"
        " e.chip_count, (SELECT min(s.id) FROM sightings s WHERE s.encounter_id = e.id)"
        f" FROM encounters e WHERE {_ENCOUNTERS_OF}"
        " ORDER BY e.started_at DESC LIMIT ?",
        [individual_id, HISTORY_LIMIT],
    ).fetchall()
    return [
        EncounterSummary(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            r[4],
            str(r[5]),
            int(r[6]),
            None if r[7] is None else int(r[7]),
        )
        for r in rows
    ]


def per_camera(db: sqlite_utils.Database, individual_id: str) -> list[CameraCount]:
    """The individual's encounters and chips per camera, busiest first."""
    rows = db.execute(
        "SELECT e.site, e.camera, count(*), sum(e.chip_count), min(e.started_at),"
        f" max(coalesce(e.last_captured_at, e.started_at)) FROM encounters e WHERE {_ENCOUNTERS_OF}"
        " GROUP BY e.site, e.camera ORDER BY count(*) DESC, e.site, e.camera",
        [individual_id],
    ).fetchall()
    return [CameraCount(str(r[0]), str(r[1]), int(r[2]), int(r[3] or 0), str(r[4]), str(r[5]))
            for r in rows]  # fmt: skip


def individual(db: sqlite_utils.Database, ref: str) -> Individual:
    """One individual by id or name (`UnknownIndividual` when there is none)."""
    return get_individual(db, ref)


def search_individuals(
    db: sqlite_utils.Database, text: str, *, exclude: Sequence[str] = (), kind: str | None = None
) -> list[IndividualCard]:
    """Individuals whose name or id contains `text` (case-insensitive), exact matches first."""
    needle = text.strip()
    if not needle:
        return []
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    args: list[Any] = [pattern, pattern]
    where = "(i.name LIKE ? ESCAPE '\\' OR i.id LIKE ? ESCAPE '\\')"
    if kind:
        where += " AND i.kind = ?"
        args.append(kind)
    rows = db.execute(
        f"SELECT i.id FROM individuals i WHERE {where}"
        " ORDER BY (lower(i.name) = lower(?) OR lower(i.id) = lower(?)) DESC,"
        " i.kind = 'provisional', i.name COLLATE NOCASE, i.id LIMIT ?",
        [*args, needle, needle, SEARCH_LIMIT + len(exclude)],
    ).fetchall()
    wanted = [str(r[0]) for r in rows if str(r[0]) not in exclude][:SEARCH_LIMIT]
    cards = {c.id: c for c in individual_cards(db) if c.id in wanted}
    return [cards[i] for i in wanted if i in cards]


def named_individuals(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(id, name) of every named individual, by name (for the choices of a merge)."""
    rows = db.execute(
        "SELECT id, name FROM individuals WHERE kind = 'known' AND name IS NOT NULL"
        " ORDER BY name COLLATE NOCASE"
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def open_encounters_of(db: sqlite_utils.Database, individual_id: str) -> list[tuple[str, str]]:
    """(site/camera, last capture) of the individual's encounters the agent still has open."""
    rows = db.execute(
        "SELECT site || '/' || camera, coalesce(last_captured_at, started_at) FROM encounters"
        " WHERE individual_id = ? AND ended = 0",
        [individual_id],
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]
