"""What the agent's database says about its work, for ``bearagent status``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bearagent.store import StoreError, open_database


def database_status(database: Path) -> dict[str, Any]:
    """Files by status, sightings, open encounters, outbox size and the last events."""
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
            "open_encounters": scalar(
                "SELECT COUNT(*) FROM encounters WHERE ended = 0", "encounters"
            ),
            "outbox_size": scalar("SELECT COUNT(*) FROM outbox", "outbox"),
            "last_encounters": last,
        }
    finally:
        db.conn.close()
