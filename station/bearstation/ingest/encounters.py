"""Encounter events (``sighting`` new / update / end / merged, and ``unknown`` alerts).

One row per encounter, keyed by (agent_id, encounter_id). Delivery is at least
once and, across reconnects, not always in order, so an event changes the row
only when it is at least as late as what the row holds: by its place in the
encounter (new < update < end < amended < merged: late chips amend an ended
encounter, and an ended one may still merge into another), then by ``processed_at``. An older event
arriving late only widens the time span and chip count of an open encounter. A
person's decision (a correction) is final: later machine events keep it.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, insert
from sqlalchemy.dialects import postgresql, sqlite

from bearstation.ingest.batchcache import BatchCache
from bearstation.ingest.fields import offset_minutes, parse_time
from bearstation.ingest.sql import earliest, insert_ignore, latest, update_row
from bearstation.messages import Event
from bearstation.tables import encounters, sightings, unknown_alerts

#: An event's place in its encounter; the `unknown` alert comes with its first decision.
RANKS = {"new": 0, "update": 1, "end": 2, "amended": 3, "merged": 4}
_STATES = {"end": "ended", "amended": "ended", "merged": "merged"}
_INSERT = insert(encounters).returning(encounters.c.id)


def store_encounter_event(
    conn: Connection, event: Event, received_at: datetime, cache: BatchCache
) -> int:
    """Apply a sighting or unknown event; returns the encounter's row id."""
    body, agent = event.body, event.agent_id
    started = parse_time(body["started_at"], "started_at")
    last = parse_time(body["last_captured_at"], "last_captured_at")
    processed = parse_time(body["processed_at"], "processed_at")
    cache.box(agent, received_at)
    camera = cache.camera(agent, body["site"], body["camera"], started, last)
    decision = body["decision"]
    individual = None
    if decision["individual_id"] is not None:
        individual = cache.individual(
            agent,
            decision["individual_id"],
            name=decision["name"],
            named_at=processed,
            seen=(started, last),
        )
    kind = body.get("type", "new")
    values = _decision_values(body, processed) | {
        "camera_id": camera,
        "started_at": started,
        "started_offset_min": offset_minutes(started),
        "last_captured_at": last,
        "chip_count": int(body["chip_count"]),
        "state": _STATES.get(kind, "open"),
        "merged_into": body.get("merged_into"),
        "individual_ref": individual,
        "event_rank": RANKS[kind],
    }
    encounter = _merge_into_row(conn, agent, body["encounter_id"], values, cache)
    _store_chips(conn, agent, encounter, body)
    if event.channel == "unknown":
        insert_ignore(
            conn,
            unknown_alerts,
            {
                "event_id": body["event_id"],
                "agent_id": agent,
                "provisional_id": body["provisional_id"],
                "encounter_id": body["encounter_id"],
                "camera_id": camera,
                "captured_at": parse_time(body["captured_at"], "captured_at"),
            },
        )
    return encounter


def _decision_values(body: dict[str, Any], processed: datetime) -> dict[str, Any]:
    decision = body["decision"]
    return {
        "status": decision["status"],
        "score_name": decision["score"]["name"],
        "score_value": float(decision["score"]["value"]),
        "similarity": float(decision["similarity"]),
        "known_threshold": float(decision["thresholds"]["known"]),
        "unknown_threshold": float(decision["thresholds"]["unknown"]),
        "threshold_source": decision["thresholds"]["source"],
        "model_name": body["model"]["name"],
        "model_sha256": body["model"]["sha256"],
        "candidates": body["top_k"],
        "processed_at": processed,
    }


def _merge_into_row(
    conn: Connection, agent: str, encounter_id: str, values: dict[str, Any], cache: BatchCache
) -> int:
    row = cache.encounter(agent, encounter_id)
    if row is None:
        keys = {"agent_id": agent, "encounter_id": encounter_id, "decided_by": "machine"}
        inserted = {**keys, **values}
        inserted["id"] = int(conn.execute(_INSERT, inserted).scalar_one())
        cache.remember_encounter(agent, encounter_id, inserted)
        return int(inserted["id"])
    span = {
        "started_at": earliest(row["started_at"], values["started_at"]),
        "last_captured_at": latest(row["last_captured_at"], values["last_captured_at"]),
    }
    newer = (values["event_rank"], values["processed_at"]) >= (
        row["event_rank"],
        row["processed_at"],
    )
    if newer:
        changes = {**values, **span}
        if values["event_rank"] < RANKS["end"]:  # never shrink a count an older event gave
            changes["chip_count"] = max(row["chip_count"], values["chip_count"])
        if row["state"] != "open" and values["state"] == "open":
            changes["state"] = row["state"]
        if row["decided_by"] == "human":  # a person's decision stands
            changes.pop("status")
            changes.pop("individual_ref")
    elif row["state"] == "open":
        changes = {**span, "chip_count": max(row["chip_count"], values["chip_count"])}
    else:
        changes = span
    keep_offset = span["started_at"] != values["started_at"]
    changes["started_offset_min"] = (
        row["started_offset_min"] if keep_offset else values["started_offset_min"]
    )
    update_row(conn, encounters, row["id"], changes)
    cache.remember_encounter(agent, encounter_id, {**row, **changes})
    return int(row["id"])


def _store_chips(conn: Connection, agent: str, encounter: int, body: dict[str, Any]) -> None:
    """The event's own chip, and in an `end` or `amended` event every chip it lists (moved
    to it)."""
    own = {"file": body["file"], "captured_at": body["captured_at"]}
    own["time_source"] = body["time_source"]
    listed = body.get("chips") or []
    rows = [_chip_row(agent, encounter, c) for c in [*listed, own]]
    if not listed:
        insert_ignore(conn, sightings, rows[0])
        return
    unique = list({r["file"]: r for r in rows}.values())
    conn.execute(_chips_upsert(conn.dialect.name), unique)


@cache
def _chips_upsert(dialect_name: str) -> Executable:
    """INSERT chips; a chip already stored moves to this encounter (a merge's survivor)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(sightings)
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=["agent_id", "file"],
        set_={
            "encounter_ref": statement.excluded.encounter_ref,
            "captured_at": statement.excluded.captured_at,
            "captured_offset_min": statement.excluded.captured_offset_min,
            "time_source": statement.excluded.time_source,
        },
    )


def _chip_row(agent: str, encounter: int, chip: dict[str, Any]) -> dict[str, Any]:
    captured = parse_time(chip["captured_at"], "chip captured_at")
    return {
        "agent_id": agent,
        "file": chip["file"],
        "encounter_ref": encounter,
        "captured_at": captured,
        "captured_offset_min": offset_minutes(captured),
        "time_source": chip["time_source"],
        "rejected": False,
    }
