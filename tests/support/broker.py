"""The test broker: `bearid_dev.mosquitto`, shared with the demo and the benchmarks."""

from bearid_dev.mosquitto import (
    HOST,
    BrokerError,
    Credentials,
    Mosquitto,
    TlsFiles,
    find_mosquitto,
    free_port,
    require_mosquitto,
    running_broker,
)

__all__ = [
    "HOST",
    "BrokerError",
    "Credentials",
    "Mosquitto",
    "TlsFiles",
    "find_mosquitto",
    "free_port",
    "require_mosquitto",
    "running_broker",
]
