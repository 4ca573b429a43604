"""The box's rollout messages to the station: ``model`` reports and ``fetch`` requests.

Both go through the outbox (which adds ``stream`` and ``seq``); the station keeps the
newest report per box and offer, and answers each fetch with ``chunk`` messages.
"""

from __future__ import annotations

import uuid
from typing import Literal

from bearagent.wire import jsontext as jt
from bearagent.wire.payloads import SCHEMA_VERSION

#: What a box reports about a model: the one it runs (at start), an offer's progress,
#: the switch, or a refusal with its reason.
ReportState = Literal["running", "fetching", "verifying", "switched", "refused"]
#: The largest part of a file one ``fetch`` asks for (the station answers it in chunks).
MAX_FETCH_BYTES = 4 * 1024 * 1024


def model_report(
    agent_id: str,
    *,
    sha256: str,
    name: str,
    state: ReportState,
    reason: str | None = None,
    received: int | None = None,
    size: int | None = None,
) -> str:
    """The JSON text of a ``model`` message."""
    return jt.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "event": "model",
            "event_id": str(uuid.uuid4()),
            "agent_id": agent_id,
            "sha256": sha256,
            "name": jt.text(name),
            "state": state,
            "reason": jt.optional_text(reason),
            "received": received,
            "size": size,
        }
    )


def fetch_request(agent_id: str, *, sha256: str, offset: int, length: int) -> str:
    """The JSON text of a ``fetch`` message: bytes [offset, offset + length) of a file."""
    if offset < 0 or not 1 <= length <= MAX_FETCH_BYTES:
        raise ValueError(f"fetch of {length} bytes at {offset}: 1 to {MAX_FETCH_BYTES} bytes")
    return jt.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "event": "fetch",
            "event_id": str(uuid.uuid4()),
            "agent_id": agent_id,
            "sha256": sha256,
            "offset": offset,
            "length": length,
        }
    )
