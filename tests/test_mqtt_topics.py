"""Topics are built in one place, from the agent id and prefix only, and refuse injection."""

from __future__ import annotations

import pytest

from bearagent.mqtt import MqttConfig
from bearagent.wire.channels import CHANNELS
from bearagent.wire.errors import TopicError
from bearagent.wire.topics import (
    Topics,
    split_box_topic,
    split_station_topic,
    station_topic,
    validate_agent_id,
)


def test_default_topics() -> None:
    cfg = MqttConfig()
    topics = Topics.build(cfg.topic_prefix, "den-01", cfg.station_topic_prefix)
    assert topics.all() == (
        "bearid/den-01/status",
        "bearid/den-01/sighting",
        "bearid/den-01/unknown",
        "bearid/den-01/correction",
        "bearid/den-01/stats",
        "bearid/den-01/chip",
        "bearid/den-01/blank",
        "bearid/den-01/feed",
        "bearid/den-01/model",
        "bearid/den-01/fetch",
    )
    assert topics.correction == "bearid/den-01/correction"
    assert topics.inbound("gallery") == "bearid-station/den-01/gallery"
    assert topics.inbound_filter == "bearid-station/den-01/#"


def test_each_channel_has_its_topic_and_nothing_else_does() -> None:
    topics = Topics.build("site7/{agent_id}/", "x")
    assert [topics.of(c) for c in CHANNELS] == [f"site7/x/{c}" for c in CHANNELS]
    with pytest.raises(ValueError, match="unknown outbox channel 'status': use one of"):
        topics.of("status")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown station channel 'sighting'"):
        topics.inbound("sighting")  # type: ignore[arg-type]


def test_the_station_reads_box_topics_and_writes_station_topics_in_one_place() -> None:
    assert split_box_topic("bearid/den-01/sighting") == ("den-01", "sighting")
    assert split_box_topic("bearid/den-01/status") == ("den-01", "status")
    assert split_box_topic("bearid/den-01/bogus") is None
    assert split_box_topic("bearid/den-01/sighting/extra") is None
    assert split_box_topic("bearid-station/den-01/receipt") is None
    assert station_topic("den-01", "receipt") == "bearid-station/den-01/receipt"
    with pytest.raises(TopicError, match="contains '#'"):
        station_topic("den#", "receipt")
    topics = Topics.build("bearid/{agent_id}/", "den-01")
    assert split_station_topic(topics.inbound("resend"), topics.station_prefix) == "resend"
    assert split_station_topic("bearid-station/other/resend", topics.station_prefix) is None


def test_the_box_and_station_prefixes_must_differ() -> None:
    with pytest.raises(TopicError, match="need their own prefixes"):
        Topics.build("bearid/{agent_id}/", "x", "bearid/{agent_id}/")


def test_custom_prefix_with_and_without_the_agent_id() -> None:
    assert Topics.build("wildlife/{agent_id}/bears/", "a.b").sighting == (
        "wildlife/a.b/bears/sighting"
    )
    assert Topics.build("site7/", "x").status == "site7/status"


def test_unicode_agent_id_is_fine() -> None:
    assert Topics.build("bearid/{agent_id}/", "karhu-ä").stats == "bearid/karhu-ä/stats"


@pytest.mark.parametrize(
    ("agent_id", "message"),
    [
        ("", "agent id is empty: set agent_id to a name for this box, e.g. 'den-01'"),
        (
            "den+1",
            "agent id 'den+1' contains '+', the MQTT single-level wildcard: "
            "use letters, digits, '-', '_' or '.'",
        ),
        (
            "den#",
            "agent id 'den#' contains '#', the MQTT multi-level wildcard: "
            "use letters, digits, '-', '_' or '.'",
        ),
        (
            "den/01",
            "agent id 'den/01' contains '/', the MQTT topic level separator: "
            "use letters, digits, '-', '_' or '.'",
        ),
        (
            "den\x0001",
            "agent id 'den\\x0001' contains a NUL character, which MQTT forbids in topics: "
            "use letters, digits, '-', '_' or '.'",
        ),
        (
            "den\udcff",
            "agent id 'den\\udcff' is not valid UTF-8 text (it holds undecodable bytes): "
            "use letters, digits, '-', '_' or '.'",
        ),
    ],
)
def test_bad_agent_ids_are_refused_with_their_reason(agent_id: str, message: str) -> None:
    with pytest.raises(TopicError) as caught:
        validate_agent_id(agent_id)
    assert str(caught.value) == message
    with pytest.raises(TopicError):
        Topics.build("bearid/{agent_id}/", agent_id)


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        (
            "bearid/{agent_id}",
            "mqtt.topic_prefix 'bearid/{agent_id}' must end with '/', e.g. 'bearid/{agent_id}/'",
        ),
        (
            "bearid//{agent_id}/",
            "mqtt.topic_prefix 'bearid//{agent_id}/' has an empty topic level "
            "('//' or a leading '/'): remove it",
        ),
        (
            "$SYS/{agent_id}/",
            "mqtt.topic_prefix '$SYS/{agent_id}/' starts with '$', which brokers reserve ($SYS): "
            "remove it",
        ),
        (
            "bearid/+/",
            "mqtt.topic_prefix 'bearid/+/' contains '+', the MQTT single-level wildcard: remove it",
        ),
        (
            "bearid/{site}/",
            "mqtt.topic_prefix 'bearid/{site}/' has a placeholder other than {agent_id}: remove it",
        ),
    ],
)
def test_bad_prefixes_are_refused_with_their_reason(prefix: str, message: str) -> None:
    with pytest.raises(TopicError) as caught:
        Topics.build(prefix, "den-01")
    assert str(caught.value) == message
