"""The agent's MQTT side: the SQLite outbox and the publisher that drains it.

The pipeline builds a payload (`bearagent.wire.payloads`), writes it with
``outbox.enqueue(db, channel, payload)`` in the transaction that records the
sighting, then calls `Publisher.notify`; the publisher (`make_publisher`) turns the
channel into a topic (`bearagent.wire.topics.Topics.of`), delivers the row and
deletes it on PUBACK. What travels, and on which topics, is `bearagent.wire`: the
station reads it from there too.
"""

from bearagent.mqtt import outbox
from bearagent.mqtt.base import Publisher, PublisherCounters
from bearagent.mqtt.config import MqttConfig, TlsConfig, TlsVersion
from bearagent.mqtt.factory import make_publisher
from bearagent.mqtt.publisher import MqttPublisher
from bearagent.mqtt.stdout_publisher import StdoutPublisher

__all__ = [
    "MqttConfig",
    "MqttPublisher",
    "Publisher",
    "PublisherCounters",
    "StdoutPublisher",
    "TlsConfig",
    "TlsVersion",
    "make_publisher",
    "outbox",
]
