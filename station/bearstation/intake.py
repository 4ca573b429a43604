"""One broker link: a paho-mqtt client that hands messages over and acks them later.

QoS 1 and a persistent session (``clean_start=False``, a stable client id, a
session expiry of days): while the station is down, the broker keeps its
subscription and queues what the boxes publish. Acknowledgements are manual
(``manual_ack=True``): a message is acknowledged only after the transaction that
stores it committed, so a crash between receiving and storing makes the broker
deliver it again, and never loses it. ``ReceiveMaximum`` bounds how many
unacknowledged messages the broker sends at once.

A delivery remembers the connection it came on: after a reconnect the broker
redelivers whatever was not acknowledged, so an ack for the old connection is
dropped rather than sent on the new one.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bearstation.config import BrokerConfig, IntakeConfig
from bearstation.credentials import broker_password, tls_context
from bearstation.messages import Incoming

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """A received message and what acknowledging it takes."""

    link: BrokerLink
    mid: int
    qos: int
    generation: int
    message: Incoming


class BrokerLink:
    """A subscription on one broker, delivering into `inbox`."""

    def __init__(
        self,
        broker: BrokerConfig,
        intake: IntakeConfig,
        client_id: str,
        inbox: queue.Queue[Delivery],
    ) -> None:
        self.broker = broker
        self.where = broker.where
        self._intake = intake
        self._inbox = inbox
        self._generation = 0
        self._stopping = False
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        password = broker_password(broker)
        if broker.username is not None:
            self.client.username_pw_set(broker.username, password)
        context = tls_context(broker)
        if context is not None:
            self.client.tls_set_context(context)
        self.client.reconnect_delay_set(
            min_delay=intake.reconnect_min_s,  # type: ignore[arg-type]
            max_delay=intake.reconnect_max_s,  # type: ignore[arg-type]
        )
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        """Connect in the background (reconnecting with backoff for as long as it runs)."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._intake.session_expiry_s
        props.ReceiveMaximum = self._intake.receive_maximum
        self.client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=self._intake.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect (the session and its queue stay on the broker) and stop the loop."""
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    def publish(self, topic: str, payload: str) -> bool:
        """Hand a QoS 1 message to paho (it is sent, or kept for the reconnect); False when
        this link is not connected (the caller sends it again later)."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=1)
        return info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge a stored message, unless its connection is gone (it comes again)."""
        with self._lock:
            if delivery.generation == self._generation and self.connected.is_set():
                self.client.ack(delivery.mid, delivery.qos)

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, rc: ReasonCode, _p: Any
    ) -> None:
        if rc.is_failure:
            log.error("broker %s refused the station: %s%s", self.where, rc, _hint(rc))
            return
        with self._lock:
            self._generation += 1
        self.connected.set()
        client.subscribe([(t, 1) for t in self._intake.topics])
        resumed = "resumed its session" if flags.session_present else "started a new session"
        log.info("connected to broker %s (%s)", self.where, resumed)

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        tls = ""
        if self.broker.tls.enabled:
            tls = " over TLS (check tls.ca_file and the certificate's host name)"
        log.warning("cannot reach broker %s%s; retrying with backoff", self.where, tls)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stopping:
            log.warning("lost broker %s (%s); reconnecting", self.where, rc)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # MQTT wants UTF-8 topics; keep it for the quarantine
            topic = msg._topic.decode("utf-8", "replace")
        incoming = Incoming(
            broker=self.where,
            topic=topic,
            payload=bytes(msg.payload),
            received_at=datetime.now(UTC),
            retain=bool(msg.retain),
        )
        self._inbox.put(Delivery(self, msg.mid, msg.qos, self._generation, incoming))


def _hint(rc: ReasonCode) -> str:
    name = str(rc).lower()
    if "user name or password" in name or "not authorized" in name:
        return ": check the username in the broker URL and the password file"
    return ""
