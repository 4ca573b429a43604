"""The wire between the field boxes and the station, in one home both sides import.

- `channels`: what a box sends (its outbox's channels) and what the station sends it;
- `topics`: the one place topic strings are built and read (both roots);
- `payloads`, `jsontext`: the JSON payloads, their ``schema_version`` and their JSON
  Schema (``bearagent/schemas/events.schema.json``);
- `broker`, `credentials`, `tls`: how either side reaches a broker (host, port, URL,
  username and password file, TLS);
- `errors`: what a user can get wrong there.

The box's publisher and outbox are `bearagent.mqtt`; the station's subscriber is
`bearstation.intake`. Both speak MQTT 5, QoS 1, with persistent sessions.
"""

from bearagent.wire.channels import CHANNELS, STATION_CHANNELS, Channel, StationChannel
from bearagent.wire.errors import BrokerUrlError, CredentialsError, TlsError, TopicError, WireError
from bearagent.wire.topics import Topics, validate_agent_id

__all__ = [
    "CHANNELS",
    "STATION_CHANNELS",
    "BrokerUrlError",
    "Channel",
    "CredentialsError",
    "StationChannel",
    "TlsError",
    "TopicError",
    "Topics",
    "WireError",
    "validate_agent_id",
]
