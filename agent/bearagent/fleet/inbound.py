"""What the station sends this box, checked and handed to the handler of its channel.

The publisher subscribes to the box's station topics (QoS 1, its persistent session, so
what the station sent while the box was away arrives on reconnect) and calls `dispatch`
on its own thread with its own SQLite connection. A message is checked against the
station schema (``schemas/station.schema.json``) and must name this box; a bad one is
logged and dropped (a command that cannot be read must not come back forever). Every
handler is idempotent: the station repeats what it has not seen answered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

import jsonschema_rs
import sqlite_utils

from bearagent.wire.channels import StationChannel
from bearagent.wire.payloads import SCHEMA_VERSION
from bearagent.wire.topics import Topics, split_station_topic

log = logging.getLogger(__name__)

#: Station messages larger than this are dropped unread (a model chunk is about 350 kB).
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class StationMessage:
    """One checked message from the station."""

    channel: StationChannel
    body: dict[str, Any]
    topic: str


class InboundHandler(Protocol):
    """Acts on one channel's messages (on the publisher thread, with its connection)."""

    def handle(self, message: StationMessage, db: sqlite_utils.Database) -> None:
        """Apply `message` (idempotently), in transactions of its own."""


@cache
def load_station_schema() -> dict[str, Any]:
    """The JSON Schema of what the station sends a box."""
    text = resources.files("bearagent").joinpath("schemas/station.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(channel: str) -> jsonschema_rs.Draft202012Validator:
    schema = {k: v for k, v in load_station_schema().items() if k != "oneOf"}
    return jsonschema_rs.Draft202012Validator({**schema, "$ref": f"#/$defs/{channel}"})


class InboundRouter:
    """Checks station messages and hands each to the handler of its channel."""

    def __init__(
        self, topics: Topics, agent_id: str, handlers: Mapping[StationChannel, InboundHandler]
    ) -> None:
        self.topics = topics
        self.agent_id = agent_id
        self.handlers = dict(handlers)

    def read(self, topic: str, payload: bytes) -> StationMessage | None:
        """The message, or None (logged) when it is not one this box can act on."""
        channel = split_station_topic(topic, self.topics.station_prefix)
        if channel is None:
            log.warning("ignoring a message on %r: not one of this box's station topics", topic)
            return None
        if len(payload) > MAX_MESSAGE_BYTES:
            log.warning("ignoring a %d-byte message on %s: too large", len(payload), topic)
            return None
        try:
            body = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            log.warning("ignoring a message on %s: not JSON text (%s)", topic, e)
            return None
        if not isinstance(body, dict) or body.get("schema_version") != SCHEMA_VERSION:
            version = body.get("schema_version") if isinstance(body, dict) else None
            log.warning(
                "ignoring a message on %s: schema_version %r, this box reads %d (upgrade the "
                "older of bearagent and bear-station)",
                topic,
                version,
                SCHEMA_VERSION,
            )
            return None
        errors = [str(e) for e in _validator(channel).iter_errors(body)]
        if errors or body.get("event") != channel:
            log.warning("ignoring a message on %s: %s", topic, "; ".join(errors)[:300] or
                        f"event {body.get('event')!r} on the {channel!r} topic")  # fmt: skip
            return None
        if body["agent_id"] != self.agent_id:
            log.warning("ignoring a message on %s for box %r", topic, body["agent_id"])
            return None
        return StationMessage(channel, body, topic)

    def dispatch(self, topic: str, payload: bytes, db: sqlite_utils.Database) -> bool:
        """Read and apply one message; True when a handler took it."""
        message = self.read(topic, payload)
        if message is None:
            return False
        handler = self.handlers.get(message.channel)
        if handler is None:
            log.debug("no handler for %s messages on this box", message.channel)
            return False
        try:
            handler.handle(message, db)
        except Exception:  # a handler's bug must not stop the publisher: log it, go on
            log.exception("the %s handler failed on %s; the message is dropped", message.channel,
                          topic)  # fmt: skip
            return False
        return True
