"""A box's ``blank`` message: frames its detector found empty, kept for Camtrap DP."""

from __future__ import annotations

from sqlalchemy import Connection

from bearstation.ingest.batchcache import BatchCache
from bearstation.ingest.fields import offset_minutes, parse_time
from bearstation.ingest.sql import insert_ignore
from bearstation.messages import Event
from bearstation.tables import blank_frames


def store_blanks(conn: Connection, event: Event, cache: BatchCache) -> int:
    """One row per blank frame (a frame reported twice is kept once), its camera known as a
    deployment; returns how many are new."""
    body = event.body
    new = 0
    for frame in body["frames"]:
        captured = parse_time(frame["captured_at"], "captured_at")
        cache.camera(event.agent_id, frame["site"], frame["camera"], captured, captured)
        new += insert_ignore(
            conn,
            blank_frames,
            {
                "agent_id": event.agent_id,
                "file": frame["file"],
                "site": frame["site"],
                "camera": frame["camera"],
                "captured_at": captured,
                "captured_offset_min": offset_minutes(captured),
                "time_source": frame["time_source"],
                "detector": body.get("detector"),
            },
        )
    return new
