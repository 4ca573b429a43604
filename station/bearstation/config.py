"""The station's one typed configuration: database, brokers, intake and export metadata.

Loaded from a TOML file (`--config`), then the dedicated flags, then ``--set
key=value``; unknown keys are errors that name the key. A broker is written as a
URL (``mqtts://station@broker.example:8883``) or key by key, like the agent's
``[mqtt]`` section; secrets never live here: the password is read from
`password_file` when the station connects.
"""

from __future__ import annotations

import socket
from typing import Any, Literal

from pydantic import Field, model_validator

from bearagent.configbase import Section as _Section
from bearagent.wire.broker import BrokerSettings, expand_url
from bearstation.desk.config import DeskConfig
from bearstation.media.config import MediaConfig
from bearstation.rollout.config import RolloutConfig

DEFAULT_DATABASE = "sqlite:///bearstation.db"
#: Where the station finds its broker password under systemd (LoadCredential=).
DEFAULT_PASSWORD_CREDENTIAL = "mqtt-password"


class BrokerConfig(BrokerSettings):
    """One broker the station subscribes to (each with its own persistent session)."""

    url: str | None = Field(
        default=None,
        description="Shorthand for scheme, host, port and user: mqtt://host:1883 or "
        "mqtts://user@host:8883 (never a password: use password_file).",
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="MQTT client id, which names the persistent session: keep it stable. "
        "Unset: 'bear-station-<station.id>'.",
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_url(cls, data: Any) -> Any:
        return expand_url(data)

    def plaintext_refused(self) -> str:
        """Why credentials over plain TCP are refused (in the station's terms)."""
        return (
            f"refusing to send the username and password to {self.where} over plain "
            "TCP: use mqtts:// (TLS), or allow_plaintext_credentials = true if this "
            "network is trusted"
        )


def _default_station_id() -> str:
    host = socket.gethostname().split(".")[0] or "station"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in host)[:64]


class StationSection(_Section):
    """The station as a whole."""

    id: str = Field(
        default_factory=_default_station_id,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Name of this station; default client ids are 'bear-station-<id>'. "
        "Default: the host name.",
    )
    database: str = Field(
        default=DEFAULT_DATABASE,
        min_length=1,
        description="SQLAlchemy URL: sqlite:///file.db (relative to the current folder) or "
        "postgresql+psycopg://user@host/dbname (password in ~/.pgpass or $PGPASSFILE).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Logging level."
    )


class IntakeConfig(_Section):
    """How the station subscribes and writes."""

    topics: list[str] = Field(
        default_factory=lambda: ["bearid/+/#"],
        min_length=1,
        description="Topic filters subscribed with QoS 1 on every broker.",
    )
    topic_prefix: str = Field(
        default="bearid/",
        description="What precedes '<agent_id>/<channel>' in a topic; other topics are "
        "quarantined as unexpected.",
    )
    session_expiry_s: int = Field(
        default=7 * 86_400,
        ge=0,
        le=0xFFFF_FFFF,
        description="How long a broker keeps the station's session (and queues its events) "
        "while the station is away.",
    )
    keepalive_s: int = Field(default=60, ge=5, le=65535, description="MQTT keep-alive.")
    reconnect_min_s: float = Field(default=1.0, gt=0, description="First reconnect wait.")
    reconnect_max_s: float = Field(default=60.0, gt=0, description="Longest reconnect wait.")
    receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="Most unacknowledged events a broker may send at once (they are acked "
        "only after the database commit).",
    )
    batch_max: int = Field(
        default=500, ge=1, description="Most events written in one database transaction."
    )
    retry_s: float = Field(
        default=5.0, gt=0, description="Wait before retrying a database write that failed."
    )

    @model_validator(mode="after")
    def _check(self) -> IntakeConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("intake.reconnect_min_s is larger than intake.reconnect_max_s")
        if self.topic_prefix and not self.topic_prefix.endswith("/"):
            raise ValueError(f"intake.topic_prefix {self.topic_prefix!r} must end with '/'")
        return self


