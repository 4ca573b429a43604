"""What paho's network thread tells the publisher thread, handed over through a queue.

paho calls back on its own thread, where the publisher's SQLite connection may
not be used; the callbacks only turn what happened into one of these values.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

#: MQTT 5's Receive Maximum when the broker states none.
MQTT_MAX_RECEIVE = 65_535


@dataclass(frozen=True)
class Connected:
    """The broker accepted the connection (CONNACK success)."""

    session_present: bool
    receive_maximum: int  # most unacknowledged QoS 1 messages the broker accepts from us


@dataclass(frozen=True)
class Refused:
    """The broker answered CONNECT with a failure reason: not connected."""

    reason: str


@dataclass(frozen=True)
class Lost:
    """The connection ended."""

    reason: str


@dataclass(frozen=True)
class Unreachable:
    """A connection attempt failed before MQTT spoke (refused TCP, DNS, TLS handshake)."""


@dataclass(frozen=True)
class Acked:
    """The broker answered a QoS 1 PUBLISH; `failure` is its reason when it refused it."""

    mid: int
    failure: str | None


@dataclass(frozen=True)
class Received:
    """A message on one of the box's station topics (the station sent it)."""

    topic: str
    payload: bytes


Signal = Connected | Refused | Lost | Unreachable | Acked | Received


class SignalInbox:
    """paho's callbacks, turned into `Signal`s for the publisher thread, which is woken."""

    def __init__(self, wake: threading.Event) -> None:
        self._queue: queue.SimpleQueue[Signal] = queue.SimpleQueue()
        self._wake = wake

    def attach(self, client: mqtt.Client) -> None:
        """Route `client`'s connection and publish callbacks here."""
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message

    def drain(self) -> Iterator[Signal]:
        """The signals received so far, oldest first."""
        while True:
            try:
                yield self._queue.get_nowait()
            except queue.Empty:
                return

    def _put(self, signal: Signal) -> None:
        self._queue.put(signal)
        self._wake.set()

    def _on_connect(self, _c: mqtt.Client, _u: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self._put(Refused(str(rc)))
        else:
            receive_maximum = getattr(props, "ReceiveMaximum", MQTT_MAX_RECEIVE)
            self._put(Connected(bool(flags.session_present), int(receive_maximum)))

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        self._put(Unreachable())

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._put(Lost(str(rc)))

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        self._put(Acked(mid, str(rc) if rc.is_failure else None))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # not a topic of ours: the router drops it
            topic = msg._topic.decode("utf-8", "replace")
        self._put(Received(topic, bytes(msg.payload)))
