"""The test subscriber: `bearid_dev.subscriber`, shared with the demo and the benchmarks."""

from bearid_dev.subscriber import ConnectRefused, Message, Subscriber, connect, make_client

__all__ = ["ConnectRefused", "Message", "Subscriber", "connect", "make_client"]
