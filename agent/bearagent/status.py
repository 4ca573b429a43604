"""What the agent's database says about its work, for ``bearagent status``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlite_utils

from bearagent.detection.frames_table import frames_summary
from bearagent.fleet.config import UploadConfig
from bearagent.fleet.media import spool_state
from bearagent.gallery.calibration import gallery_key
from bearagent.mqtt import outbox
from bearagent.store import StoreError, open_database


def database_status(database: Path) -> dict[str, Any]:
    """Files by status, sightings, open encounters, outbox size, frames (blanks per camera)
    and the last events."""
    if not database.is_file():
        raise StoreError(
            f"database {database} does not exist: the agent has not run with it yet "
            "(check agent.state_dir / --db)"
        )
    db = open_database(database)
    try:
        tables = set(db.table_names())

        def scalar(sql: str, table: str) -> int:
            return int(db.execute(sql).fetchone()[0]) if table in tables else 0

        files = (
            dict(db.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall())
            if "files" in tables
            else {}
        )
        last = (
            [
                {
                    "encounter_id": r[0],
                    "camera": r[1],
                    "individual_id": r[2],
                    "chips": r[3],
                    "ended": bool(r[4]),
                    "updated_at": r[5],
                }
                for r in db.execute(
                    "SELECT id, camera, individual_id, chip_count, ended, updated_at"
                    " FROM encounters ORDER BY updated_at DESC LIMIT 5"
                ).fetchall()
            ]
            if "encounters" in tables
            else []
        )
        return {
            "database": str(database),
            "files": files,
            "sightings": scalar("SELECT COUNT(*) FROM sightings", "sightings"),
            "chips_by_time_source": _grouped(db, tables, "sightings", "time_source"),
            "chips_dated_by_mtime": scalar(
                "SELECT COUNT(*) FROM sightings WHERE time_source = 'mtime'", "sightings"
            ),
            "encounters_by_status": _grouped(db, tables, "encounters", "status"),
            "gallery_calibration": _calibration(db, tables),
            "open_encounters": scalar(
                "SELECT COUNT(*) FROM encounters WHERE ended = 0", "encounters"
            ),
            "outbox_size": scalar(
                "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL", "outbox"
            ),
            "station": _station(db, tables),
            "frames": frames_summary(db),  # the detector stage: by status, blanks per camera
            "last_encounters": last,
        }
    finally:
        db.conn.close()


def _grouped(
    db: sqlite_utils.Database, tables: set[str], table: str, column: str
) -> dict[str, int]:
    if table not in tables or column not in {c.name for c in db[table].columns}:
        return {}
    rows = db.execute(f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}").fetchall()
    return {str(k): int(n) for k, n in rows if k is not None}


def _calibration(db: sqlite_utils.Database, tables: set[str]) -> dict[str, Any] | str:
    """The newest gallery calibration, and whether the gallery has changed since."""
    if "calibrations" not in tables:
        return "none"
    row = db.execute(
        "SELECT created_at, model_sha256, gallery_key, score, known, unknown, individuals,"
        " encounters FROM calibrations ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return (
            "none: the gallery is too small, or not calibrated yet (`bearagent gallery calibrate`)"
        )
    created, sha, key, score, known, unknown, individuals, encounters = row
    return {
        "created_at": created,
        "score": score,
        "known_threshold": known,
        "unknown_threshold": unknown,
        "individuals": individuals,
        "encounters": encounters,
        "current": key == gallery_key(db, sha),
    }


def _station(db: sqlite_utils.Database, tables: set[str]) -> dict[str, Any] | str:
    """What the station has confirmed of this box's stream, and the chips on their way."""
    if "outbox_stream" not in tables:
        return "none"
    state = outbox.stream_state(db)
    out: dict[str, Any] = {
        "stream": state.stream,
        "latest_seq": state.head,
        "confirmed_through": state.confirmed_through,
        "kept_unconfirmed": state.unconfirmed,
        "kept_unconfirmed_bytes": state.unconfirmed_bytes,
        "dropped_unconfirmed_through": state.expired_through,
    }
    if "media_queue" in tables:
        spool = spool_state(db, UploadConfig())
        out["chips"] = {
            "queued": spool.queued,
            "in_outbox": spool.in_outbox,
            "outbox_bytes": spool.outbox_bytes,
            "sent": spool.sent,
            "missing": spool.missing,
            "skipped": spool.skipped,
        }
    return out
