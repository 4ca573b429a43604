"""The ``feed`` message: how far this box has applied the fleet gallery's feed."""

from __future__ import annotations

import uuid

from bearagent.wire import jsontext as jt
from bearagent.wire.payloads import SCHEMA_VERSION


def feed_payload(agent_id: str, applied: int, event_id: uuid.UUID | None = None) -> str:
    """JSON text of a ``feed`` message (the outbox adds stream and seq): every change
    through `applied` is applied here; the station sends what follows."""
    if applied < 0:
        raise ValueError(f"a feed position is 0 or more, not {applied}")
    return jt.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "event": "feed",
            "event_id": str(event_id or uuid.uuid4()),
            "agent_id": jt.text(agent_id),
            "applied": int(applied),
        }
    )
