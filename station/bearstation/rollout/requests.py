"""The boxes' ``model`` reports and ``fetch`` requests, stored in the ingest transaction.

Called by `bearstation.fleet.requests.store_request` for each message; they write the
rollout's tables only and never publish (the tick does). Both are idempotent and keep
to each box's order: a report older (by its stream's sequence number) than the box's
newest, or a request older than the one in hand, such as a resent copy, changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from bearstation.ingest.sql import upsert
from bearstation.messages import Event
from bearstation.tables import box_models, model_fetches, model_offers

#: Report states that close the box's offer of that model.
CLOSING = {"switched": "switched", "running": "running", "refused": "refused"}


def store_model_report(conn: Connection, event: Event, received_at: datetime) -> None:
    """A box's ``model`` report: the model it runs, or how an offer goes. A report older
    than the box's newest one stored (a resent copy) changes nothing."""
    body = event.body
    agent, sha, state = event.agent_id, str(body["sha256"]), str(body["state"])
    if not _newest_report(conn, agent, body, received_at):
        return
    values: dict[str, Any] = {"state": state, "reported_at": received_at}
    if body.get("received") is not None:
        values["received"] = int(body["received"])
    if state == "refused":
        values["reason"] = body.get("reason") or "(no reason given)"
    if state in CLOSING:
        values["closed_at"] = received_at
    conn.execute(
        update(model_offers)
        .where(
            model_offers.c.agent_id == agent,
            model_offers.c.sha256 == sha,
            model_offers.c.closed_at.is_(None),
        )
        .values(values)
    )


def _newest_report(
    conn: Connection, agent: str, body: dict[str, Any], received_at: datetime
) -> bool:
    """Record the report in ``box_models`` (the model the box runs, when it says); False
    when an equal or newer report of the same stream is there already."""
    stream, seq = str(body["stream"]), int(body["seq"])
    known = conn.execute(select(box_models).where(box_models.c.agent_id == agent)).first()
    if known is not None and known.stream == stream and known.seq >= seq:
        return False
    values: dict[str, Any] = {"agent_id": agent, "reported_at": received_at, "stream": stream,
                              "seq": seq}  # fmt: skip
    if body["state"] in ("running", "switched"):
        same = known is not None and known.sha256 == body["sha256"] and known.since is not None
        since = known.since if known is not None and same else received_at
        values.update(sha256=body["sha256"], name=body["name"], since=since)
    upsert(conn, box_models, values, keys=["agent_id"],
           update=[k for k in values if k != "agent_id"])  # fmt: skip
    return True


def store_fetch_request(conn: Connection, event: Event, received_at: datetime) -> None:
    """A box asks for bytes [offset, offset + length) of a model or chip (by SHA-256)."""
    body = event.body
    agent, sha = event.agent_id, str(body["sha256"])
    start, end = int(body["offset"]), int(body["offset"]) + int(body["length"])
    stream, seq = str(body["stream"]), int(body["seq"])
    row = conn.execute(
        select(model_fetches).where(model_fetches.c.agent_id == agent,
                                    model_fetches.c.sha256 == sha)
    ).first()  # fmt: skip
    if row is not None and row.stream == stream and row.seq >= seq:
        return  # an older request than the one in hand (a resent copy)
    if row is not None and row.next_byte < row.end_byte and start <= row.end_byte:
        start, end = min(start, row.next_byte), max(end, row.end_byte)  # one range: merge
    upsert(
        conn,
        model_fetches,
        {"agent_id": agent, "sha256": sha, "next_byte": start, "end_byte": end,
         "stream": stream, "seq": seq, "requested_at": received_at},
        keys=["agent_id", "sha256"],
        update=["next_byte", "end_byte", "stream", "seq", "requested_at"],
    )  # fmt: skip
