"""The agent's MQTT side: topics, JSON payloads, the SQLite outbox and its publisher.

The pipeline builds a payload (`encounter_payload`, `correction_payload`), writes it
with `outbox.enqueue` in the transaction that records the sighting, then calls
`Publisher.notify`; the publisher delivers it and deletes the row on PUBACK.
"""

from bearagent.mqtt import outbox
from bearagent.mqtt.base import Publisher
from bearagent.mqtt.config import MqttConfig, TlsConfig, TlsVersion
from bearagent.mqtt.errors import CredentialsError, MqttError, TlsError, TopicError
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
from bearagent.mqtt.publisher import MqttPublisher, PublisherCounters
from bearagent.mqtt.topics import Topics, validate_agent_id

__all__ = [
    "SCHEMA_VERSION",
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
    "TlsConfig",
    "TlsError",
    "TlsVersion",
    "TopicError",
    "Topics",
    "correction_payload",
    "encounter_payload",
    "load_schema",
    "outbox",
    "stats_payload",
    "status_payload",
    "validate_agent_id",
]
