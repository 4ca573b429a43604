"""The test broker: `bearid_dev.mosquitto`, shared with the demo."""

from bearid_dev.mosquitto import (
    HOST,
    BrokerError,
    Credentials,
    Mosquitto,
    TlsFiles,
    find_mosquitto,
    free_port,
)

__all__ = [
    "HOST",
    "BrokerError",
    "Credentials",
    "Mosquitto",
    "TlsFiles",
    "find_mosquitto",
    "free_port",
]
