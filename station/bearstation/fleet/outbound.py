"""What the station sends a box: one JSON message on the box's station topic, QoS 1.

`Outbound.send` adds the envelope every station message carries (schema_version,
event, message_id, station_id, agent_id, sent_at; ``schemas/station.schema.json``) and
publishes it on every connected broker link: a box is reached through the broker it
is bridged to, and a repeat is harmless (the box applies every message idempotently).
Nothing here waits for the database or for the broker.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bearagent.wire.channels import StationChannel
from bearagent.wire.payloads import SCHEMA_VERSION
from bearagent.wire.topics import station_topic

log = logging.getLogger(__name__)


class Link(Protocol):
    """A broker connection the station can publish on."""

    @property
    def where(self) -> str: ...
    def publish(self, topic: str, payload: str) -> bool: ...


class Outbound:
    """Sends station messages to boxes over the station's broker links."""

    def __init__(self, station_id: str, links: Sequence[Link], prefix: str) -> None:
        self.station_id = station_id
        self.links = list(links)
        self.prefix = prefix
        self.sent = 0

    def send(self, agent_id: str, channel: StationChannel, body: dict[str, Any]) -> bool:
        """Publish `body` to box `agent_id` on `channel`; False when no broker took it."""
        message = {
            "schema_version": SCHEMA_VERSION,
            "event": channel,
            "message_id": str(uuid.uuid4()),
            "station_id": self.station_id,
            "agent_id": agent_id,
            "sent_at": datetime.now(UTC).isoformat(),
            **body,
        }
        topic = station_topic(agent_id, channel, self.prefix)
        text = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        taken = [link.publish(topic, text) for link in self.links]
        if not any(taken):
            log.debug("no broker took the %s for %s (not connected)", channel, agent_id)
            return False
        self.sent += 1
        return True
