"""Choosing the publisher: the one place that knows both kinds (``agent.publisher``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import sqlite_utils

from bearagent.fleet.inbound import InboundHandler
from bearagent.mqtt.base import Publisher
from bearagent.mqtt.config import MqttConfig
from bearagent.mqtt.publisher import MqttPublisher
from bearagent.mqtt.stdout_publisher import StdoutPublisher
from bearagent.wire.channels import StationChannel
from bearagent.wire.payloads import Stats
from bearagent.wire.topics import Topics


def make_publisher(
    kind: Literal["mqtt", "stdout"],
    config: MqttConfig,
    *,
    agent_id: str,
    database: Path,
    stats_source: Callable[[], Stats] | None = None,
    inbound: Mapping[StationChannel, InboundHandler] | None = None,
    on_connect: Sequence[Callable[[sqlite_utils.Database], object]] = (),
) -> Publisher:
    """The MQTT publisher for `config` (handing what the station sends the box to `inbound`),
    or JSON lines on stdout (with the same topics; no station).

    Raises `TopicError` for an agent id or ``mqtt.topic_prefix`` that makes no valid topic.
    """
    if kind == "stdout":
        topics = Topics.build(config.topic_prefix, agent_id, config.station_topic_prefix)
        return StdoutPublisher(topics, database=database)
    return MqttPublisher(
        config,
        agent_id=agent_id,
        database=database,
        stats_source=stats_source,
        inbound=inbound,
        on_connect=on_connect,
    )
