"""The interface every event transport implements (as Frigate's communicators do).

A publisher drains the outbox in its own thread: the pipeline writes events to
the outbox, then calls `notify` so the publisher need not wait for its poll.
`bearagent.mqtt.factory.make_publisher` picks one by ``agent.publisher``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class PublisherCounters:
    """A snapshot of what a publisher has done since it started (for `status`)."""

    kind: str  # "mqtt" or "stdout"
    connected: bool
    sent: int  # events handed to the transport (a resend after a restart counts again)
    published: int  # events delivered (acknowledged by the broker)
    refused: int  # publications the broker refused (each attempt counts)
    refused_waiting: int  # refused rows still in the outbox, waiting for their next try
    connects: int
    last_error: str | None
    expired: int = 0  # published rows dropped unconfirmed by the retention limit


@runtime_checkable
class Publisher(Protocol):
    """Something that delivers outbox rows somewhere and deletes them once delivered."""

    def start(self) -> None:
        """Check the settings, open what is needed, and start the delivery thread."""

    def notify(self) -> None:
        """Say that new rows are in the outbox (cheap; callable from any thread)."""

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what can be delivered within `timeout` seconds, then shut down."""

    def counters(self) -> PublisherCounters:
        """What has been delivered so far (safe from any thread)."""
