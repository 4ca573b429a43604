"""The live status file: the running agent's counters, for ``bearagent status``.

Written atomically every few seconds beside the database; another process reads
it without touching the agent.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def status_path(database: Path) -> Path:
    """Where the agent using `database` writes its status."""
    return database.with_name(database.name + ".status.json")


def write_status(path: Path, status: dict[str, Any]) -> bool:
    """Replace the status file with `status` (plus the time it was written).

    Best effort: the worker calls this between batches, so a full disk or a
    read-only folder is logged and reported (False) instead of raised; raising
    would stop the chip worker, and with it the agent, over a status file.
    """
    body = json.dumps({**status, "written_at": datetime.now(UTC).isoformat()}, default=str)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        log.warning("cannot write the status file %s (%s); the agent goes on", path, e)
        return False
    return True


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status written, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
