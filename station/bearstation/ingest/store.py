"""Storing one parsed message inside the caller's transaction.

Repeats are dropped by ``event_id`` (``stats``, which carry none, by agent and
``sent_at``) with an insert that does nothing on a conflict, so a redelivered
event, or one bridged through two brokers, is stored once.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection

from bearstation.ingest.batchcache import BatchCache
from bearstation.ingest.corrections import apply_pending, store_correction
from bearstation.ingest.encounters import store_encounter_event
from bearstation.ingest.fields import parse_time
from bearstation.ingest.registry import set_status
from bearstation.ingest.sql import insert_ignore
from bearstation.messages import Event, Incoming, Parsed, Rejected, Status
from bearstation.tables import quarantine, stats

Result = Literal["stored", "duplicate", "status", "quarantined"]


def store_message(conn: Connection, parsed: Parsed, message: Incoming, cache: BatchCache) -> Result:
    """Store `parsed` (from `message`) with `cache` of this transaction; a `Rejected`
    goes to the quarantine."""
    if isinstance(parsed, Rejected):
        store_quarantine(conn, message, parsed.reason)
        return "quarantined"
    if isinstance(parsed, Status):
        cache.box(parsed.agent_id, message.received_at)
        set_status(conn, parsed.agent_id, parsed.online, message.received_at)
        return "status"
    if parsed.channel == "stats":
        cache.box(parsed.agent_id, message.received_at)
        return "stored" if _store_stats(conn, parsed) else "duplicate"
    body = parsed.body
    if not cache.claim_event(event_row(parsed, message)):
        return "duplicate"
    if parsed.channel == "correction":
        cache.forget()  # it changes individuals and encounters directly
        store_correction(conn, parsed, message.received_at)
        cache.forget()
    else:
        store_encounter_event(conn, parsed, message.received_at, cache)
        if cache.has_pending(parsed.agent_id, body["encounter_id"]):
            cache.forget()
            apply_pending(conn, parsed.agent_id, body["encounter_id"])
            cache.forget()
    return "stored"


def event_row(event: Event, message: Incoming) -> dict[str, Any]:
    """The ``events`` row of an event with an ``event_id`` (every channel but stats)."""
    body = event.body
    return {
        "event_id": body["event_id"],
        "agent_id": event.agent_id,
        "channel": event.channel,
        "kind": body.get("type") or body.get("action"),
        "topic": message.topic,
        "received_at": message.received_at,
        "payload": event.text,
    }


def store_quarantine(conn: Connection, message: Incoming, reason: str) -> None:
    """Keep `message` as it came, with the reason it could not be stored."""
    conn.execute(
        quarantine.insert().values(
            received_at=message.received_at,
            broker=message.broker,
            topic=message.topic.replace("\x00", "\ufffd"),
            payload=message.payload,
            reason=reason.replace("\x00", "\ufffd"),
        )
    )


def _store_stats(conn: Connection, event: Event) -> bool:
    body = event.body
    return insert_ignore(
        conn,
        stats,
        {
            "agent_id": event.agent_id,
            "sent_at": parse_time(body["sent_at"], "sent_at"),
            **{
                k: body[k]
                for k in (
                    "uptime_s",
                    "processed",
                    "rejected",
                    "mtime_dated",
                    "queue_depth",
                    "outbox_size",
                    "published",
                    "refused",
                    "decisions",
                    "latency_ms",
                )
            },
        },
    )
