"""What one batch transaction learns about boxes, cameras and individuals, written once.

Hundreds of events of a batch name the same few boxes, cameras and bears. Within
one transaction their row ids cannot change, so `BatchCache` looks each up once,
keeps the widening time spans and newest names in memory and writes them in
`flush` before the commit: one or two statements per row instead of per event.
It lives exactly as long as the transaction, so a rollback leaves nothing stale.
Corrections change individuals directly: they `flush` and `forget` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from bearstation.ingest.registry import individual_ref, touch_box
from bearstation.ingest.sql import earliest, find_id, insert_ignore, latest
from bearstation.tables import boxes, cameras, corrections, encounters, events, individuals


@dataclass
class _Span:
    id: int
    first: datetime | None
    last: datetime | None
    stored: tuple[datetime | None, datetime | None]

    def widen(self, first: datetime, last: datetime) -> None:
        self.first, self.last = earliest(self.first, first), latest(self.last, last)

    @property
    def dirty(self) -> bool:
        return (self.first, self.last) != self.stored


@dataclass
class _Individual(_Span):
    name: str | None = None
    name_at: datetime | None = None
    renamed: bool = False


class BatchCache:
    """Row ids and pending changes of one transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._boxes: dict[str, tuple[datetime, datetime]] = {}  # agent -> (stored, latest)
        self._cameras: dict[tuple[str, str, str], _Span] = {}
        self._individuals: dict[tuple[str, str], _Individual] = {}
        self._pending: set[tuple[str, str]] | None = None
        self._encounters: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._new_events: set[str] | None = None  # stored by `insert_events`, not yet claimed

    def insert_events(self, rows: list[dict[str, Any]]) -> None:
        """Store the batch's event rows in one statement; repeats are left out."""
        if not rows:
            self._new_events = set()
            return
        statement = _events_insert(self._conn.dialect.name)
        self._new_events = {r[0] for r in self._conn.execute(statement, rows)}

    def claim_event(self, row: dict[str, Any]) -> bool:
        """Whether this event is new: stored now (True once per event_id), or a repeat."""
        if self._new_events is None:
            return insert_ignore(self._conn, events, row)
        if row["event_id"] in self._new_events:
            self._new_events.discard(row["event_id"])
            return True
        return False

    def prefetch_encounters(self, keys: list[tuple[str, str]]) -> None:
        """Load the encounters a batch names, in one query."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._encounters]
        if not wanted:
            return
        e = encounters.c
        query = select(encounters).where(tuple_(e.agent_id, e.encounter_id).in_(wanted))
        if self._conn.dialect.name == "postgresql":
            # Another station process (shared subscriptions) may write the same rows: lock
            # them, in one order, so neither overwrites what the other just stored.
            query = query.order_by(e.id).with_for_update()
        rows = self._conn.execute(query)
        found = {(r.agent_id, r.encounter_id): dict(r._mapping) for r in rows}
        self._encounters.update({k: found.get(k) for k in wanted})

    def encounter(self, agent: str, encounter_id: str) -> dict[str, Any] | None:
        """The encounter's row as this transaction sees it, or None."""
        key = (agent, encounter_id)
        if key not in self._encounters:
            self.prefetch_encounters([key])
        return self._encounters[key]

    def remember_encounter(self, agent: str, encounter_id: str, row: dict[str, Any]) -> None:
        """What the caller just wrote to the encounter's row."""
        self._encounters[(agent, encounter_id)] = row

    def box(self, agent_id: str, seen_at: datetime) -> None:
        """The box exists and was heard from at `seen_at`."""
        known = self._boxes.get(agent_id)
        if known is None:
            touch_box(self._conn, agent_id, seen_at)
            self._boxes[agent_id] = (seen_at, seen_at)
        elif seen_at > known[1]:
            self._boxes[agent_id] = (known[0], seen_at)

    def camera(self, agent: str, site: str, camera: str, first: datetime, last: datetime) -> int:
        """The camera's row id; its capture span widened to [first, last]."""
        key = (agent, site, camera)
        span = self._cameras.get(key)
        if span is None:
            span = self._load_camera(key, first, last)
            self._cameras[key] = span
        span.widen(first, last)
        return span.id

    def _load_camera(self, key: tuple[str, str, str], first: datetime, last: datetime) -> _Span:
        agent, site, camera = key
        c = cameras.c
        row = self._conn.execute(
            select(c.id, c.first_captured_at, c.last_captured_at).where(
                c.agent_id == agent, c.site == site, c.camera == camera
            )
        ).one_or_none()
        if row is not None:
            stored = (row.first_captured_at, row.last_captured_at)
            return _Span(row.id, *stored, stored=stored)
        values = {"agent_id": agent, "site": site, "camera": camera}
        span = {"first_captured_at": first, "last_captured_at": last}
        insert_ignore(self._conn, cameras, {**values, **span})
        found = find_id(self._conn, cameras, **values)
        assert found is not None
        return _Span(found, first, last, stored=(first, last))

    def individual(
        self,
        agent: str,
        individual_id: str,
        *,
        name: str | None,
        named_at: datetime,
        seen: tuple[datetime, datetime],
    ) -> int:
        """The individual's row id; a newer name and a wider sighting span kept for flush."""
        key = (agent, individual_id)
        state = self._individuals.get(key)
        if state is None:
            state = self._load_individual(key, name, named_at, seen)
            self._individuals[key] = state
        fresher = state.name_at is None or named_at >= state.name_at
        if name is not None and name != state.name and fresher:
            state.name, state.name_at, state.renamed = name, named_at, True
        state.widen(*seen)
        return state.id

    def _load_individual(
        self,
        key: tuple[str, str],
        name: str | None,
        named_at: datetime,
        seen: tuple[datetime, datetime],
    ) -> _Individual:
        agent, individual_id = key
        i = individuals.c
        query = select(i.id, i.name, i.name_at, i.first_seen_at, i.last_seen_at)
        row = self._conn.execute(
            query.where(i.agent_id == agent, i.individual_id == individual_id)
        ).one_or_none()
        if row is None:
            ref = individual_ref(
                self._conn, agent, individual_id, name=name, named_at=named_at, seen=seen
            )
            at = named_at if name is not None else None
            return _Individual(ref, *seen, stored=seen, name=name, name_at=at)
        stored = (row.first_seen_at, row.last_seen_at)
        return _Individual(row.id, *stored, stored=stored, name=row.name, name_at=row.name_at)

    def has_pending(self, agent: str, encounter_id: str) -> bool:
        """Whether a correction waits for this encounter (loaded once per batch)."""
        if self._pending is None:
            rows = self._conn.execute(
                select(corrections.c.agent_id, corrections.c.encounter_id).where(
                    corrections.c.state == "pending", corrections.c.encounter_id.is_not(None)
                )
            )
            self._pending = {(r.agent_id, r.encounter_id) for r in rows}
        return (agent, encounter_id) in self._pending

    def flush(self) -> None:
        """Write the spans and names gathered so far."""
        for agent, (stored, seen) in self._boxes.items():
            if seen > stored:
                self._conn.execute(
                    update(boxes)
                    .where(boxes.c.agent_id == agent, boxes.c.last_seen_at < seen)
                    .values(last_seen_at=seen)
                )
                self._boxes[agent] = (seen, seen)
        for span in self._cameras.values():
            if span.dirty:
                self._conn.execute(
                    update(cameras)
                    .where(cameras.c.id == span.id)
                    .values(first_captured_at=span.first, last_captured_at=span.last)
                )
                span.stored = (span.first, span.last)
        for ind in self._individuals.values():
            if ind.dirty or ind.renamed:
                values: dict[str, Any] = {"first_seen_at": ind.first, "last_seen_at": ind.last}
                if ind.renamed:
                    values |= {"name": ind.name, "name_at": ind.name_at}
                self._conn.execute(
                    update(individuals).where(individuals.c.id == ind.id).values(**values)
                )
                ind.stored, ind.renamed = (ind.first, ind.last), False

    def forget(self) -> None:
        """Drop what is cached (after flush), before something else changes those rows."""
        self.flush()
        self._cameras.clear()
        self._individuals.clear()
        self._encounters.clear()
        self._pending = None


@cache
def _events_insert(dialect_name: str) -> Executable:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(events).on_conflict_do_nothing().returning(events.c.event_id)
    return statement  # type: ignore[no-any-return]
