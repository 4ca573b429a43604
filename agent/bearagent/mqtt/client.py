"""Building a paho-mqtt client from the ``[mqtt]`` section.

The agent speaks MQTT 5, not 3.1.1: its CONNACK carries a reason code ("Bad
user name or password", "Not authorized") that the log can show as it is, PUBACKs
carry one too (so a broker that refuses an event, e.g. 0x87 Not authorized from
Mosquitto's ACL, is told apart from one that took it: the event stays in the
outbox and is retried, see `drain`; with 3.1.1 Mosquitto acknowledges a denied
PUBLISH as if delivered and drops it), and the session's lifetime is a property
we set (`session_expiry_s`) instead of "forever or never". Mosquitto has spoken
MQTT 5 since 1.6.
"""

from __future__ import annotations

import logging
import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bearagent.mqtt.config import MqttConfig
from bearagent.wire.payloads import STATUS_OFFLINE
from bearagent.wire.topics import Topics


class _AfterDisconnectNoise(logging.Filter):
    """Drop the ERROR paho 2.2 logs on every clean disconnect (loop_forever's last pass)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not (
            text.startswith("Client is not connected.") and text.endswith("MQTT_CS_DISCONNECTED")
        )


_NOISE_FILTER = _AfterDisconnectNoise()


def client_id_for(config: MqttConfig, agent_id: str) -> str:
    """The MQTT client id: configured, or ``bearagent-<agent_id>`` (stable across restarts)."""
    return config.client_id or f"bearagent-{agent_id}"


def build_client(
    config: MqttConfig,
    topics: Topics,
    *,
    client_id: str,
    password: str | None,
    tls: ssl.SSLContext | None,
    logger: logging.Logger,
) -> mqtt.Client:
    """A paho client with last will, credentials, TLS, backoff and in-flight window set.

    The client is not connected; `connect_properties` goes with ``connect_async``.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if _NOISE_FILTER not in logger.filters:
        logger.addFilter(_NOISE_FILTER)
    client.enable_logger(logger)
    client.will_set(topics.status, STATUS_OFFLINE, qos=1, retain=True)
    if config.username is not None:
        client.username_pw_set(config.username, password)
    if tls is not None:
        client.tls_set_context(tls)
    # paho annotates these as int but only does arithmetic with them; sub-second is fine.
    client.reconnect_delay_set(
        min_delay=config.reconnect_min_s,  # type: ignore[arg-type]
        max_delay=config.reconnect_max_s,  # type: ignore[arg-type]
    )
    client.max_inflight_messages_set(config.inflight)
    return client


def connect_properties(config: MqttConfig) -> Properties:
    """CONNECT properties: the session outlives the connection for `session_expiry_s`."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = config.session_expiry_s
    return props


def unreachable_message(config: MqttConfig) -> str:
    """What to log when a connection attempt fails before MQTT speaks.

    paho does not say why (refused, unreachable, TLS handshake), so name the likely causes.
    """
    where = f"{config.host}:{config.port}"
    if config.tls.enabled:
        return (
            f"cannot connect to MQTT broker {where} over TLS (broker down, or the TLS "
            "handshake failed: check mqtt.tls.ca_file and that the broker's certificate "
            f"names {config.host}); retrying with backoff"
        )
    return (
        f"cannot reach MQTT broker {where} (is it running, and are mqtt.host and "
        "mqtt.port right?); retrying with backoff"
    )
