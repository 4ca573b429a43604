"""Errors a user can cause in the MQTT section: bad topics, credentials, TLS files."""

from bearagent.errors import BearIdError


class MqttError(BearIdError):
    """Base class for every MQTT configuration or connection problem."""


class TopicError(MqttError):
    """An agent id or topic prefix would make an invalid or unsafe MQTT topic."""


class CredentialsError(MqttError):
    """The MQTT password file is missing, unreadable or empty."""


class TlsError(MqttError):
    """The TLS files (CA, client certificate, key) cannot be loaded."""
