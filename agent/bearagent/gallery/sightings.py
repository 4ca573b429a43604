"""Sightings: one row per chip, written by the agent in the same transaction as its event."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from bearagent.gallery.writes import now_iso


@dataclass(frozen=True)
class Sighting:
    """One chip's match, as the agent records it."""

    file: str
    model_sha256: str
    individual_id: str | None
    similarity: float | None
    camera: str | None = None
    site: str | None = None
    captured_at: str | None = None
    encounter_id: str | None = None
    time_source: str | None = None  # sidecar, exif, filename or mtime
    detection: str | None = None  # the sidecar's detection, JSON
    outcome: str | None = None  # the chip's own decision: known, review or unknown


def record_sighting(db: sqlite_utils.Database, sighting: Sighting) -> int:
    """Insert one chip's sighting row and return its id. Does NOT commit.

    Call it inside `bearagent.store.transaction(db)` together with the MQTT outbox
    row, so both exist or neither does.
    """
    cursor = db.execute(
        "INSERT INTO sightings (file, camera, site, captured_at, processed_at, individual_id,"
        " similarity, encounter_id, model_sha256, time_source, detection, outcome)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            sighting.file,
            sighting.camera,
            sighting.site,
            sighting.captured_at,
            now_iso(),
            sighting.individual_id,
            sighting.similarity,
            sighting.encounter_id,
            sighting.model_sha256,
            sighting.time_source,
            sighting.detection,
            sighting.outcome,
        ],
    )
    return int(cursor.lastrowid or 0)


def sightings_of(db: sqlite_utils.Database, individual_id: str, limit: int = 20) -> list[Sighting]:
    """The latest sightings of one individual, newest first."""
    rows = db.execute(
        "SELECT file, model_sha256, individual_id, similarity, camera, site, captured_at,"
        " encounter_id, time_source, detection, outcome FROM sightings WHERE individual_id = ?"
        " ORDER BY coalesce(captured_at, processed_at) DESC, id DESC LIMIT ?",
        [individual_id, limit],
    ).fetchall()
    return [Sighting(*row) for row in rows]
