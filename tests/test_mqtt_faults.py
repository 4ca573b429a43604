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
from bearagent.mqtt import MqttConfig, MqttPublisher, Topics, outbox
from bearagent.store import open_database, transaction
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
    ids = fill_outbox(database, TOPICS, 400)
    publisher = start_publisher(broker, inflight=5)
    wait_until(lambda: publisher.counters().published >= 50, what="50 events acknowledged")
    broker.stop()
    ids += fill_outbox(database, TOPICS, 100)  # the pipeline goes on during the outage
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
    ids = fill_outbox(database, TOPICS, 400)
    # Reconnect tries at about 1 s and 3 s after the cut; the broker is back at 1.5 s.
    publisher = start_publisher(broker, inflight=5, reconnect_min_s=1.0, reconnect_max_s=4.0)
    wait_until(lambda: publisher.counters().published >= 50, what="50 events acknowledged")
    broker.kill()
    cut = time.monotonic()
    wait_until(
        lambda: outbox_size(database) == len(ids) - publisher.counters().published,
        what="acknowledged rows deleted",
    )
    unacknowledged = helpers.outbox_event_ids(database)
    later = fill_outbox(database, TOPICS, 50)  # the pipeline goes on during the outage
    publisher.notify()
    seen = {helpers.event_id(m.payload) for m in before.drain(0.2)}
    before.close()
    time.sleep(max(0.0, 1.5 - (time.monotonic() - cut)))
    broker.start()
    after = subscribe(broker, "bearid/+/sighting")  # the killed broker forgot every session
    assert not publisher.counters().connected, "test timing: publisher back before subscriber"
    must = [i for i in unacknowledged + later if i not in seen]
    seen.update(collect_events(after, must, timeout=60))
    lost = set(ids) - seen
    assert len(lost) <= 5  # at most the in-flight window, acknowledged just before the cut
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
    ids = fill_outbox(database, TOPICS, 900)
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
    ids = fill_outbox(database, TOPICS, 30)
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
    fill_outbox(database, TOPICS, 10)
    publisher.notify()
    started = time.monotonic()
    publisher.stop(timeout=5.0)
    assert time.monotonic() - started < 3.0
    assert outbox_size(database) == 10


def test_an_event_the_broker_refuses_stays_in_the_outbox_and_does_not_block_others(
    mosquitto_binary: str,
    start_publisher: Callable[..., MqttPublisher],
    subscribe: Callable[..., Subscriber],
    database: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = Mosquitto(mosquitto_binary, tmp_path / "acl-broker")
    acl = broker.folder / "acl"
    acl.write_text(f"topic readwrite {TOPICS.status}\ntopic readwrite {TOPICS.sighting}\n")
    with broker.config_path.open("a", encoding="utf-8") as config:
        config.write(f"acl_file {acl}\n")
    broker.start()
    try:
        sub = subscribe(broker, TOPICS.sighting)
        first = fill_outbox(database, TOPICS, 3)
        db = open_database(database)
        with transaction(db):  # the ACL does not let this agent write 'unknown'
            outbox.enqueue(db, TOPICS.unknown, "{}", event_id="refused")
        db.conn.close()
        later = fill_outbox(database, TOPICS, 3)
        with caplog.at_level(logging.ERROR, logger="bearagent.mqtt"):
            publisher = start_publisher(broker)
            assert collect_events(sub, first + later) == first + later
            wait_until(lambda: outbox_size(database) == 1, what="only the refused row left")
        assert publisher.counters().refused_by_broker == 1
        assert any(
            "refused outbox row 4 (Not authorized); it stays in the outbox" in m
            for m in caplog.messages
        )
    finally:
        broker.stop()
