"""The one place MQTT topic strings are built and read, for the box and the station.

A box publishes under ``bearid/<agent_id>/`` (`Topics`, from ``mqtt.topic_prefix``) and
reads what the station sends it under ``bearid-station/<agent_id>/``
(``mqtt.station_topic_prefix``); the station reads every box's topics and writes each
box's station topics (`split_box_topic`, `station_topic`). Two roots, so a broker's
ACL can let a box write only its own topics and read only its own commands.

Only the agent id (from the agent's config) and the configured prefixes go into a
topic. Camera, site and file names never do: they travel in payloads, where a
``+``, ``#`` or ``/`` in a folder name cannot redirect or widen a message.
The outbox stores a `Channel`, not a topic: the publisher asks `Topics.of` where
a row goes, so a changed prefix applies to events already waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from bearagent.wire.channels import (
    CHANNELS,
    STATION_CHANNELS,
    STATUS,
    Channel,
    StationChannel,
    check_channel,
    check_station_channel,
)
from bearagent.wire.errors import TopicError

__all__ = [
    "CHANNELS",
    "Channel",
    "Topics",
    "check_channel",
    "split_box_topic",
    "split_station_topic",
    "station_topic",
    "validate_agent_id",
]

#: Placeholder in `MqttConfig.topic_prefix` replaced by the agent id.
AGENT_PLACEHOLDER = "{agent_id}"
#: Default root of a box's topics, and of what the station sends boxes.
BOX_ROOT = "bearid/"
STATION_ROOT = "bearid-station/"
#: The MQTT limit on a topic's encoded length.
MAX_TOPIC_BYTES = 65_535

_FORBIDDEN = {
    "+": "'+', the MQTT single-level wildcard",
    "#": "'#', the MQTT multi-level wildcard",
    "/": "'/', the MQTT topic level separator",
    "\x00": "a NUL character, which MQTT forbids in topics",
}


def validate_agent_id(agent_id: str) -> str:
    """Return `agent_id` when it can sit inside one topic level; raise `TopicError` if not."""
    if not agent_id:
        raise TopicError("agent id is empty: set agent_id to a name for this box, e.g. 'den-01'")
    for char, what in _FORBIDDEN.items():
        if char in agent_id:
            raise TopicError(
                f"agent id {agent_id!r} contains {what}: use letters, digits, '-', '_' or '.'"
            )
    _check_utf8(agent_id, "agent id")
    return agent_id


def _check_utf8(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TopicError(
            f"{what} {text!r} is not valid UTF-8 text (it holds undecodable bytes): "
            "use letters, digits, '-', '_' or '.'"
        ) from None


@dataclass(frozen=True)
class Topics:
    """A box's topics: `status` and one per `Channel` under its prefix, and what the
    station sends it under its station prefix."""

    prefix: str
    station_prefix: str = STATION_ROOT + "box/"

    @classmethod
    def build(
        cls,
        prefix_template: str,
        agent_id: str,
        station_template: str = STATION_ROOT + AGENT_PLACEHOLDER + "/",
    ) -> Topics:
        """Topics for `agent_id` under the templates (``{agent_id}`` replaced)."""
        validate_agent_id(agent_id)
        prefix = _expand(prefix_template, agent_id, "mqtt.topic_prefix")
        station = _expand(station_template, agent_id, "mqtt.station_topic_prefix")
        if prefix == station:
            raise TopicError(
                f"mqtt.topic_prefix and mqtt.station_topic_prefix are both {prefix!r}: the box's "
                "own topics and the station's commands need their own prefixes"
            )
        return cls(prefix, station)

    def inbound(self, channel: StationChannel) -> str:
        """The topic the station sends this box `channel` on."""
        return self.station_prefix + check_station_channel(channel)

    @property
    def inbound_filter(self) -> str:
        """The subscription for everything the station sends this box."""
        return self.station_prefix + "#"

    @property
    def status(self) -> str:
        """Retained ``online`` / ``offline``; the last will."""
        return self.prefix + "status"

    @property
    def sighting(self) -> str:
        """Encounters with a known (or provisional) individual."""
        return self.prefix + "sighting"

    @property
    def unknown(self) -> str:
        """One alert per new provisional individual."""
        return self.prefix + "unknown"

    @property
    def correction(self) -> str:
        """A person's decision on the review page."""
        return self.prefix + "correction"

    @property
    def stats(self) -> str:
        """Periodic counters."""
        return self.prefix + "stats"

    def of(self, channel: Channel) -> str:
        """The topic an outbox row of `channel` is published on."""
        return self.prefix + check_channel(channel)

    def all(self) -> tuple[str, ...]:
        """Every topic (`status`, then one per channel), for subscribing consumers and tests."""
        return (self.status, *(self.prefix + c for c in CHANNELS))


def split_box_topic(topic: str, prefix: str = BOX_ROOT) -> tuple[str, str] | None:
    """(agent_id, channel or ``status``) of ``<prefix><agent_id>/<channel>``, or None."""
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 2 or not parts[0] or parts[1] not in (STATUS, *CHANNELS):
        return None
    return parts[0], parts[1]


def station_topic(agent_id: str, channel: StationChannel, prefix: str = STATION_ROOT) -> str:
    """The topic the station sends box `agent_id` `channel` on: ``<prefix><agent_id>/<channel>``."""
    return f"{prefix}{validate_agent_id(agent_id)}/{check_station_channel(channel)}"


def split_station_topic(topic: str, station_prefix: str) -> StationChannel | None:
    """The channel of a topic under a box's own station prefix, or None."""
    if not topic.startswith(station_prefix):
        return None
    rest = topic[len(station_prefix) :]
    return next((c for c in STATION_CHANNELS if c == rest), None)


def _expand(template: str, agent_id: str, key: str) -> str:
    if "{" in template.replace(AGENT_PLACEHOLDER, ""):
        raise TopicError(
            f"{key} {template!r} has a placeholder other than {AGENT_PLACEHOLDER}: remove it"
        )
    prefix = template.replace(AGENT_PLACEHOLDER, agent_id)
    _check_prefix(template, prefix, key)
    return prefix


def _check_prefix(template: str, prefix: str, key: str = "mqtt.topic_prefix") -> None:
    where = f"{key} {template!r}"
    if not prefix.endswith("/"):
        raise TopicError(f"{where} must end with '/', e.g. 'bearid/{{agent_id}}/'")
    if prefix.startswith("/") or "//" in prefix:
        raise TopicError(f"{where} has an empty topic level ('//' or a leading '/'): remove it")
    if prefix.startswith("$"):
        raise TopicError(f"{where} starts with '$', which brokers reserve ($SYS): remove it")
    for char in "+#\x00":
        if char in prefix:
            raise TopicError(f"{where} contains {_FORBIDDEN[char]}: remove it")
    _check_utf8(prefix, "mqtt.topic_prefix")
    if len(prefix.encode("utf-8")) + max(map(len, CHANNELS)) > MAX_TOPIC_BYTES:
        raise TopicError(f"{where} is longer than MQTT allows ({MAX_TOPIC_BYTES} bytes)")
