"""The one MQTT subscriber of tests, benchmarks and the demo.

paho's callbacks only hand each message over (into a queue, stamped with its
arrival time, and to an optional listener); tests assert on their own thread,
benchmarks read the arrival times, the demo's listener prints as messages come.
"""

from __future__ import annotations

import json
import queue
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bearid_dev.mosquitto import Credentials, Mosquitto


@dataclass(frozen=True)
class Message:
    """One received message."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    at: float = 0.0  # time.monotonic() when it arrived

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)

    @property
    def channel(self) -> str:
        """The topic's last level: ``status``, ``sighting``, ``unknown``, ``correction``, ..."""
        return self.topic.rsplit("/", 1)[-1]


class ConnectRefused(RuntimeError):
    """The broker answered CONNECT with a failure reason code."""


def make_client(
    broker: Mosquitto,
    *,
    client_id: str | None = None,
    credentials: Credentials | None = None,
    use_tls: bool | None = None,
) -> mqtt.Client:
    """A paho v2 client set up for `broker` (TLS and credentials as the broker needs)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    if use_tls if use_tls is not None else broker.tls is not None:
        assert broker.tls is not None
        client.tls_set(ca_certs=str(broker.tls.ca_cert), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    creds = credentials or broker.credentials
    if creds is not None:
        client.username_pw_set(creds.username, creds.password)
    return client


def connect(
    client: mqtt.Client, broker: Mosquitto, *, clean_start: bool = True, timeout: float = 10.0
) -> None:
    """Connect and wait for CONNACK on the test thread; raise `ConnectRefused` on failure.

    With ``clean_start=False`` the session outlives the connection (an hour), so the
    broker queues QoS 1 messages for it while it is away.
    """
    done = threading.Event()
    result: dict[str, ReasonCode] = {}

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        result["rc"] = rc
        done.set()

    client.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0 if clean_start else 3600
    client.connect(
        broker.host, broker.port, keepalive=30, clean_start=clean_start, properties=props
    )
    client.loop_start()
    if not done.wait(timeout):
        client.loop_stop()
        raise ConnectRefused(f"no CONNACK from {broker.host}:{broker.port} in {timeout}s")
    if result["rc"].is_failure:
        client.loop_stop()
        raise ConnectRefused(str(result["rc"]))


Listener = Callable[[Message], None]


class Subscriber:
    """Subscribes to `topics` and queues every message it receives.

    `listener`, if given, is also called with each message, on paho's thread.
    """

    def __init__(
        self,
        broker: Mosquitto,
        topics: str | list[str] = "#",
        *,
        client_id: str | None = None,
        clean_start: bool = True,
        credentials: Credentials | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.broker = broker
        self.topics = [topics] if isinstance(topics, str) else topics
        self.messages: queue.Queue[Message] = queue.Queue()
        self.clean_start = clean_start
        self.listener = listener
        self.client = make_client(broker, client_id=client_id, credentials=credentials)
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: self._subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        message = Message(
            msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), time.monotonic()
        )
        self.messages.put(message)
        if self.listener is not None:
            self.listener(message)

    def connect(self, timeout: float = 10.0) -> Subscriber:
        """Connect, subscribe at QoS 1, and wait for the SUBACK."""
        connect(self.client, self.broker, clean_start=self.clean_start, timeout=timeout)
        self._subscribed.clear()
        self.client.subscribe([(t, 1) for t in self.topics])
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"no SUBACK for {self.topics} in {timeout}s")
        return self

    def get(self, timeout: float = 10.0) -> Message:
        """The next message; raises `TimeoutError` when none arrives in time."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no message on {self.topics} in {timeout}s") from None

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """The first message for which `match` is true (others are dropped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if match(msg):
                return msg
        raise TimeoutError(f"no matching message on {self.topics} in {timeout}s")

    def drain(self, quiet: float = 0.2) -> list[Message]:
        """Every message until none has arrived for `quiet` seconds."""
        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                return out

    def close(self) -> None:
        """Disconnect and stop paho's network thread."""
        self.client.disconnect()
        self.client.loop_stop()
