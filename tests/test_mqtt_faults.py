"""Store and forward under faults: broker outages, a broker power cut, a killed publisher."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import support.mqtt_helpers as helpers
from bearagent.mqtt import MqttConfig, MqttPublisher
from bearagent.mqtt.retry import RefusedRows
from bearagent.wire.payloads import Percentiles, Stats
from bearagent.wire.topics import Topics
from support.broker import Mosquitto
from support.mqtt_helpers import (
    collect_events,
    fill_outbox,
    first_occurrences,
    outbox_size,
    wait_until,
)
from support.subscriber import Subscriber

AGENT = "den-01"
TOPICS = Topics.build("bearid/{agent_id}/", AGENT)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "agent.db"


@pytest.fixture
def start_publisher(database: Path) -> Iterator[Callable[..., MqttPublisher]]:
    made: list[MqttPublisher] = []

    def start(broker: Mosquitto, **settings: float) -> MqttPublisher:
        settings = {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0, **settings}
        config = MqttConfig(host=broker.host, port=broker.port, **settings)
        publisher = MqttPublisher(config, agent_id=AGENT, database=database, poll_s=0.05)
        made.append(publisher)
        publisher.start()
        return publisher

    yield start
    for publisher in made:
        publisher.stop(timeout=1.0)


def test_broker_stopped_mid_stream_then_restarted_delivers_everything_in_order(
    broker: Mosquitto,
    start_publisher: Callable[..., MqttPublisher],
    subscribe: Callable[..., Subscriber],
    database: Path,
) -> None:
    # A persistent subscriber: the broker keeps its queue across its own restart.
    sub = subscribe(broker, "bearid/#", client_id="consumer", clean_start=False)
    ids = fill_outbox(database, 400)
    publisher = start_publisher(broker, inflight=5)
    wait_until(lambda: publisher.counters().published >= 50, what="50 events acknowledged")
    broker.stop()
    ids += fill_outbox(database, 100)  # the pipeline goes on during the outage
    publisher.notify()
    time.sleep(0.5)
    assert outbox_size(database) >= 100
    assert not publisher.counters().connected
    broker.start()
    received = collect_events(sub, ids, timeout=60)
    assert first_occurrences(received) == ids  # at least once, and in order
    wait_until(lambda: outbox_size(database) == 0, what="outbox drained")
    assert publisher.counters().connects == 2


def test_broker_power_cut_mid_stream_loses_nothing_it_had_not_acknowledged(
    broker: Mosquitto,
    start_publisher: Callable[..., MqttPublisher],
    subscribe: Callable[..., Subscriber],
    database: Path,
) -> None:
    """A SIGKILLed Mosquitto forgets what it held in memory, including messages it had
    already acknowledged (it saves to disk on a clean stop or every autosave_interval).
    Everything it had not acknowledged is still in our outbox, and must arrive."""
    before = subscribe(broker, "bearid/+/sighting")
    ids = fill_outbox(database, 400)
    # Reconnect tries at about 2 s and 6 s after the cut; the broker is back at 2.5 s, so
    # the subscriber below has about 3.5 s to subscribe before the publisher returns
    # (messages published before a subscription exists are never delivered to it).
    publisher = start_publisher(broker, inflight=5, reconnect_min_s=2.0, reconnect_max_s=8.0)
    wait_until(lambda: publisher.counters().published >= 50, what="50 events acknowledged")
    broker.kill()
    cut = time.monotonic()
    # PUBACKs read from the socket before the reset are handled before the loss (one
    # queue, in order): once the publisher has seen the loss, no acknowledgement is late.
    wait_until(lambda: not publisher.counters().connected, what="the publisher saw the cut")
    wait_until(
        lambda: outbox_size(database) == len(ids) - publisher.counters().published,
        what="acknowledged rows deleted",
    )
    unacknowledged = helpers.outbox_event_ids(database)
    later = fill_outbox(database, 50)  # the pipeline goes on during the outage
    publisher.notify()
    # A subscriber that shares the CPU with the suite may lag: let it catch up.
    seen = {helpers.event_id(m.payload) for m in before.drain(1.0)}
    before.close()
    time.sleep(max(0.0, 2.5 - (time.monotonic() - cut)))
    broker.start()
    after = subscribe(broker, "bearid/+/sighting")  # the killed broker forgot every session
    assert not publisher.counters().connected, "test timing: publisher back before subscriber"
    must = [i for i in unacknowledged + later if i not in seen]
    seen.update(collect_events(after, must, timeout=60))
    lost = set(ids) - seen
    # What the killed broker had acknowledged but not yet handed to the subscriber: at
    # most our in-flight window plus Mosquitto's own QoS 1 window towards that subscriber
    # (max_inflight_messages, 20), when the subscriber lags on a loaded machine.
    assert len(lost) <= 5 + 20
    assert 0 < len(unacknowledged) < len(ids)
    wait_until(lambda: outbox_size(database) == 0, what="outbox drained")


def test_killed_publisher_leaves_its_will_and_a_new_one_drains_its_outbox(
    broker: Mosquitto,
    start_publisher: Callable[..., MqttPublisher],
    subscribe: Callable[..., Subscriber],
    database: Path,
) -> None:
    """SIGKILL is a power cut for the agent: no DISCONNECT, so the broker sends the will.

    Under 1,000 events: Mosquitto drops messages for a subscriber that falls further
    behind than max_queued_messages (1,000), and this test's subscriber shares the CPU.
    """
    ids = fill_outbox(database, 900)
    status = subscribe(broker, TOPICS.status)
    events = subscribe(broker, TOPICS.sighting)
    early: list[str] = []
    script = Path(helpers.__file__)
    args = [sys.executable, str(script), str(database), broker.host, str(broker.port), AGENT, "1"]
    with (database.parent / "publisher.log").open("wb") as log:
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    try:
        assert status.wait_for(lambda m: m.payload == b"online", timeout=30)
        # It is publishing, and deleting what the broker acknowledged.
        early += [helpers.event_id(events.get(timeout=30).payload) for _ in range(100)]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert status.wait_for(lambda m: m.payload == b"offline", timeout=10)
    retained = subscribe(broker, TOPICS.status).get()
    assert (retained.payload, retained.retain) == (b"offline", True)
    left = outbox_size(database)
    assert 0 < left < len(ids)
    start_publisher(broker, inflight=20)
    delivered = set(early)
    received = early + collect_events(events, [i for i in ids if i not in delivered], 60)
    assert set(received) == set(ids)
    assert first_occurrences(received) == ids
    wait_until(lambda: outbox_size(database) == 0, what="outbox drained")
    assert status.wait_for(lambda m: m.payload == b"online", timeout=10)


def test_publisher_started_while_the_broker_is_down_delivers_when_it_comes(
    broker: Mosquitto,
    start_publisher: Callable[..., MqttPublisher],
    subscribe: Callable[..., Subscriber],
    database: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sub = subscribe(broker, "bearid/#", client_id="consumer", clean_start=False)
    sub.close()
    broker.stop()
    ids = fill_outbox(database, 30)
    with caplog.at_level(logging.WARNING, logger="bearagent.mqtt"):
        publisher = start_publisher(broker)
        unreachable = (
            f"cannot reach MQTT broker 127.0.0.1:{broker.port} (is it running, and are "
            "mqtt.host and mqtt.port right?); retrying with backoff"
        )
        wait_until(lambda: unreachable in caplog.messages, what="logged: cannot reach")
    assert outbox_size(database) == 30 and not publisher.counters().connected
    broker.start()
    sub = subscribe(broker, "bearid/#", client_id="consumer", clean_start=False)
    assert collect_events(sub, ids) == ids
    wait_until(lambda: outbox_size(database) == 0, what="outbox drained")


def test_stop_while_the_broker_is_down_returns_promptly_and_keeps_the_rows(
    broker: Mosquitto, start_publisher: Callable[..., MqttPublisher], database: Path
) -> None:
    publisher = start_publisher(broker)
    wait_until(lambda: publisher.counters().connected, what="connected")
    broker.stop()
    fill_outbox(database, 10)
    publisher.notify()
    started = time.monotonic()
    publisher.stop(timeout=5.0)
    assert time.monotonic() - started < 3.0
    assert outbox_size(database) == 10


def test_refused_rows_wait_twice_as_long_each_time_up_to_the_maximum() -> None:
    retry = RefusedRows(first_s=1.0, max_s=5.0)
    waits = [retry.refused(7, now=100.0) for _ in range(5)]
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0] and retry.attempts(7) == 5
    assert retry.due(now=104.9, limit=10) == [] and retry.next_in(104.0) == 1.0
    retry.refused(3, now=100.0)  # waits 1 s: due before row 7
    assert retry.due(now=105.0, limit=1) == [3] and retry.due(now=105.0, limit=5) == [7]
    assert retry.waiting == 0 and retry.next_in(105.0) is None
    retry.postpone([7], now=106.0)
    assert retry.due(now=106.0, limit=5) == [7]
    retry.delivered(7)
    assert retry.attempts(7) == 0 and retry.refused(7, now=0.0) == 1.0  # a fresh start


def test_an_event_the_acl_refuses_is_retried_and_delivered_once_the_acl_allows_it(
    mosquitto_binary: str,
    subscribe: Callable[..., Subscriber],
    database: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """MQTT 5: Mosquitto answers a denied QoS 1 PUBLISH with PUBACK 0x87 (Not authorized).
    The row stays, the rows after it go on, it is offered again with growing waits (shown
    in the counters and in stats), and once the ACL is fixed on the running broker it is
    delivered: no restart of the publisher, no new connection."""
    denied = [
        f"topic readwrite {TOPICS.status}",
        f"topic readwrite {TOPICS.sighting}",
        f"topic readwrite {TOPICS.stats}",
        f"topic read {TOPICS.unknown}",  # the consumer may read it, the agent may not write it
    ]
    broker = Mosquitto(mosquitto_binary, tmp_path / "acl-broker", acl="\n".join(denied) + "\n")
    broker.start()
    config = MqttConfig(
        host=broker.host,
        port=broker.port,
        reconnect_min_s=0.2,
        reconnect_max_s=1.0,
        stats_interval_s=0.3,
    )
    publisher = MqttPublisher(
        config,
        agent_id=AGENT,
        database=database,
        poll_s=0.05,
        stats_source=lambda: Stats(0, 0, 0, Percentiles()),
    )
    try:
        sightings = subscribe(broker, TOPICS.sighting)
        alerts = subscribe(broker, TOPICS.unknown)
        stats = subscribe(broker, TOPICS.stats)
        first = fill_outbox(database, 3)
        refused = fill_outbox(database, 1, channel="unknown")  # outbox row 4
        later = fill_outbox(database, 3)
        with caplog.at_level(logging.WARNING, logger="bearagent.mqtt"):
            publisher.start()
            assert collect_events(sightings, first + later) == first + later
            wait_until(lambda: publisher.counters().refused >= 3, what="refused, retried twice")
        assert helpers.outbox_event_ids(database) == refused
        counters = publisher.counters()
        assert (counters.refused_waiting, counters.published, counters.connects) == (1, 6, 1)
        assert counters.last_error == "broker refused outbox row 4: Not authorized"
        assert any(
            m.startswith(
                f"broker 127.0.0.1:{broker.port} refused outbox row 4 (Not authorized); it stays "
                "in the outbox and is sent again in 0.2 s (refusal 1; waits double up to "
                "mqtt.reconnect_max_s): check the broker's ACL for bearid/den-01/#"
            )
            for m in caplog.messages
        )
        report = stats.wait_for(lambda m: m.json()["refused"] >= 1, timeout=10).json()
        assert report["outbox_size"] == 1 and report["published"] == 6
        assert alerts.drain(0.3) == []
        broker.set_acl("\n".join([*denied[:3], f"topic readwrite {TOPICS.unknown}"]) + "\n")
        fixed = time.monotonic()
        assert collect_events(alerts, refused, timeout=10) == refused
        assert time.monotonic() - fixed < 3.0  # the next retry, at most reconnect_max_s away
        wait_until(lambda: outbox_size(database) == 0, what="the refused row delivered")
        counters = publisher.counters()
        assert (counters.refused_waiting, counters.published, counters.connects) == (0, 7, 1)
    finally:
        publisher.stop(timeout=1.0)
        broker.stop()
