"""The ``[mqtt]`` section of the agent's configuration: the shared broker settings
(`bearagent.wire.broker`) plus how the agent publishes.

The agent id and site are not here: they belong to the agent as a whole and are
passed in by the caller. Secrets never live in the config itself: the password
is read from `password_file` when the publisher starts (`bearagent.wire.credentials`).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from bearagent.wire.broker import BrokerSettings, TlsConfig, TlsVersion

__all__ = ["MqttConfig", "TlsConfig", "TlsVersion", "plaintext_refused"]


class MqttConfig(BrokerSettings):
    """How the agent reaches its MQTT broker, and how it publishes."""

    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description=(
            "MQTT client id; it names the persistent session, so keep it stable. "
            "Unset: 'bearagent-<agent_id>'."
        ),
    )
    topic_prefix: str = Field(
        default="bearid/{agent_id}/",
        description=(
            "Prefix of every topic, ending with '/'; '{agent_id}' is replaced by the agent id. "
            "Topics are <prefix>status, <prefix>sighting, <prefix>unknown, "
            "<prefix>correction, <prefix>stats and the other channels of "
            "bearagent.wire.channels."
        ),
    )
    station_topic_prefix: str = Field(
        default="bearid-station/{agent_id}/",
        description=(
            "Prefix of the topics the station sends this box on (receipts, resend requests, "
            "review decisions, the fleet gallery's feed, model offers), ending with '/'; "
            "'{agent_id}' is replaced by the agent id. Must differ from topic_prefix."
        ),
    )
    keepalive_s: int = Field(
        default=60,
        ge=5,
        le=65535,
        description="Seconds between keep-alive pings; the broker declares the agent gone "
        "(and publishes its last will, 'offline') after 1.5 times this without traffic.",
    )
    session_expiry_s: int = Field(
        default=86_400,
        ge=0,
        le=0xFFFF_FFFF,
        description="How long the broker keeps the agent's session after a disconnect (seconds).",
    )
    reconnect_min_s: float = Field(
        default=1.0,
        gt=0,
        description="First wait before reconnecting after a lost connection, and before "
        "sending again an event the broker refused (e.g. its ACL denies the topic).",
    )
    reconnect_max_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest wait between reconnect attempts, and between tries of a refused "
        "event (the waits double up to it).",
    )
    inflight: int = Field(
        default=20,
        ge=1,
        le=65535,
        description="Most events sent to the broker and not yet acknowledged at any time.",
    )
    stats_interval_s: float = Field(
        default=60.0, ge=0, description="Seconds between 'stats' messages; 0 disables them."
    )
    keep_until_confirmed: bool = Field(
        default=True,
        description="Keep each published message until the station's receipt says it holds "
        "it (a broker that loses power drops what it had not saved, and a bridge's queue "
        "drops what overflows: the station asks for its gaps and the box sends them again). "
        "false: delete at the broker's acknowledgement.",
    )
    keep_unconfirmed_days: float = Field(
        default=30.0,
        gt=0,
        description="Published messages the station has not confirmed are dropped after this "
        "many days (reported in the log, the stats and at the station as a gap that cannot "
        "be repaired). Messages never published are never dropped.",
    )
    keep_unconfirmed_mb: float = Field(
        default=1024.0,
        gt=0,
        description="At most this many MB of published, unconfirmed messages are kept (the "
        "oldest go first, reported as for keep_unconfirmed_days).",
    )

    def plaintext_refused(self) -> str:
        """Why credentials over plain TCP are refused (in the agent's own keys)."""
        return plaintext_refused(self.host, self.port)

    def _key(self, name: str) -> str:
        return f"mqtt.{name}"

    @model_validator(mode="after")
    def _check(self) -> MqttConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(
                f"mqtt.reconnect_min_s ({self.reconnect_min_s}) is larger than "
                f"mqtt.reconnect_max_s ({self.reconnect_max_s}): swap them"
            )
        return self


def plaintext_refused(host: str, port: int) -> str:
    """The message that refuses credentials over plain TCP (also checked by tests)."""
    return (
        f"refusing to send the MQTT username and password to {host}:{port} over plain TCP, "
        "where anyone on the network can read them: set mqtt.tls.enabled = true, or "
        "mqtt.allow_plaintext_credentials = true if this network is trusted"
    )
