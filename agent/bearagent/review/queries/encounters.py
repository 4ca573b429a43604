"""Reading encounters: the review queue (with filters and pages) and one encounter in full."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from bearagent.review.errors import NotFound
from bearagent.review.queries.types import (
    CandidateView,
    ChipView,
    EncounterView,
    QueueFilters,
    QueuePage,
    SettledBy,
)

#: Chips shown per encounter in the queue (the detail page shows all).
QUEUE_CHIPS = 6
#: Candidates shown per encounter in the queue.
QUEUE_CANDIDATES = 3

_COLUMNS = (
    "e.id, e.site, e.camera, e.started_at, e.last_captured_at, e.status, e.individual_id,"
    " e.score, e.chip_count, e.ended, e.merged_into, e.updated_at, e.decision"
)
_UNSETTLED = (
    "NOT EXISTS (SELECT 1 FROM review_actions a WHERE a.encounter_id = e.id"
    " AND a.settles = 1 AND a.undone_by IS NULL)"
)


def _where(filters: QueueFilters) -> tuple[str, list[Any]]:
    status = [filters.status] if filters.status in ("review", "unknown") else ["review", "unknown"]
    clauses = [
        f"e.status IN ({', '.join('?' * len(status))})",
        "e.merged_into IS NULL",
        _UNSETTLED,
    ]
    args: list[Any] = list(status)
    for value, clause in (
        (filters.site, "e.site = ?"),
        (filters.camera, "e.camera = ?"),
        (filters.date_from, "substr(e.last_captured_at, 1, 10) >= ?"),
        (filters.date_to, "substr(e.started_at, 1, 10) <= ?"),
    ):
        if value:
            clauses.append(clause)
            args.append(value)
    return " AND ".join(clauses), args


def queue_page(
    db: sqlite_utils.Database, filters: QueueFilters, page_size: int, references: int
) -> QueuePage:
    """Encounters waiting for a person (``review``, and ``unknown`` ones not yet confirmed),
    newest first, one page of them with their chips and candidates."""
    where, args = _where(filters)
    total = int(db.execute(f"SELECT count(*) FROM encounters e WHERE {where}", args).fetchone()[0])
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, filters.page), pages)
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM encounters e WHERE {where}"
        " ORDER BY e.last_captured_at DESC, e.id DESC LIMIT ? OFFSET ?",
        [*args, page_size, (page - 1) * page_size],
    ).fetchall()
    ids = [str(r[0]) for r in rows]
    chips = chips_of(db, ids, per_encounter=QUEUE_CHIPS)
    views = [
        _view(db, row, chips.get(str(row[0]), []), QUEUE_CANDIDATES, references) for row in rows
    ]
    sites, cameras = _choices(db)
    return QueuePage(tuple(views), total, page, pages, sites, cameras)


def _choices(db: sqlite_utils.Database) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Sites and cameras that have encounters waiting (what the filters offer)."""
    rows = db.execute(
        "SELECT DISTINCT e.site, e.camera FROM encounters e"
        f" WHERE e.status IN ('review', 'unknown') AND {_UNSETTLED}"
    ).fetchall()
    return tuple(sorted({str(r[0]) for r in rows})), tuple(sorted({str(r[1]) for r in rows}))


def chips_of(
    db: sqlite_utils.Database, encounter_ids: Sequence[str], per_encounter: int | None = None
) -> dict[str, list[ChipView]]:
    """The chips (sightings) of each encounter, oldest first (at most `per_encounter` each)."""
    if not encounter_ids:
        return {}
    marks = ", ".join("?" * len(encounter_ids))
    limit = "" if per_encounter is None else f"WHERE n <= {int(per_encounter)}"
    rows = db.execute(
        "SELECT * FROM (SELECT s.id, s.encounter_id, s.file, s.captured_at, s.similarity,"
        " s.outcome, s.individual_id, EXISTS (SELECT 1 FROM thumbnails t WHERE t.kind ="
        " 'sighting' AND t.owner_id = s.id), row_number() OVER (PARTITION BY s.encounter_id"
        " ORDER BY s.captured_at, s.id) AS n FROM sightings s"
        f" WHERE s.encounter_id IN ({marks})) {limit} ORDER BY captured_at, id",
        list(encounter_ids),
    ).fetchall()
    out: dict[str, list[ChipView]] = {}
    for r in rows:
        chip = ChipView(
            int(r[0]), r[1], str(r[2]), r[3], None if r[4] is None else float(r[4]), r[5], r[6],
            bool(r[7]),
        )  # fmt: skip
        out.setdefault(str(r[1]), []).append(chip)
    return out


