"""The MQTT publisher's counters, written by its thread and read by any other."""

from __future__ import annotations

import threading

from bearagent.mqtt.base import PublisherCounters


class Tally:
    """Thread-safe counters shared by the connection and the outbox drain."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connected = False
        self._sent = self._published = self._refused = self._waiting = self._connects = 0
        self._expired = 0
        self._last_error: str | None = None

    def connected(self) -> None:
        """The broker accepted a connection."""
        with self._lock:
            self._connected = True
            self._connects += 1

    def disconnected(self) -> bool:
        """Mark disconnected; return whether it was connected."""
        with self._lock:
            was, self._connected = self._connected, False
        return was

    @property
    def is_connected(self) -> bool:
        """Whether the broker connection is up."""
        with self._lock:
            return self._connected

    @property
    def published(self) -> int:
        """Events the broker acknowledged."""
        with self._lock:
            return self._published

    @property
    def refused(self) -> int:
        """Publications the broker refused."""
        with self._lock:
            return self._refused

    def add(self, *, sent: int = 0, published: int = 0, refused: int = 0, expired: int = 0) -> None:
        """Count events handed to paho, acknowledged, or refused by the broker, and kept ones
        dropped unconfirmed by the retention limit."""
        with self._lock:
            self._sent += sent
            self._published += published
            self._refused += refused
            self._expired += expired

    def set_waiting(self, rows: int) -> None:
        """How many refused rows wait for their retry."""
        with self._lock:
            self._waiting = rows

    def error(self, text: str) -> None:
        """Remember the latest problem, for `status`."""
        with self._lock:
            self._last_error = text

    def snapshot(self) -> PublisherCounters:
        """The counters now."""
        with self._lock:
            return PublisherCounters(
                kind="mqtt",
                connected=self._connected,
                sent=self._sent,
                published=self._published,
                refused=self._refused,
                refused_waiting=self._waiting,
                connects=self._connects,
                last_error=self._last_error,
                expired=self._expired,
            )
