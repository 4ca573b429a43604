"""Fleet-unique ids: every id a box mints carries its agent id.

Named individuals are ``bear-<agent_id>-NNNN`` and provisional ones
``unknown-<agent_id>-NNNN``, so no two boxes (and not the station, which mints
``bear-<station_id>-NNNN``) ever give two bears one id. Older galleries hold
box-local ids (``bear-0004``, ``unknown-0007``): `adopt_fleet_ids` gives them this
box's agent id at the agent's start, everywhere an id is written down.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlite_utils

from bearagent.gallery.schema import bump_generation
from bearagent.gallery.writes import next_id, reserve_id, writing

KNOWN_PREFIX = "bear"
PROVISIONAL_PREFIX = "unknown"
#: Box-local ids of older galleries: ``bear-0004``, ``unknown-0007``.
LEGACY_ID = re.compile(rf"^({KNOWN_PREFIX}|{PROVISIONAL_PREFIX})-(\d+)$")

#: Columns that hold one individual id (table, column).
_ID_COLUMNS = (
    ("reference_embeddings", "individual_id"),
    ("sightings", "individual_id"),
    ("encounters", "individual_id"),
    ("review_actions", "individual_id"),
    ("review_saved_references", "individual_id"),
)
#: Columns that hold JSON documents naming individuals (table, column).
_JSON_COLUMNS = (
    ("encounters", "decision"),
    ("encounters", "last_event"),
    ("review_actions", "before"),
    ("review_actions", "after"),
    ("review_actions", "inverse"),
)


def named_prefix(agent_id: str | None) -> str:
    """The id prefix of named individuals this box mints: ``bear-<agent_id>``."""
    return f"{KNOWN_PREFIX}-{agent_id}" if agent_id else KNOWN_PREFIX


def provisional_prefix(agent_id: str | None) -> str:
    """The id prefix of provisional individuals this box mints: ``unknown-<agent_id>``."""
    return f"{PROVISIONAL_PREFIX}-{agent_id}" if agent_id else PROVISIONAL_PREFIX


def fleet_id_of(agent_id: str, individual_id: str) -> str:
    """The fleet-wide id of box `agent_id`'s `individual_id` (a legacy id gets the agent id).

    This is the rule `adopt_fleet_ids` applies, so the station maps the ids of events
    sent before a box upgraded to the ids the box uses since.
    """
    legacy = LEGACY_ID.match(individual_id)
    if legacy is None:
        return individual_id
    return f"{legacy.group(1)}-{agent_id}-{legacy.group(2)}"


def adopt_fleet_ids(db: sqlite_utils.Database, agent_id: str) -> dict[str, str]:
    """Give every box-local id this box's agent id; returns {old id: new id}.

    ``bear-0004`` becomes ``bear-<agent_id>-0004`` (or the next free number when
    that is taken) and ``unknown-0007`` ``unknown-<agent_id>-0007``, with
    everything that names them: references, sightings, encounters (their decision
    and last event too) and the review page's audit rows, so undo still works. The
    agent calls this at start; it is a no-op once done. Joins an open transaction.
    """
    with writing(db):
        rows = db.execute("SELECT id FROM individuals ORDER BY id").fetchall()
        renames: dict[str, str] = {}
        for (old,) in rows:
            if LEGACY_ID.match(str(old)):
                renames[str(old)] = _new_id(db, agent_id, str(old))
        if not renames:
            return renames
        tables = set(db.table_names())
        for old, new in renames.items():
            db.execute(
                "INSERT INTO individuals (id, name, kind, created, notes)"
                " SELECT ?, NULL, kind, created, notes FROM individuals WHERE id = ?",
                [new, old],
            )
            for table, column in _ID_COLUMNS:
                if table in tables:
                    db.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", [new, old])
            name = db.execute("SELECT name FROM individuals WHERE id = ?", [old]).fetchone()[0]
            db.execute("DELETE FROM individuals WHERE id = ?", [old])
            db.execute("UPDATE individuals SET name = ? WHERE id = ?", [name, new])
            reserve_id(db, new)
        for table, column in _JSON_COLUMNS:
            if table in tables:
                _rewrite_json(db, table, column, renames)
        bump_generation(db)
    return renames


def _new_id(db: sqlite_utils.Database, agent_id: str, old: str) -> str:
    """``<prefix>-<agent_id>-NNNN`` keeping the number, or the next free one if taken."""
    new = fleet_id_of(agent_id, old)
    taken = db.execute("SELECT 1 FROM individuals WHERE id = ?", [new]).fetchone()
    if taken is None:
        return new
    return next_id(db, new.rpartition("-")[0])


def _rewrite_json(
    db: sqlite_utils.Database, table: str, column: str, renames: dict[str, str]
) -> None:
    """Replace every JSON string equal to an old id by its new id (exact matches only)."""
    rows = db.execute(
        f"SELECT rowid, {column} FROM {table} WHERE {column} LIKE '%\"bear-%'"
        f" OR {column} LIKE '%\"unknown-%'"
    ).fetchall()
    for rowid, text in rows:
        try:
            document = json.loads(text)
        except (TypeError, ValueError):
            continue  # not JSON: nothing of ours to rewrite
        changed = _replace_ids(document, renames)
        if changed != document:
            compact = (",", ":") if column == "last_event" else None  # as the payload was
            text = json.dumps(changed, ensure_ascii=False, separators=compact)
            db.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", [text, rowid])


def _replace_ids(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, str):
        return renames.get(value, value)
    if isinstance(value, list):
        return [_replace_ids(v, renames) for v in value]
    if isinstance(value, dict):
        return {k: _replace_ids(v, renames) for k, v in value.items()}
    return value
