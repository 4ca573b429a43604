"""The broker connection: a paho client, what its callbacks report, and the state it is in.

paho's network thread connects, reconnects with backoff and resends messages not
yet acknowledged; its callbacks only queue `Signal`s (`signals`). The publisher
thread hands each signal to `BrokerConnection.handle` (connection state, logs,
the retained ``online``) or, for acknowledgements, to the outbox drain.
"""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as mqtt

from bearagent.mqtt.client import (
    build_client,
    client_id_for,
    connect_properties,
    unreachable_message,
)
from bearagent.mqtt.config import MqttConfig
from bearagent.mqtt.counters import Tally
from bearagent.mqtt.signals import Connected, Lost, Refused, Signal, SignalInbox, Unreachable
from bearagent.wire.credentials import read_password
from bearagent.wire.payloads import STATUS_OFFLINE, STATUS_ONLINE
from bearagent.wire.tls import tls_context
from bearagent.wire.topics import Topics

log = logging.getLogger("bearagent.mqtt")
_SENT = (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)  # NO_CONN: paho queued it for reconnect


class BrokerConnection:
    """One paho client towards the configured broker, used from the publisher thread."""

    def __init__(
        self, config: MqttConfig, topics: Topics, agent_id: str, tally: Tally, wake: threading.Event
    ) -> None:
        """Read the password and TLS files and build the client (errors surface here)."""
        self.config = config
        self.topics = topics
        self.tally = tally
        self.where = f"{config.host}:{config.port}"
        self.window = config.inflight  # lowered to the broker's Receive Maximum on connect
        self.signals = SignalInbox(wake)
        password = None if config.password_file is None else read_password(config.password_file)
        self.client = build_client(
            config,
            topics,
            client_id=client_id_for(config, agent_id),
            password=password,
            tls=tls_context(config.tls) if config.tls.enabled else None,
            logger=logging.getLogger("bearagent.mqtt.paho"),
        )
        self.signals.attach(self.client)

    @property
    def connected(self) -> bool:
        """Whether the broker has accepted the connection and not lost it since."""
        return self.tally.is_connected

    def open(self) -> None:
        """Start connecting (in paho's thread, retrying with backoff)."""
        cfg = self.config
        self.client.connect_async(
            cfg.host,
            cfg.port,
            keepalive=cfg.keepalive_s,
            clean_start=False,
            properties=connect_properties(cfg),
        )
        self.client.loop_start()

    def handle(self, signal: Signal) -> None:
        """Apply a connection signal (not an acknowledgement): state, log, ``online``."""
        if isinstance(signal, Connected):
            self.tally.connected()
            # Exceeding the broker's Receive Maximum is a protocol error it disconnects for.
            self.window = max(1, min(self.config.inflight, signal.receive_maximum))
            log.info(
                "connected to MQTT broker %s (session present: %s)",
                self.where,
                signal.session_present,
            )
            self.client.publish(self.topics.status, STATUS_ONLINE, qos=1, retain=True)
            # What the station sends this box; the persistent session keeps the subscription,
            # but a new session (expired, or a broker that lost it) needs it again.
            self.client.subscribe(self.topics.inbound_filter, qos=1)
        elif isinstance(signal, Refused):
            self.tally.disconnected()
            self.tally.error(f"refused: {signal.reason}")
            log.error(
                "MQTT broker %s refused the connection: %s; check mqtt.username, the password "
                "file and the broker's ACL; retrying with backoff",
                self.where,
                signal.reason,
            )
        elif isinstance(signal, Unreachable):
            log.warning(unreachable_message(self.config))
        elif isinstance(signal, Lost) and self.tally.disconnected():
            self.tally.error(f"connection lost: {signal.reason}")
            log.warning(
                "lost MQTT broker %s (%s); reconnecting with backoff", self.where, signal.reason
            )

    def publish(self, topic: str, payload: str, *, retain: bool = False) -> int | None:
        """Hand a QoS 1 message to paho; its message id, or None if paho would not take it."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in _SENT:
            log.error("paho did not take a message for %s: %s", topic, mqtt.error_string(info.rc))
            return None
        return int(info.mid)

    def say_offline(self, deadline: float) -> None:
        """Publish the retained ``offline`` and wait for its PUBACK until `deadline`."""
        if not self.connected:
            return
        info = self.client.publish(self.topics.status, STATUS_OFFLINE, qos=1, retain=True)
        try:
            info.wait_for_publish(max(1.0, deadline - time.monotonic()))
        except (ValueError, RuntimeError) as e:
            log.warning("could not publish 'offline' before disconnecting: %s", e)

    def close(self) -> None:
        """Disconnect cleanly (no last will) and stop paho's thread."""
        self.client.disconnect()
        self.tally.disconnected()
        self.client.loop_stop()
