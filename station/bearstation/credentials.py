"""A broker's password (from a file, as systemd's LoadCredential= hands it over) and TLS."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path

from bearstation.config import DEFAULT_PASSWORD_CREDENTIAL, BrokerConfig, TlsConfig, TlsVersion
from bearstation.errors import BrokerSetupError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
_TLS_VERSIONS = {
    TlsVersion.TLS_1_2: ssl.TLSVersion.TLSv1_2,
    TlsVersion.TLS_1_3: ssl.TLSVersion.TLSv1_3,
}


def broker_password(broker: BrokerConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The password for `broker`, or None when it takes no username."""
    if broker.username is None:
        return None
    env = os.environ if environ is None else environ
    path = broker.password_file or Path(DEFAULT_PASSWORD_CREDENTIAL)
    if not path.is_absolute():
        directory = env.get(CREDENTIALS_ENV)
        if not directory:
            raise BrokerSetupError(
                f"broker {broker.where} wants user {broker.username!r} but no password file is "
                f"given: pass --password-file FILE (or set password_file), or run under systemd "
                f"with LoadCredential={path}:/path/to/file"
            )
        path = Path(directory) / path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BrokerSetupError(
            f"password file {path} for broker {broker.where} does not exist: create it "
            "(one line, the password) or fix password_file"
        ) from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as e:
        raise BrokerSetupError(
            f"password file {path} for broker {broker.where} cannot be read ({e}): make it a "
            "UTF-8 file readable by the station's user"
        ) from None
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise BrokerSetupError(f"password file {path} is empty: write the password in it")
    return password


def tls_context(broker: BrokerConfig) -> ssl.SSLContext | None:
    """A context that verifies the broker (and presents a client certificate), or None."""
    tls: TlsConfig = broker.tls
    if not tls.enabled:
        return None
    for key, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file)):
        if path is not None and not path.is_file():
            raise BrokerSetupError(
                f"tls.{key} {path} of broker {broker.where} does not exist: fix the path"
            )
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=None if tls.ca_file is None else str(tls.ca_file)
        )
        context.minimum_version = _TLS_VERSIONS[tls.min_version]
        if tls.cert_file is not None:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (ssl.SSLError, OSError) as e:
        raise BrokerSetupError(
            f"cannot load the TLS files of broker {broker.where} ({e}): check that they are "
            "PEM files and that the key matches the certificate"
        ) from None
    return context
