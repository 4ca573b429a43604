"""Receipts and resend requests: the station says what it holds and what it lacks.

A receipt lets the box drop the published messages the station holds; a resend request
marks the kept ones it lacks as unpublished, so the publisher sends them again. What the
box no longer has (dropped by the retention limit) it reports in its stats
(``expired_through``), so the station knows that gap cannot be repaired.
"""

from __future__ import annotations

import logging

import sqlite_utils

from bearagent.fleet.inbound import StationMessage
from bearagent.mqtt import outbox
from bearagent.store import transaction

log = logging.getLogger(__name__)


class ReceiptHandler:
    """``receipt``: drop the kept messages the station holds."""

    def handle(self, message: StationMessage, db: sqlite_utils.Database) -> None:
        """Confirm everything up to the receipt's ``through``."""
        body = message.body
        with transaction(db):
            dropped = outbox.confirm(db, str(body["stream"]), int(body["through"]))
        if dropped:
            log.debug("station holds everything through %d: dropped %d kept", body["through"],
                      dropped)  # fmt: skip


class ResendHandler:
    """``resend``: publish again the kept messages the station lacks."""

    def handle(self, message: StationMessage, db: sqlite_utils.Database) -> None:
        """Mark the requested ranges unpublished (the publisher sends them next)."""
        body = message.body
        ranges = [(int(a), int(b)) for a, b in body["ranges"]]
        with transaction(db):
            again = outbox.resend(db, str(body["stream"]), ranges)
        gone = outbox.expired_through(db)
        log.info(
            "station asked for %d range(s) again: %d message(s) kept are resent%s",
            len(ranges),
            again,
            f"; everything through {gone} was dropped by the retention limit" if gone else "",
        )
