"""The agent's MQTT side: topics, JSON payloads, the SQLite outbox and its publisher.

The pipeline builds a payload (`encounter_payload`, `correction_payload`), writes it
with ``outbox.enqueue(db, channel, payload)`` in the transaction that records the
sighting, then calls `Publisher.notify`; the publisher (`make_publisher`) turns the
channel into a topic (`Topics.of`), delivers the row and deletes it on PUBACK.
"""

from bearagent.mqtt import outbox
from bearagent.mqtt.base import Publisher, PublisherCounters
from bearagent.mqtt.config import MqttConfig, TlsConfig, TlsVersion
from bearagent.mqtt.errors import CredentialsError, MqttError, TlsError, TopicError
from bearagent.mqtt.factory import make_publisher
from bearagent.mqtt.payloads import (
    SCHEMA_VERSION,
    ChipRef,
    EncounterRef,
    Identity,
    ModelRef,
    Origin,
    Percentiles,
    SightingType,
    Stats,
    correction_payload,
    encounter_payload,
    load_schema,
    stats_payload,
    status_payload,
)
from bearagent.mqtt.publisher import MqttPublisher
from bearagent.mqtt.stdout_publisher import StdoutPublisher
from bearagent.mqtt.topics import CHANNELS, Channel, Topics, validate_agent_id

__all__ = [
    "CHANNELS",
    "SCHEMA_VERSION",
    "Channel",
    "ChipRef",
    "CredentialsError",
    "EncounterRef",
    "Identity",
    "ModelRef",
    "MqttConfig",
    "MqttError",
    "MqttPublisher",
    "Origin",
    "Percentiles",
    "Publisher",
    "PublisherCounters",
    "SightingType",
    "Stats",
    "StdoutPublisher",
    "TlsConfig",
    "TlsError",
    "TlsVersion",
    "TopicError",
    "Topics",
    "correction_payload",
    "encounter_payload",
    "load_schema",
    "make_publisher",
    "outbox",
    "stats_payload",
    "status_payload",
    "validate_agent_id",
]
