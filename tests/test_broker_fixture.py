"""The broker fixtures work: publish/subscribe, outages on the same port, TLS + password,
an ACL changed on the running broker."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from support.broker import Credentials, Mosquitto
from support.subscriber import ConnectRefused, Message, Subscriber, connect, make_client


def publish(broker: Mosquitto, topic: str, payload: bytes, *, retain: bool = False) -> None:
    """Publish one QoS 1 message and wait for its PUBACK."""
    client = make_client(broker)
    connect(client, broker)
    try:
        info = client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def test_publish_and_subscribe(broker: Mosquitto, subscribe: Callable[..., Subscriber]) -> None:
    sub = subscribe(broker, "bearid/test/#")
    publish(broker, "bearid/test/sighting", b'{"n": 1}')
    msg = sub.get()
    assert msg.topic == "bearid/test/sighting"
    assert msg.json() == {"n": 1}
    assert msg.qos == 1


def test_retained_message_reaches_a_late_subscriber(
    broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    publish(broker, "bearid/test/status", b"online", retain=True)
    msg = subscribe(broker, "bearid/test/status").get()
    assert (msg.payload, msg.retain) == (b"online", True)


def test_stop_refuses_connections_and_restart_uses_the_same_port(broker: Mosquitto) -> None:
    port = broker.port
    broker.stop()
    assert not broker.running
    with pytest.raises(OSError):
        socket.create_connection((broker.host, port), timeout=1).close()
    broker.start()
    assert broker.port == port
    socket.create_connection((broker.host, port), timeout=1).close()


def test_queued_message_survives_a_broker_restart(
    broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    """A persistent session gets a QoS 1 message sent while it was away, across a restart."""
    sub = subscribe(broker, "bearid/test/#", client_id="persistent-sub", clean_start=False)
    sub.close()
    publish(broker, "bearid/test/queued", b"while away")
    broker.restart()
    again = subscribe(broker, "bearid/test/#", client_id="persistent-sub", clean_start=False)
    assert again.get().payload == b"while away"


def test_tls_with_password(tls_broker: Mosquitto, subscribe: Callable[..., Subscriber]) -> None:
    sub = subscribe(tls_broker, "bearid/#")
    publish(tls_broker, "bearid/secure", b"over tls")
    assert sub.get().payload == b"over tls"


def test_tls_broker_refuses_a_wrong_password(tls_broker: Mosquitto) -> None:
    client = make_client(tls_broker, credentials=Credentials("bearagent", "wrong"))
    with pytest.raises(ConnectRefused, match=r"Not authorized|Bad user name or password"):
        connect(client, tls_broker)


def test_tls_broker_refuses_plain_tcp(tls_broker: Mosquitto) -> None:
    client = make_client(tls_broker, use_tls=False)
    with pytest.raises((ConnectRefused, OSError, mqtt.WebsocketConnectionError)):
        connect(client, tls_broker, timeout=3)
    client.loop_stop()


def test_an_acl_changed_on_the_running_broker_applies_without_a_restart(
    mosquitto_binary: str, tmp_path: Path
) -> None:
    """What the refused-event tests rely on: `set_acl` makes Mosquitto reload the ACL
    (SIGHUP) while clients stay connected; the subscriber stamps and hands on messages."""
    broker = Mosquitto(
        mosquitto_binary, tmp_path / "acl", acl="topic read bearid/acl/x\ntopic readwrite ok\n"
    )
    broker.start()
    heard: list[Message] = []
    try:
        sub = Subscriber(broker, "bearid/acl/x", listener=heard.append).connect()
        client = make_client(broker)
        connect(client, broker)
        denied = client.publish("bearid/acl/x", b"denied", qos=1)
        denied.wait_for_publish(timeout=10)
        assert sub.drain(0.3) == []  # acknowledged with 0x87 Not authorized, never delivered
        port = broker.port
        broker.set_acl("topic readwrite bearid/acl/x\n")
        before = time.monotonic()
        client.publish("bearid/acl/x", b"allowed", qos=1).wait_for_publish(timeout=10)
        got = sub.get()
        assert (got.payload, got.channel, broker.port) == (b"allowed", "x", port)
        assert before <= got.at <= time.monotonic()
        assert [m.payload for m in heard] == [b"allowed"]
        client.disconnect()
        client.loop_stop()
        sub.close()
    finally:
        broker.stop()
