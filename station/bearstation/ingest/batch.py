"""Writing a batch of messages: one transaction, and a fallback that isolates a bad one.

A batch commits as one transaction (fast). If something in it cannot be stored
for a reason of its own (a payload the schema allows but the database refuses),
the batch is redone one message per transaction and the culprit goes to the
quarantine with the error, so one message never blocks the rest. If the
database itself is unavailable (down, locked, disk full), `StorageUnavailable`
is raised and nothing may be acknowledged: the caller retries the same batch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from bearstation.database import first_line
from bearstation.errors import StationError
from bearstation.fleet.media_ingest import ChipRefused, MediaFolderUnavailable
from bearstation.ingest.batchcache import BatchCache
from bearstation.ingest.fields import PayloadProblem
from bearstation.ingest.store import Result, event_row, store_message, store_quarantine
from bearstation.media.store import MediaStore
from bearstation.messages import Event, Incoming, Parsed, parse

log = logging.getLogger(__name__)
_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError)
#: What one message can cause by its content (caught per message, then quarantined).
_MESSAGE_FAULTS = (SQLAlchemyError, PayloadProblem, ValueError, KeyError, TypeError, ChipRefused)


#: Channels stored as rows of ``events`` (chips go to the media store, requests to their
#: owners' tables, stats to their own table).
_EVENTS = ("sighting", "unknown", "correction", "blank")


class StorageUnavailable(StationError):
    """The database cannot take writes right now; retry later, acknowledge nothing."""


def write_batch(
    engine: Engine, messages: Sequence[Incoming], prefix: str, media: MediaStore | None = None
) -> list[Result]:
    """Store `messages` (chips' bytes in `media`); one result each, in order. Raises
    `StorageUnavailable`."""
    parsed = [parse(m, prefix) for m in messages]
    try:
        with engine.begin() as conn:
            cache = BatchCache(conn)
            cache.insert_events(_event_rows(parsed, messages))
            cache.prefetch_encounters(_encounter_keys(parsed))
            stored = [
                store_message(conn, p, m, cache, media)
                for p, m in zip(parsed, messages, strict=True)
            ]
            cache.flush()
            return stored
    except _UNAVAILABLE as e:
        raise StorageUnavailable(f"database unavailable: {first_line(e)}") from e
    except MediaFolderUnavailable as e:
        raise StorageUnavailable(f"media folder unavailable: {e}") from e
    except _MESSAGE_FAULTS as e:
        log.info("a batch of %d failed (%s); storing one at a time", len(messages), first_line(e))
    results: list[Result] = []
    for p, m in zip(parsed, messages, strict=True):
        try:
            with engine.begin() as conn:
                cache = BatchCache(conn)
                results.append(store_message(conn, p, m, cache, media))
                cache.flush()
        except _UNAVAILABLE as e:
            raise StorageUnavailable(f"database unavailable: {first_line(e)}") from e
        except MediaFolderUnavailable as e:
            raise StorageUnavailable(f"media folder unavailable: {e}") from e
        except _MESSAGE_FAULTS as e:
            reason = f"could not be stored: {type(e).__name__}: {first_line(e)}"
            log.warning("quarantined a message on %s: %s", m.topic, reason)
            try:
                with engine.begin() as conn:
                    store_quarantine(conn, m, reason[:2000])
            except _UNAVAILABLE as e2:
                raise StorageUnavailable(f"database unavailable: {first_line(e2)}") from e2
            results.append("quarantined")
    return results


def _event_rows(parsed: Sequence[Parsed], messages: Sequence[Incoming]) -> list[dict[str, Any]]:
    return [
        event_row(p, m)
        for p, m in zip(parsed, messages, strict=True)
        if isinstance(p, Event) and p.channel in _EVENTS
    ]


def _encounter_keys(parsed: Sequence[Parsed]) -> list[tuple[str, str]]:
    return [
        (p.agent_id, p.body["encounter_id"])
        for p in parsed
        if isinstance(p, Event) and p.channel in ("sighting", "unknown")
    ]
