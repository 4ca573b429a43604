"""How a program reaches a broker: host, port, credentials, TLS — the same for a box and
the station, each adding its own settings (`bearagent.mqtt.config.MqttConfig`,
`bearstation.config.BrokerConfig`).

A broker can also be written as a URL, ``mqtt[s]://[user@]host[:port]``
(`parse_broker_url`); a password never goes in it (it would show in ``ps`` and
logs): it is read from a file when the program connects (`credentials`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator

from bearagent.configbase import Section
from bearagent.wire.errors import BrokerUrlError

#: URL scheme -> (TLS, default port).
SCHEMES = {"mqtt": (False, 1883), "mqtts": (True, 8883)}


class TlsVersion(StrEnum):
    """The oldest TLS version accepted from the broker."""

    TLS_1_2 = "1.2"
    TLS_1_3 = "1.3"


class TlsConfig(Section):
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
                "tls.cert_file and tls.key_file go together: set both for a client "
                "certificate, or neither"
            )
        return self


class BrokerSettings(Section):
    """Where a broker is and how to log in to it (shared by the box and the station)."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or IP.")
    port: int = Field(
        default=1883, ge=1, le=65535, description="Broker port (usually 1883, or 8883 for TLS)."
    )
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
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings.")
    allow_plaintext_credentials: bool = Field(
        default=False,
        description=(
            "Allow sending the username and password without TLS. Only for a trusted "
            "network: anyone on the path can read them."
        ),
    )

    @property
    def where(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"

    def plaintext_refused(self) -> str:
        """Why credentials over plain TCP are refused, and what to set instead."""
        return (
            f"refusing to send the username and password to {self.where} over plain TCP, "
            "where anyone on the network can read them: enable TLS, or allow plaintext "
            "credentials if this network is trusted"
        )

    @model_validator(mode="after")
    def _credentials_safe(self) -> BrokerSettings:
        if self.password_file is not None and self.username is None:
            raise ValueError(f"{self._key('password_file')} is set but "
                             f"{self._key('username')} is not: set both")  # fmt: skip
        plain = not self.tls.enabled and not self.allow_plaintext_credentials
        if self.username is not None and plain:
            raise ValueError(self.plaintext_refused())
        return self

    def _key(self, name: str) -> str:
        """How the settings file names a key of this section (for messages)."""
        return name


def parse_broker_url(url: str) -> dict[str, Any]:
    """The broker keys a URL stands for: ``mqtt[s]://[user@]host[:port]``."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise BrokerUrlError(
            f"broker URL {url!r}: the scheme must be mqtt:// or mqtts:// (TLS), "
            "e.g. mqtts://station@broker.example:8883"
        )
    if parts.password is not None:
        raise BrokerUrlError(
            f"broker URL {_hide_password(url)!r} holds a password: put it in a file "
            "(--password-file, or brokers.password_file) instead, where ps and logs cannot "
            "show it"
        )
    if not parts.hostname:
        raise BrokerUrlError(f"broker URL {url!r} names no host: e.g. mqtt://localhost:1883")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BrokerUrlError(f"broker URL {url!r}: only scheme, user, host and port are read")
    try:
        port = parts.port
    except ValueError:
        raise BrokerUrlError(f"broker URL {url!r}: the port must be a number 1-65535") from None
    tls, default_port = SCHEMES[parts.scheme]
    keys: dict[str, Any] = {"host": parts.hostname, "port": port or default_port}
    if tls:
        keys["tls"] = {"enabled": True}
    if parts.username:
        keys["username"] = unquote(parts.username)
    return keys


def expand_url(data: Any) -> Any:
    """Settings with a ``url`` key expanded into host, port, user and TLS (explicit keys
    win); for a ``mode="before"`` validator."""
    if isinstance(data, dict) and data.get("url"):
        keys = parse_broker_url(str(data["url"]))
        tls = {**keys.get("tls", {}), **(data.get("tls") or {})}
        return {**keys, **data, **({"tls": tls} if tls else {})}
    return data


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@") if parts.password else ""
    return parts._replace(netloc=netloc).geturl() if netloc else url
