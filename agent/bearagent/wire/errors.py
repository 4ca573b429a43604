"""Errors a user can cause on the wire: bad topics, broker URLs, credentials, TLS files."""

from bearagent.errors import BearIdError


class WireError(BearIdError):
    """Base class for every broker configuration or connection problem (box or station)."""


class TopicError(WireError):
    """An agent id or topic prefix would make an invalid or unsafe MQTT topic."""


class BrokerUrlError(WireError):
    """A broker URL that cannot be used (scheme, host, port, a password in it)."""


class CredentialsError(WireError):
    """The broker password file is missing, unreadable or empty."""


class TlsError(WireError):
    """The TLS files (CA, client certificate, key) cannot be loaded."""
