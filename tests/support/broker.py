"""The test broker: `beartrain.demo.mosquitto`, shared with the demo."""

from beartrain.demo.mosquitto import (
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
