"""The one place MQTT topic strings are built.

Only the agent id (from the agent's config) and the configured prefix go into a
topic. Camera, site and file names never do: they travel in payloads, where a
``+``, ``#`` or ``/`` in a folder name cannot redirect or widen a message.
The outbox stores a `Channel`, not a topic: the publisher asks `Topics.of` where
a row goes, so a changed prefix applies to events already waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from bearagent.mqtt.errors import TopicError

#: What an outbox row is: the last level of the topic it is published on.
Channel = Literal["sighting", "unknown", "correction", "stats"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)

#: Placeholder in `MqttConfig.topic_prefix` replaced by the agent id.
AGENT_PLACEHOLDER = "{agent_id}"
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


def check_channel(channel: str) -> Channel:
    """`channel` when it is one of `CHANNELS`; a ValueError naming it and them if not."""
    for known in CHANNELS:
        if channel == known:
            return known
    raise ValueError(
        f"unknown outbox channel {channel!r}: use one of {', '.join(CHANNELS)} "
        "(the topic is built from it by Topics.of)"
    )


@dataclass(frozen=True)
class Topics:
    """The agent's topics: `status` and one per `Channel`, under one prefix."""

    prefix: str

    @classmethod
    def build(cls, prefix_template: str, agent_id: str) -> Topics:
        """Topics for `agent_id` under `prefix_template` (``{agent_id}`` replaced)."""
        validate_agent_id(agent_id)
        if "{" in prefix_template.replace(AGENT_PLACEHOLDER, ""):
            raise TopicError(
                f"mqtt.topic_prefix {prefix_template!r} has a placeholder other than "
                f"{AGENT_PLACEHOLDER}: remove it"
            )
        prefix = prefix_template.replace(AGENT_PLACEHOLDER, agent_id)
        _check_prefix(prefix_template, prefix)
        return cls(prefix)

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


def _check_prefix(template: str, prefix: str) -> None:
    where = f"mqtt.topic_prefix {template!r}"
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
