"""The box's handlers of ``offer`` and ``chunk`` (on the publisher thread).

They only read the message and hand it to the rollout's own thread (`RolloutManager`),
which fetches, checks, re-embeds and switches: nothing slow runs on the publisher thread.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Protocol

import sqlite_utils

from bearagent.fleet.inbound import StationMessage
from bearagent.rollout.offers import Offer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """Part of a file the box asked for; `size` is the whole file's (0: the station has none)."""

    sha256: str
    offset: int
    data: bytes
    size: int


class RolloutInbox(Protocol):
    """Where the handlers put what they read (the rollout's thread takes it from there)."""

    def submit(self, item: Offer | Chunk) -> None:
        """Hand an offer or a chunk to the rollout's thread."""


class OfferHandler:
    """``offer``: a model to switch to."""

    def __init__(self, inbox: RolloutInbox) -> None:
        self.inbox = inbox

    def handle(self, message: StationMessage, db: sqlite_utils.Database) -> None:
        """Hand the offer on (the schema checked its fields)."""
        self.inbox.submit(Offer.from_message(message.body))


class ChunkHandler:
    """``chunk``: part of a model or of a reference chip."""

    def __init__(self, inbox: RolloutInbox) -> None:
        self.inbox = inbox

    def handle(self, message: StationMessage, db: sqlite_utils.Database) -> None:
        """Decode the chunk's bytes and hand it on; a chunk that is not base64 is dropped (the
        transfer asks for it again)."""
        body = message.body
        try:
            data = base64.b64decode(str(body["data"]), validate=True)
        except (binascii.Error, ValueError) as e:
            log.warning("dropping a chunk of %s at %s: its data is not base64 (%s)",
                        body["sha256"][:12], body["offset"], e)  # fmt: skip
            return
        self.inbox.submit(Chunk(str(body["sha256"]), int(body["offset"]), data, int(body["size"])))
