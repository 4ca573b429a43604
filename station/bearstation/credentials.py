"""A broker's password and TLS context for the station, through the wire's shared readers
(`bearagent.wire.credentials`, `bearagent.wire.tls`) with the station's default
credential name: with a username and no password file, systemd's
``LoadCredential=mqtt-password:...`` is looked up."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path

from bearagent.wire.credentials import CREDENTIALS_ENV, read_password
from bearagent.wire.errors import CredentialsError
from bearagent.wire.tls import tls_context as wire_tls_context
from bearstation.config import DEFAULT_PASSWORD_CREDENTIAL, BrokerConfig


def broker_password(broker: BrokerConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The password for `broker`, or None when it takes no username."""
    if broker.username is None:
        return None
    env = os.environ if environ is None else environ
    path = broker.password_file or Path(DEFAULT_PASSWORD_CREDENTIAL)
    if not path.is_absolute() and not env.get(CREDENTIALS_ENV) and broker.password_file is None:
        raise CredentialsError(
            f"broker {broker.where} wants user {broker.username!r} but no password file is "
            f"given: pass --password-file FILE (or set password_file), or run under systemd "
            f"with LoadCredential={path}:/path/to/file"
        )
    return read_password(path, env, setting="password_file", owner=f"broker {broker.where}")


def tls_context(broker: BrokerConfig) -> ssl.SSLContext | None:
    """A context that verifies the broker (and presents a client certificate), or None."""
    if not broker.tls.enabled:
        return None
    return wire_tls_context(broker.tls, section="tls", owner=f"broker {broker.where}")
