"""The agent's MQTT side: topics, JSON payloads, the SQLite outbox and its publisher.

The pipeline builds a payload (`sighting_payload`, `unknown_payload`), writes it
with `outbox.enqueue` in the transaction that records the sighting, then calls
`Publisher.notify`; the publisher delivers it and deletes the row on PUBACK.
"""

from bearagent.mqtt import outbox
from bearagent.mqtt.base import Publisher
from bearagent.mqtt.config import MqttConfig, TlsConfig, TlsVersion
from bearagent.mqtt.errors import CredentialsError, MqttError, TlsError, TopicError
from bearagent.mqtt.payloads import (
    SCHEMA_VERSION,
    Candidate,
    Decision,
    Encounter,
    ModelRef,
    Origin,
    Percentiles,
    SightingType,
    Stats,
    load_schema,
    sighting_payload,
    stats_payload,
    status_payload,
    unknown_payload,
)
from bearagent.mqtt.publisher import MqttPublisher, PublisherCounters
from bearagent.mqtt.topics import Topics, validate_agent_id

__all__ = [
    "SCHEMA_VERSION",
    "Candidate",
    "CredentialsError",
    "Decision",
    "Encounter",
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
    "TlsConfig",
    "TlsError",
    "TlsVersion",
    "TopicError",
    "Topics",
    "load_schema",
    "outbox",
    "sighting_payload",
    "stats_payload",
    "status_payload",
    "unknown_payload",
    "validate_agent_id",
]