def candidates_of(
    db: sqlite_utils.Database, top_k: Sequence[dict[str, Any]], references: int
) -> tuple[CandidateView, ...]:
    """The encounter's top-k individuals as the gallery holds them now, with up to
    `references` reference ids each, spread over the individual's references."""
    out: list[CandidateView] = []
    for c in top_k:
        ind = str(c.get("individual_id"))
        row = db.execute("SELECT name, kind FROM individuals WHERE id = ?", [ind]).fetchone()
        refs = [
            int(r[0])
            for r in db.execute(
                "SELECT id FROM reference_embeddings WHERE individual_id = ? ORDER BY id", [ind]
            ).fetchall()
        ]
        out.append(
            CandidateView(
                individual_id=ind,
                name=(row[0] if row else c.get("name")),
                kind=str(row[1]) if row else "gone",
                similarity=float(c.get("similarity") or 0.0),
                references=tuple(spread(refs, references)),
                reference_count=len(refs),
            )
        )
    return tuple(out)


def spread(items: Sequence[int], count: int) -> list[int]:
    """Up to `count` of `items`, evenly spaced over them (first and last included)."""
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[0]]
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def _view(
    db: sqlite_utils.Database,
    row: Sequence[Any],
    chips: list[ChipView],
    candidates: int | None,
    references: int,
) -> EncounterView:
    decision: dict[str, Any] = json.loads(row[12]) if row[12] else {}
    top_k = list(decision.get("top_k") or [])[:candidates]
    thresholds = decision.get("thresholds") or {}
    score = decision.get("score") or {}
    return EncounterView(
        id=str(row[0]),
        site=str(row[1]),
        camera=str(row[2]),
        started_at=str(row[3]),
        last_captured_at=row[4],
        status=str(row[5]),
        individual_id=row[6],
        name=decision.get("name"),
        score=None if row[7] is None else float(row[7]),
        score_name=str(score.get("name", "")),
        known_threshold=thresholds.get("known"),
        unknown_threshold=thresholds.get("unknown"),
        threshold_source=str(thresholds.get("source", "")),
        chip_count=int(row[8]),
        ended=bool(row[9]),
        merged_into=row[10],
        updated_at=str(row[11]),
        chips=tuple(chips),
        candidates=candidates_of(db, top_k, references),
        settled=settled_by(db, str(row[0])),
        decision=decision,
    )


def settled_by(db: sqlite_utils.Database, encounter_id: str) -> SettledBy | None:
    """The action that decided the encounter (not undone), if any."""
    row = db.execute(
        "SELECT id, action, by, at, summary FROM review_actions WHERE encounter_id = ?"
        " AND settles = 1 AND undone_by IS NULL ORDER BY id DESC LIMIT 1",
        [encounter_id],
    ).fetchone()
    return None if row is None else SettledBy(int(row[0]), str(row[1]), row[2], row[3], row[4])


def merged_parts(db: sqlite_utils.Database, encounter_id: str) -> list[str]:
    """The encounter and every encounter of its camera that merged into it."""
    rows = db.execute("SELECT id FROM encounters WHERE merged_into = ?", [encounter_id]).fetchall()
    return [encounter_id, *(str(r[0]) for r in rows)]


def get_encounter(db: sqlite_utils.Database, encounter_id: str, references: int) -> EncounterView:
    """One encounter with all its chips (those of tracks merged into it too)."""
    row = db.execute(f"SELECT {_COLUMNS} FROM encounters e WHERE e.id = ?", [encounter_id])
    found = row.fetchone()
    if found is None:
        raise NotFound(f"no encounter {encounter_id!r}: it may belong to another box")
    parts = chips_of(db, merged_parts(db, encounter_id))
    chips = sorted(
        (c for cs in parts.values() for c in cs),
        key=lambda c: (c.captured_at or "", c.sighting_id),
    )
    return _view(db, found, chips, None, references)


def individual_names(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, str | None]:
    """Names of the given individuals (None for provisional ones)."""
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = db.execute(f"SELECT id, name FROM individuals WHERE id IN ({marks})", list(ids))
    return {str(r[0]): r[1] for r in rows.fetchall()}
