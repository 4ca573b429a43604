"""The TLS context towards a broker: verify it, and present a client certificate if set."""

from __future__ import annotations

import ssl

from bearagent.wire.broker import TlsConfig, TlsVersion
from bearagent.wire.errors import TlsError

_TLS_VERSIONS = {
    TlsVersion.TLS_1_2: ssl.TLSVersion.TLSv1_2,
    TlsVersion.TLS_1_3: ssl.TLSVersion.TLSv1_3,
}


def tls_context(
    tls: TlsConfig, *, section: str = "mqtt.tls", owner: str = "MQTT"
) -> ssl.SSLContext:
    """A context that verifies the broker (and presents a client certificate if configured).

    `section` is how the configuration names the TLS keys, `owner` whose files they are
    (both for messages).
    """
    files = {"ca_file": tls.ca_file, "cert_file": tls.cert_file, "key_file": tls.key_file}
    for key, path in files.items():
        if path is not None and not path.is_file():
            raise TlsError(f"{section}.{key} {path} does not exist: fix the path or unset it")
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=None if tls.ca_file is None else str(tls.ca_file)
        )
        context.minimum_version = _TLS_VERSIONS[tls.min_version]
        if tls.cert_file is not None:
            context.load_cert_chain(
                str(tls.cert_file), None if tls.key_file is None else str(tls.key_file)
            )
    except (ssl.SSLError, OSError) as e:
        raise TlsError(
            f"cannot load the {owner} TLS files ({e}): check that {section}.ca_file, cert_file "
            "and key_file are PEM files and that the key matches the certificate"
        ) from None
    return context
