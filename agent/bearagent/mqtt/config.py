"""The ``[mqtt]`` section of the agent's configuration.

The agent id and site are not here: they belong to the agent as a whole and are
passed in by the caller. Secrets never live in the config itself: the password
is read from `password_file` when the publisher starts (see `credentials`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    """Frozen, and unknown keys are errors that name the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsVersion(StrEnum):
    """The oldest TLS version the agent accepts from the broker."""

    TLS_1_2 = "1.2"
    TLS_1_3 = "1.3"


class TlsConfig(_Section):
    """TLS towards the broker: server verification and an optional client certificate."""

    enabled: bool = Field(default=False, description="Connect to the broker over TLS.")
    ca_file: Path | None = Field(
        default=None,
        description=(
            "PEM file of the certificate authority that signed the broker's certificate. "
            "Unset: the system's trusted authorities."
        ),
    )
    cert_file: Path | None = Field(
        default=None,
        description="PEM client certificate, for brokers that authenticate clients by certificate.",
    )
    key_file: Path | None = Field(
        default=None, description="PEM private key of `cert_file` (required with it)."
    )
    min_version: TlsVersion = Field(
        default=TlsVersion.TLS_1_2, description="Oldest TLS version accepted: '1.2' or '1.3'."
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError(
                "mqtt.tls.cert_file and mqtt.tls.key_file go together: set both for a client "
                "certificate, or neither"
            )
        return self


class MqttConfig(_Section):
    """How the agent reaches its MQTT broker, and how it publishes."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or IP.")
    port: int = Field(
        default=1883, ge=1, le=65535, description="Broker port (usually 1883, or 8883 for TLS)."
    )
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
            "<prefix>correction, <prefix>stats."
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
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings.")
    username: str | None = Field(
        default=None, min_length=1, description="Username for the broker, if it wants one."
    )
    password_file: Path | None = Field(
        default=None,
        description=(
            "File holding the broker password (read at start, trailing newline ignored). A "
            "relative name is looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential=)."
        ),
    )
    allow_plaintext_credentials: bool = Field(
        default=False,
        description=(
            "Allow sending the username and password without TLS. Only for a trusted "
            "network: anyone on the path can read them."
        ),
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

    @model_validator(mode="after")
    def _check(self) -> MqttConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(
                f"mqtt.reconnect_min_s ({self.reconnect_min_s}) is larger than "
                f"mqtt.reconnect_max_s ({self.reconnect_max_s}): swap them"
            )
        if self.password_file is not None and self.username is None:
            raise ValueError("mqtt.password_file is set but mqtt.username is not: set both")
        plain = not self.tls.enabled and not self.allow_plaintext_credentials
        if self.username is not None and plain:
            raise ValueError(plaintext_refused(self.host, self.port))
        return self


def plaintext_refused(host: str, port: int) -> str:
    """The message that refuses credentials over plain TCP (also checked by tests)."""
    return (
        f"refusing to send the MQTT username and password to {host}:{port} over plain TCP, "
        "where anyone on the network can read them: set mqtt.tls.enabled = true, or "
        "mqtt.allow_plaintext_credentials = true if this network is trusted"
    )
