"""The ``encounters`` table: one row per track, kept current by every event about it.

It holds each encounter's latest decision (status, individual, score, the
candidates) for `bearagent status` and the review page, and its last event, so
that after a crash or power cut the ``end`` of every encounter left open is still
sent (`recover_open`). Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from bearagent.chips.capture import TIME_SOURCES, TimeSource
from bearagent.store import Migration, migrate
from bearagent.wire import payloads

COMPONENT = "encounters"
log = logging.getLogger(__name__)


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE encounters (
            id TEXT PRIMARY KEY,
            camera TEXT NOT NULL,
            site TEXT NOT NULL,
            started_at TEXT NOT NULL,
            individual_id TEXT,
            chip_count INTEGER NOT NULL,
            ended INTEGER NOT NULL DEFAULT 0,
            last_event TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX encounters_open ON encounters (ended) WHERE ended = 0")


def _v2(db: sqlite_utils.Database) -> None:
    for sql in (
        "ALTER TABLE encounters ADD COLUMN last_captured_at TEXT",
        "ALTER TABLE encounters ADD COLUMN status TEXT",
        "ALTER TABLE encounters ADD COLUMN score REAL",
        "ALTER TABLE encounters ADD COLUMN merged_into TEXT",
        "ALTER TABLE encounters ADD COLUMN decision TEXT",
        "CREATE INDEX encounters_by_status ON encounters (status, last_captured_at)",
    ):
        db.execute(sql)


#: Migrations of the encounters table, oldest first; append, never edit.
STEPS: list[Migration] = [_v1, _v2]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the encounters table."""
    migrate(db, COMPONENT, STEPS)


@dataclass(frozen=True)
class EncounterRow:
    """What one event says about its encounter."""

    encounter_id: str
    camera: str
    site: str
    started_at: datetime
    last_captured_at: datetime
    chip_count: int
    ended: bool
    merged_into: str | None
    decision: dict[str, Any]  # the payload's `decision`, with `top_k`
    last_event: str  # the payload's JSON text


def save(db: sqlite_utils.Database, row: EncounterRow) -> None:
    """Insert or update the encounter's row (inside the caller's transaction)."""
    d = row.decision
    db.execute(
        "INSERT INTO encounters (id, camera, site, started_at, last_captured_at, status,"
        " individual_id, score, chip_count, ended, merged_into, decision, last_event, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
        " last_captured_at = excluded.last_captured_at, status = excluded.status,"
        " individual_id = excluded.individual_id, score = excluded.score,"
        " chip_count = excluded.chip_count, ended = excluded.ended,"
        " merged_into = excluded.merged_into, decision = excluded.decision,"
        " last_event = excluded.last_event, updated_at = excluded.updated_at",
        [
            row.encounter_id,
            row.camera,
            row.site,
            row.started_at.isoformat(),
            row.last_captured_at.isoformat(),
            d["status"],
            d["individual_id"],
            d["score"]["value"],
            row.chip_count,
            int(row.ended),
            row.merged_into,
            json.dumps(d, ensure_ascii=False),
            row.last_event,
            datetime.now(UTC).isoformat(),
        ],
    )


def reopen(db: sqlite_utils.Database, encounter_ids: list[str]) -> None:
    """Mark ended encounters open again (late chips joined them; inside the caller's
    transaction)."""
    for encounter_id in encounter_ids:
        db.execute("UPDATE encounters SET ended = 0 WHERE id = ?", [encounter_id])


def recover_open(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """The ``end`` of every encounter a crash left open, as (event_id, payload); marks them ended.

    Each is the encounter's last event re-issued as its ``end`` (a new event id),
    listing the chips its sightings recorded; an encounter that had ended before (late
    chips opened it again) gets an ``amended`` instead.
    """
    rows = db.execute(
        "SELECT id, last_event FROM encounters WHERE ended = 0 ORDER BY updated_at"
    ).fetchall()
    out: list[tuple[str, str]] = []
    for encounter_id, last_event in rows:
        last = json.loads(last_event)
        db.execute("UPDATE encounters SET ended = 1 WHERE id = ?", [encounter_id])
        if last.get("schema_version") != payloads.SCHEMA_VERSION:
            log.warning(
                "encounter %s was left open by an older bearid (payload version %s): its 'end' "
                "cannot be rebuilt and is not sent; its earlier events were",
                encounter_id,
                last.get("schema_version"),
            )
            continue
        event_id = uuid.uuid4()
        out.append((str(event_id), _as_end(db, last, event_id)))
    return out


def _as_end(db: sqlite_utils.Database, last: dict[str, Any], event_id: uuid.UUID) -> str:
    chips = tuple(
        payloads.ChipRef(str(f), datetime.fromisoformat(str(t)), _source(s))
        for f, t, s in db.execute(
            "SELECT file, captured_at, time_source FROM sightings WHERE encounter_id = ?"
            " AND captured_at IS NOT NULL ORDER BY captured_at, id LIMIT ?",
            [last["encounter_id"], payloads.MAX_END_CHIPS],
        ).fetchall()
    )
    chip = payloads.ChipRef(
        last["file"], datetime.fromisoformat(last["captured_at"]), _source(last["time_source"])
    )
    counted = db.execute(
        "SELECT COUNT(*), MIN(captured_at), MAX(captured_at) FROM sightings"
        " WHERE encounter_id = ? AND captured_at IS NOT NULL",
        [last["encounter_id"]],
    ).fetchone()
    ended_before = last.get("type") in ("end", "amended")
    kind = payloads.SightingType.AMENDED if ended_before else payloads.SightingType.END
    started, latest = last["started_at"], last["last_captured_at"]
    if counted[0]:  # late chips recorded since the last event widen the span
        started = min(started, counted[1], key=datetime.fromisoformat)
        latest = max(latest, counted[2], key=datetime.fromisoformat)
    return payloads.encounter_payload(
        "sighting",
        kind,
        event_id=event_id,
        origin=payloads.Origin(last["agent_id"], last["site"], last["camera"], chip),
        encounter=payloads.EncounterRef(
            last["encounter_id"],
            max(int(last["chip_count"]), int(counted[0])),
            datetime.fromisoformat(started),
            datetime.fromisoformat(latest),
            chips or (chip,),
        ),
        model=payloads.ModelRef(last["model"]["name"], last["model"]["sha256"]),
        decision=payloads.decision_from_fields(last["decision"], last["top_k"]),
    )


def _source(value: object) -> TimeSource:
    for source in TIME_SOURCES:
        if value == source:
            return source
    return "mtime"
