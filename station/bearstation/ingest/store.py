"""Storing one parsed message inside the caller's transaction.

Repeats are dropped by ``event_id`` (``stats``, which carry none, by agent and
``sent_at``) with an insert that does nothing on a conflict, so a redelivered
event, or one bridged through two brokers, is stored once.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection

from bearstation.fleet.gallery_ingest import add_chip_reference
from bearstation.fleet.media_ingest import store_chip_message
from bearstation.fleet.requests import store_request
from bearstation.fleet.sequences import record_head, record_seq
from bearstation.ingest.batchcache import BatchCache
from bearstation.ingest.blanks import store_blanks
from bearstation.ingest.corrections import apply_pending, store_correction
from bearstation.ingest.encounters import store_encounter_event
from bearstation.ingest.fields import parse_time
from bearstation.ingest.registry import set_status
from bearstation.ingest.sql import insert_ignore
from bearstation.media.store import MediaStore
from bearstation.messages import Event, Incoming, Parsed, Rejected, Status
from bearstation.tables import quarantine, stats

#: Channels whose messages are requests to the station, not events of the box.
REQUESTS = ("feed", "model", "fetch")

Result = Literal["stored", "duplicate", "status", "quarantined"]


def store_message(
    conn: Connection,
    parsed: Parsed,
    message: Incoming,
    cache: BatchCache,
    media: MediaStore | None = None,
) -> Result:
    """Store `parsed` (from `message`) with `cache` of this transaction; a `Rejected`
    goes to the quarantine. Every message with a box stream's sequence number is recorded
    as held (even quarantined: the quarantine keeps it), so the station can confirm it."""
    if isinstance(parsed, Rejected):
        store_quarantine(conn, message, parsed.reason)
        _record_held(conn, parsed.sequence, message)
        return "quarantined"
    if isinstance(parsed, Status):
        cache.box(parsed.agent_id, message.received_at)
        set_status(conn, parsed.agent_id, parsed.online, message.received_at)
        return "status"
    if parsed.channel == "stats":
        cache.box(parsed.agent_id, message.received_at)
        _record_stats_head(conn, parsed, message)
        return "stored" if _store_stats(conn, parsed) else "duplicate"
    _record_held(conn, parsed.sequence, message)
    body = parsed.body
    if parsed.channel in REQUESTS:
        cache.box(parsed.agent_id, message.received_at)
        store_request(conn, parsed, message.received_at)
        return "stored"
    if parsed.channel == "chip":
        if media is None:
            raise ValueError("a chip arrived but this station has no media store")
        cache.box(parsed.agent_id, message.received_at)
        stored = store_chip_message(conn, media, parsed, message.received_at)
        add_chip_reference(conn, parsed.agent_id, body, message.received_at)  # fleet gallery
        return "stored" if stored else "duplicate"
    if not cache.claim_event(event_row(parsed, message)):
        return "duplicate"
    if parsed.channel == "blank":
        cache.box(parsed.agent_id, message.received_at)
        store_blanks(conn, parsed, cache)
        return "stored"
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


def _record_held(
    conn: Connection, sequence: tuple[str, str, int] | None, message: Incoming
) -> None:
    if sequence is not None:
        agent_id, stream, seq = sequence
        record_seq(conn, agent_id, stream, seq, message.received_at)


def _record_stats_head(conn: Connection, event: Event, message: Incoming) -> None:
    body = event.body
    if "stream" in body:
        record_head(conn, event.agent_id, body["stream"], int(body["seq_head"]),
                    int(body.get("expired_through", 0)), message.received_at)  # fmt: skip


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
