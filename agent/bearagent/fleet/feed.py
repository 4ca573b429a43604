"""The ``gallery`` handler: the fleet gallery's changes applied in order, each exactly once.

The station sends ``gallery`` {"changes": [{"seq", "kind", ...}], "head"} with the
changes after the position this box last reported. Here, in one transaction per
message: changes at or below the applied position are repeats (ignored); the next one
(``applied + 1``) is applied (`feed_apply`); one further ahead is a gap, and
everything from it waits. The box then reports its position with a ``feed``
{"applied": N} message, which asks the station for what follows (after applying,
after a gap or a waiting merge, and at start). A change that cannot be read is
skipped with the reason logged, so one bad change never stops the feed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from bearagent.fleet.feed_apply import FeedChangeInvalid, FeedContext, MergeWaits, apply_change
from bearagent.fleet.feed_payloads import feed_payload
from bearagent.fleet.feed_state import applied_position, ensure_schema, set_applied
from bearagent.fleet.inbound import StationMessage
from bearagent.mqtt import outbox
from bearagent.store import open_database, transaction

log = logging.getLogger(__name__)


class GalleryFeedHandler:
    """Applies ``gallery`` messages to this box's gallery (on the publisher thread)."""

    def __init__(
        self,
        agent_id: str,
        model_sha256: Callable[[], str],
        max_references: int = 50,
    ) -> None:
        self.agent_id = agent_id
        self.model_sha256 = model_sha256
        self.max_references = max_references

    def handle(self, message: StationMessage, db: sqlite_utils.Database) -> None:
        """Apply what the message holds in order; report the position when it moved or
        when something waits."""
        changes = message.body.get("changes")
        if not isinstance(changes, list):
            log.warning("ignoring a gallery message without a list of changes")
            return
        ensure_schema(db)
        ctx = FeedContext(self.agent_id, self.model_sha256(), self.max_references)
        with transaction(db):
            before = applied_position(db)
            applied, stalled = apply_in_order(db, changes, before, ctx)
            if applied != before:
                set_applied(db, applied)
            if applied != before or stalled:
                outbox.enqueue(db, "feed", feed_payload(self.agent_id, applied))
        if applied != before:
            log.info("fleet gallery: applied changes %d to %d", before + 1, applied)

    def announce(self, db: sqlite_utils.Database) -> int:
        """Report this box's position (at start and on every connect); returns it."""
        ensure_schema(db)
        with transaction(db):
            applied = applied_position(db)
            outbox.enqueue(db, "feed", feed_payload(self.agent_id, applied))
        return applied


def apply_in_order(
    db: sqlite_utils.Database, changes: list[Any], applied: int, ctx: FeedContext
) -> tuple[int, bool]:
    """Apply `changes` after position `applied` (inside the caller's transaction); returns
    the new position and whether something waits (a gap, or a merge that must wait)."""
    ordered = sorted(
        (c for c in changes if isinstance(c, dict) and isinstance(c.get("seq"), int)),
        key=lambda c: int(c["seq"]),
    )
    for change in ordered:
        seq = int(change["seq"])
        if seq <= applied:
            continue  # a repeat
        if seq != applied + 1:
            log.info("fleet gallery: change %d arrived before %d; asking again", seq, applied + 1)
            return applied, True
        try:
            done = apply_change(db, seq, change, ctx)
        except MergeWaits as e:
            log.info("fleet gallery: %s", e)
            return applied, True
        except FeedChangeInvalid as e:
            done = f"skipped: {e}"
            log.error("fleet gallery: %s", e)
        log.debug("fleet gallery change %d: %s", seq, done)
        applied = seq
    return applied, False


def gallery_feed_handler(
    database: Path, agent_id: str, model_sha256: Callable[[], str], max_references: int = 50
) -> GalleryFeedHandler:
    """The handler, with this box's position already queued for the station (the agent's
    start: the station answers with what follows)."""
    handler = GalleryFeedHandler(agent_id, model_sha256, max_references)
    db = open_database(database)
    try:
        handler.announce(db)
    finally:
        db.conn.close()
    return handler
