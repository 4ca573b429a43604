"""Individuals: named bears (``bear-den-01-0001``) and provisional ones (``unknown-den-01-0001``).

Every id carries the agent id of the box that minted it, so it is unique across a
fleet (`bearagent.gallery.fleet_ids`; older galleries' ``bear-0001`` and
``unknown-0001`` are given the agent id at the agent's start). Without an agent id
(a bare gallery made by hand) ids are the box-local ``bear-NNNN``.

An id never changes and is never reused; a name is unique (case-insensitive) and
may change. Commands accept either an id or a name wherever they take an individual.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from bearagent.gallery.errors import DuplicateName, InvalidName, NotProvisional, UnknownIndividual
from bearagent.gallery.fleet_ids import KNOWN_PREFIX as KNOWN_PREFIX
from bearagent.gallery.fleet_ids import PROVISIONAL_PREFIX as PROVISIONAL_PREFIX
from bearagent.gallery.fleet_ids import named_prefix as named_prefix
from bearagent.gallery.fleet_ids import provisional_prefix as provisional_prefix
from bearagent.gallery.schema import bump_generation, db_path
from bearagent.gallery.writes import next_id, now_iso, writing

MAX_NAME_LENGTH = 100
_ID_LIKE = re.compile(
    rf"^({KNOWN_PREFIX}|{PROVISIONAL_PREFIX})(-[A-Za-z0-9][A-Za-z0-9_.-]*)?-\d+$", re.IGNORECASE
)


_SELECT = (
    "SELECT i.id, i.name, i.kind, i.created, i.notes,"
    " (SELECT count(*) FROM reference_embeddings r WHERE r.individual_id = i.id),"
    " (SELECT count(*) FROM sightings s WHERE s.individual_id = i.id),"
    " (SELECT max(s.captured_at) FROM sightings s WHERE s.individual_id = i.id)"
    " FROM individuals i"
)


@dataclass(frozen=True)
class Individual:
    """One individual with its counts."""

    id: str
    name: str | None
    kind: str
    created: str
    notes: str
    references: int
    sightings: int
    last_seen: str | None

    @property
    def label(self) -> str:
        """The name, or the id for a provisional individual."""
        return self.name or self.id


def _row(row: tuple[Any, ...]) -> Individual:
    id_, name, kind, created, notes, refs, sightings, last = row
    return Individual(
        str(id_),
        None if name is None else str(name),
        str(kind),
        str(created),
        str(notes),
        int(refs),
        int(sightings),
        None if last is None else str(last),
    )


def validate_name(name: str) -> str:
    """`name` stripped, or `InvalidName` saying what a usable name looks like."""
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME_LENGTH or any(c in clean for c in "\x00\n\r\t"):
        raise InvalidName(
            f"invalid name {name!r}: use 1 to {MAX_NAME_LENGTH} characters on one line"
        )
    if _ID_LIKE.match(clean):
        raise InvalidName(
            f"invalid name {name!r}: names that look like ids ({KNOWN_PREFIX}-0001, "
            f"{PROVISIONAL_PREFIX}-0001) would be ambiguous; choose another name"
        )
    return clean


def list_individuals(db: sqlite_utils.Database, kind: str | None = None) -> list[Individual]:
    """Every individual (or those of one `kind`), named ones first, then by id."""
    where, args = (" WHERE i.kind = ?", [kind]) if kind else ("", [])
    sql = f"{_SELECT}{where} ORDER BY i.kind = 'provisional', i.id"
    return [_row(r) for r in db.execute(sql, args).fetchall()]


def get_individual(db: sqlite_utils.Database, ref: str) -> Individual:
    """The individual whose id or name (case-insensitive) is `ref`."""
    row = db.execute(f"{_SELECT} WHERE i.id = ?", [ref]).fetchone()
    if row is None:
        row = db.execute(f"{_SELECT} WHERE i.name = ? COLLATE NOCASE", [ref.strip()]).fetchone()
    if row is None:
        raise UnknownIndividual(
            f"no individual {ref!r} in gallery {db_path(db)}: see `bearagent gallery list`"
        )
    return _row(row)


def find_by_name(db: sqlite_utils.Database, name: str) -> str | None:
    """The id of the individual called `name` (case-insensitive), if any."""
    row = db.execute(
        "SELECT id FROM individuals WHERE name = ? COLLATE NOCASE", [name.strip()]
    ).fetchone()
    return None if row is None else str(row[0])


def _duplicate(db: sqlite_utils.Database, name: str, owner: str) -> DuplicateName:
    return DuplicateName(
        f"the name {name!r} is already used by {owner} in gallery {db_path(db)}: choose "
        "another name, or remove or rename that individual first"
    )


def create_known(
    db: sqlite_utils.Database, name: str, notes: str = "", *, agent_id: str | None = None
) -> str:
    """Add a named individual (no references yet); returns its new ``bear-<agent_id>-NNNN``
    id (``bear-NNNN`` without `agent_id`)."""
    clean = validate_name(name)
    with writing(db):
        existing = find_by_name(db, clean)
        if existing is not None:
            raise _duplicate(db, clean, existing)
        new_id = next_id(db, named_prefix(agent_id))
        db.execute(
            "INSERT INTO individuals (id, name, kind, created, notes) VALUES (?, ?, 'known', ?, ?)",
            [new_id, clean, now_iso(), notes],
        )
        bump_generation(db, append_only=True)
    return new_id


def rename(db: sqlite_utils.Database, ref: str, name: str) -> Individual:
    """Give individual `ref` the name `name`; a provisional one keeps its kind and id."""
    clean = validate_name(name)
    with writing(db):
        target = get_individual(db, ref)
        existing = find_by_name(db, clean)
        if existing is not None and existing != target.id:
            raise _duplicate(db, clean, existing)
        try:
            db.execute("UPDATE individuals SET name = ? WHERE id = ?", [clean, target.id])
        except sqlite3.IntegrityError as e:  # a concurrent writer took the name meanwhile
            raise _duplicate(db, clean, "another individual") from e
        bump_generation(db)
    return get_individual(db, target.id)


def remove(db: sqlite_utils.Database, ref: str) -> Individual:
    """Delete individual `ref` and its references; its sightings stay as history."""
    with writing(db):
        target = get_individual(db, ref)
        db.execute("DELETE FROM reference_embeddings WHERE individual_id = ?", [target.id])
        db.execute("DELETE FROM individuals WHERE id = ?", [target.id])
        bump_generation(db)
    return target


def promote(
    db: sqlite_utils.Database, unknown: str, name: str, *, agent_id: str | None = None
) -> Individual:
    """Make provisional `unknown` a named individual; its references and sightings follow.

    When an individual called `name` exists, the provisional one merges into it
    (the unknown bear turned out to be a known one); otherwise a new
    ``bear-<agent_id>-NNNN`` is created. The provisional id is retired either way.
    """
    clean = validate_name(name)
    with writing(db):
        source = get_individual(db, unknown)
        if source.kind != "provisional":
            raise NotProvisional(
                f"{source.id} ({source.label}) is already a named individual: use "
                "`bearagent gallery rename` to change its name"
            )
        target_id = find_by_name(db, clean)
        if target_id == source.id:  # it was already given this name: the new one takes it
            db.execute("UPDATE individuals SET name = NULL WHERE id = ?", [source.id])
            target_id = None
        elif target_id is not None and get_individual(db, target_id).kind != "known":
            raise _duplicate(db, clean, target_id)
        if target_id is None:
            target_id = next_id(db, named_prefix(agent_id))
            db.execute(
                "INSERT INTO individuals (id, name, kind, created, notes) "
                "VALUES (?, ?, 'known', ?, ?)",
                [target_id, clean, now_iso(), f"promoted from {source.id}"],
            )
        for table in ("reference_embeddings", "sightings"):
            db.execute(
                f"UPDATE {table} SET individual_id = ? WHERE individual_id = ?",
                [target_id, source.id],
            )
        db.execute("DELETE FROM individuals WHERE id = ?", [source.id])
        bump_generation(db)
    return get_individual(db, target_id)


def adopt_provisional_ids(db: sqlite_utils.Database, agent_id: str) -> int:
    """The former name of `bearagent.gallery.fleet_ids.adopt_fleet_ids` (which gives named
    ids the agent id too); returns how many ids changed."""
    from bearagent.gallery.fleet_ids import adopt_fleet_ids

    return len(adopt_fleet_ids(db, agent_id))
