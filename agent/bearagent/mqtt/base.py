"""The interface every event transport implements (as Frigate's communicators do).

A publisher drains the outbox in its own thread: the pipeline writes events to
the outbox, then calls `notify` so the publisher need not wait for its poll.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Publisher(Protocol):
    """Something that delivers outbox rows somewhere and deletes them once delivered."""

    def start(self) -> None:
        """Check the settings, open what is needed, and start the delivery thread."""

    def notify(self) -> None:
        """Say that new rows are in the outbox (cheap; callable from any thread)."""

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what can be delivered within `timeout` seconds, then shut down."""