class FleetConfig(_Section):
    """What the station sends the boxes: receipts, resend requests, and the rest of the fleet
    round (the gallery feed, desk decisions, model offers)."""

    round_s: float = Field(
        default=2.0, gt=0, description="Seconds between rounds of what is due to boxes."
    )
    station_topic_prefix: str = Field(
        default="bearid-station/",
        description="What precedes '<agent_id>/<channel>' in the topics the station sends "
        "boxes on (each box reads its own; keep it equal to the boxes' "
        "mqtt.station_topic_prefix without '{agent_id}/').",
    )
    receipt_every_s: float = Field(
        default=60.0,
        gt=0,
        description="A receipt goes to a box when what the station holds of it grew, and "
        "again at least this often (a lost receipt only delays the box's clean-up).",
    )
    resend_quiet_s: float = Field(
        default=3.0,
        ge=0,
        description="A gap in a box's messages is asked for once nothing arrived from the box "
        "for this long (the missing ones may be on their way).",
    )
    resend_every_s: float = Field(
        default=15.0,
        gt=0,
        description="A box is asked again for a gap at most this often while it lasts.",
    )

    @model_validator(mode="after")
    def _prefix(self) -> FleetConfig:
        if not self.station_topic_prefix.endswith("/"):
            raise ValueError(
                f"fleet.station_topic_prefix {self.station_topic_prefix!r} must end with '/'"
            )
        return self


class Contributor(_Section):
    """A person or organisation credited in the Camtrap DP package."""

    title: str = Field(min_length=1, description="Name of the person or organisation.")
    email: str | None = Field(default=None, description="E-mail address.")
    role: Literal[
        "contact", "principalInvestigator", "rightsHolder", "publisher", "contributor"
    ] = Field(default="contributor", description="Camtrap DP role.")
    organization: str | None = Field(default=None, description="Organisation of a person.")


class ExportConfig(_Section):
    """Metadata of the Camtrap DP package (the data itself comes from the database)."""

    project_title: str = Field(default="bearid camera-trap survey", min_length=1)
    project_description: str | None = Field(default=None, description="Markdown, optional.")
    sampling_design: Literal[
        "simpleRandom",
        "systematicRandom",
        "clusteredRandom",
        "experimental",
        "targeted",
        "opportunistic",
    ] = Field(default="targeted", description="Camtrap DP project.samplingDesign.")
    contributors: list[Contributor] = Field(
        default_factory=lambda: [Contributor(title="bearid base station", role="publisher")],
        min_length=1,
        description="Camtrap DP contributors (at least one).",
    )
    scientific_name: str = Field(default="Ursus arctos", description="Taxon observed.")
    data_license: str | None = Field(
        default=None, description="Licence of the data, e.g. 'CC-BY-4.0' (with media_license)."
    )
    media_license: str | None = Field(default=None, description="Licence of the media files.")

    @model_validator(mode="after")
    def _licenses_together(self) -> ExportConfig:
        if (self.data_license is None) != (self.media_license is None):
            raise ValueError(
                "export.data_license and export.media_license go together (Camtrap DP wants "
                "both scopes when any licence is given)"
            )
        return self


class StationConfig(_Section):
    """Everything `bear-station` reads from its configuration file."""

    station: StationSection = Field(default_factory=StationSection)
    brokers: list[BrokerConfig] = Field(
        default_factory=list, description="Brokers to subscribe to ([[brokers]] tables)."
    )
    intake: IntakeConfig = Field(default_factory=IntakeConfig)
    fleet: FleetConfig = Field(
        default_factory=FleetConfig, description="What the station sends the boxes."
    )
    export: ExportConfig = Field(default_factory=ExportConfig)
    media: MediaConfig = Field(default_factory=MediaConfig, description="The media store.")
    desk: DeskConfig = Field(default_factory=DeskConfig, description="The review desk.")
    rollout: RolloutConfig = Field(default_factory=RolloutConfig, description="Model rollout.")

    @model_validator(mode="after")
    def _distinct_client_ids(self) -> StationConfig:
        seen: set[tuple[str, str]] = set()
        for broker in self.brokers:
            key = (broker.where, client_id_for(self, broker))
            if key in seen:
                raise ValueError(f"broker {broker.where} is listed twice with the same client id")
            seen.add(key)
        return self


def client_id_for(config: StationConfig, broker: BrokerConfig) -> str:
    """The broker's client id: configured, or ``bear-station-<station.id>`` (stable)."""
    return broker.client_id or f"bear-station-{config.station.id}"
