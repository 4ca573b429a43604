"""The publishers: MQTT against a real Mosquitto (order, status, stop, TLS, passwords,
stats), stdout, and the factory that picks one."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bearagent.mqtt import MqttConfig, MqttPublisher, Publisher, StdoutPublisher, outbox
from bearagent.mqtt.factory import make_publisher as publisher_for
from bearagent.store import open_database, transaction
from bearagent.wire.errors import CredentialsError, TopicError
from bearagent.wire.payloads import Percentiles, Stats, load_schema
from support.broker import Mosquitto
from support.certs import make_tls_files
from support.mqtt_helpers import (
    collect_events,
    fill_outbox,
    first_occurrences,
    outbox_size,
    sample_sighting,
    wait_until,
)
from support.subscriber import Subscriber

Make = Callable[..., MqttPublisher]


@pytest.fixture
def make_publisher(tmp_path: Path) -> Iterator[Make]:
    """Factory for publishers on tmp_path/agent.db with fast reconnects; stopped afterwards."""
    made: list[MqttPublisher] = []

    def make(
        broker: Mosquitto,
        *,
        agent_id: str = "den-01",
        poll_s: float = 0.05,
        stats_source: Callable[[], Stats] | None = None,
        **settings: Any,
    ) -> MqttPublisher:
        settings = {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0, **settings}
        config = MqttConfig(host=broker.host, port=broker.port, **settings)
        publisher = MqttPublisher(
            config,
            agent_id=agent_id,
            database=tmp_path / "agent.db",
            stats_source=stats_source,
            poll_s=poll_s,
        )
        made.append(publisher)
        return publisher

    yield make
    for publisher in made:
        publisher.stop(timeout=1.0)


def test_is_a_publisher(broker: Mosquitto, make_publisher: Make) -> None:
    assert isinstance(make_publisher(broker), Publisher)


def test_bad_agent_id_is_refused_before_anything_starts(broker: Mosquitto, tmp_path: Path) -> None:
    with pytest.raises(TopicError) as caught:
        MqttPublisher(MqttConfig(), agent_id="den/#", database=tmp_path / "a.db")
    assert str(caught.value) == (
        "agent id 'den/#' contains '#', the MQTT multi-level wildcard: "
        "use letters, digits, '-', '_' or '.'"
    )


def test_events_arrive_in_order_and_leave_the_outbox(
    broker: Mosquitto,
    make_publisher: Make,
    subscribe: Callable[..., Subscriber],
    tmp_path: Path,
) -> None:
    publisher = make_publisher(broker, inflight=10)
    sub = subscribe(broker, publisher.topics.sighting)
    ids = fill_outbox(tmp_path / "agent.db", 300)
    publisher.start()
    received = collect_events(sub, ids)
    assert received == ids  # a healthy link: in order, no repeats
    wait_until(lambda: outbox_size(tmp_path / "agent.db") == 0, what="outbox drained")
    counters = publisher.counters()
    assert (counters.connected, counters.published, counters.sent) == (True, 300, 300)
    assert (counters.kind, counters.refused, counters.refused_waiting) == ("mqtt", 0, 0)


def test_status_is_retained_online_then_offline_after_stop(
    broker: Mosquitto, make_publisher: Make, subscribe: Callable[..., Subscriber], tmp_path: Path
) -> None:
    publisher = make_publisher(broker)
    publisher.start()
    wait_until(lambda: publisher.counters().connected, what="connected")
    late = subscribe(broker, publisher.topics.status).get()
    assert (late.payload, late.retain) == (b"online", True)
    # Events enqueued just before stop are flushed by it.
    sub = subscribe(broker, publisher.topics.sighting)
    ids = fill_outbox(tmp_path / "agent.db", 40)
    publisher.notify()
    publisher.stop(timeout=5.0)
    assert outbox_size(tmp_path / "agent.db") == 0
    assert first_occurrences(collect_events(sub, ids, timeout=2)) == ids
    gone = subscribe(broker, publisher.topics.status).get()
    assert (gone.payload, gone.retain) == (b"offline", True)
    assert not publisher.counters().connected


def test_notify_publishes_promptly(
    broker: Mosquitto, make_publisher: Make, subscribe: Callable[..., Subscriber], tmp_path: Path
) -> None:
    publisher = make_publisher(broker, poll_s=30.0)  # only notify() can wake it in time
    publisher.start()
    wait_until(lambda: publisher.counters().connected, what="connected")
    sub = subscribe(broker, publisher.topics.sighting)
    time.sleep(0.2)  # let the thread settle into its long wait
    ids = fill_outbox(tmp_path / "agent.db", 1)
    started = time.monotonic()
    publisher.notify()
    assert collect_events(sub, ids, timeout=5) == ids
    assert time.monotonic() - started < 1.0


def test_stats_messages_validate(
    broker: Mosquitto, make_publisher: Make, subscribe: Callable[..., Subscriber]
) -> None:
    publisher = make_publisher(
        broker,
        stats_interval_s=0.1,
        stats_source=lambda: Stats(5, 1, 2, Percentiles(10.0, 20.0, 30.0)),
    )
    sub = subscribe(broker, publisher.topics.stats)
    publisher.start()
    doc = sub.get(timeout=10).json()
    jsonschema.Draft202012Validator(load_schema()).validate(doc)
    assert (doc["processed"], doc["rejected"], doc["queue_depth"]) == (5, 1, 2)
    assert doc["outbox_size"] == 0 and doc["agent_id"] == "den-01"
    assert (doc["published"], doc["refused"]) == (0, 0)


def test_tls_with_a_password_from_the_credentials_directory(
    tls_broker: Mosquitto,
    make_publisher: Make,
    subscribe: Callable[..., Subscriber],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert tls_broker.tls is not None and tls_broker.credentials is not None
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "mqtt-password").write_text(tls_broker.credentials.password + "\n", "utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    publisher = make_publisher(
        tls_broker,
        username=tls_broker.credentials.username,
        password_file=Path("mqtt-password"),
        tls={"enabled": True, "ca_file": tls_broker.tls.ca_cert},
    )
    sub = subscribe(tls_broker, publisher.topics.sighting)
    ids = fill_outbox(tmp_path / "agent.db", 20)
    publisher.start()
    assert collect_events(sub, ids) == ids


def test_wrong_password_is_logged_with_its_reason_and_retried(
    tls_broker: Mosquitto,
    make_publisher: Make,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert tls_broker.tls is not None and tls_broker.credentials is not None
    (tmp_path / "pw").write_text("wrong", "utf-8")
    publisher = make_publisher(
        tls_broker,
        username=tls_broker.credentials.username,
        password_file=tmp_path / "pw",
        tls={"enabled": True, "ca_file": tls_broker.tls.ca_cert},
    )
    fill_outbox(tmp_path / "agent.db", 3)
    with caplog.at_level(logging.ERROR, logger="bearagent.mqtt"):
        publisher.start()
        refused = f"MQTT broker 127.0.0.1:{tls_broker.port} refused the connection: "

        def refusals() -> int:
            return sum(refused in r.getMessage() for r in caplog.records)

        wait_until(lambda: refusals() >= 2, what="two refused attempts")
    text = next(r.getMessage() for r in caplog.records if refused in r.getMessage())
    assert ("Bad user name or password" in text) or ("Not authorized" in text)
    assert text.endswith(
        "check mqtt.username, the password file and the broker's ACL; retrying with backoff"
    )
    counters = publisher.counters()
    assert (counters.connected, counters.connects, counters.published) == (False, 0, 0)
    assert outbox_size(tmp_path / "agent.db") == 3  # kept for when the password is fixed
    publisher.stop(timeout=1.0)


def test_a_broker_certificate_from_another_authority_is_not_trusted(
    tls_broker: Mosquitto,
    make_publisher: Make,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert tls_broker.credentials is not None
    stranger = make_tls_files(tmp_path / "other-ca")
    (tmp_path / "pw").write_text(tls_broker.credentials.password, "utf-8")
    publisher = make_publisher(
        tls_broker,
        username=tls_broker.credentials.username,
        password_file=tmp_path / "pw",
        tls={"enabled": True, "ca_file": stranger.ca_cert},
    )
    expected = (
        f"cannot connect to MQTT broker 127.0.0.1:{tls_broker.port} over TLS (broker down, or "
        "the TLS handshake failed: check mqtt.tls.ca_file and that the broker's certificate "
        "names 127.0.0.1); retrying with backoff"
    )
    with caplog.at_level(logging.WARNING, logger="bearagent.mqtt"):
        publisher.start()
        wait_until(lambda: caplog.messages.count(expected) >= 2, what="two failed handshakes")
    assert publisher.counters().connects == 0


def test_missing_password_file_fails_at_start(
    tls_broker: Mosquitto, make_publisher: Make, tmp_path: Path
) -> None:
    assert tls_broker.tls is not None
    publisher = make_publisher(
        tls_broker,
        username="bearagent",
        password_file=tmp_path / "nope",
        tls={"enabled": True, "ca_file": tls_broker.tls.ca_cert},
    )
    with pytest.raises(CredentialsError, match="does not exist: create it"):
        publisher.start()


def test_plain_credentials_go_through_when_explicitly_allowed(
    broker: Mosquitto,
    make_publisher: Make,
    subscribe: Callable[..., Subscriber],
    tmp_path: Path,
) -> None:
    (tmp_path / "pw").write_text("anything", "utf-8")
    publisher = make_publisher(
        broker, username="u", password_file=tmp_path / "pw", allow_plaintext_credentials=True
    )
    sub = subscribe(broker, publisher.topics.sighting)
    ids = fill_outbox(tmp_path / "agent.db", 2)
    publisher.start()
    assert collect_events(sub, ids) == ids


def test_hostile_camera_and_file_names_stay_in_the_payload(
    broker: Mosquitto,
    make_publisher: Make,
    subscribe: Callable[..., Subscriber],
    tmp_path: Path,
) -> None:
    """Wildcards, separators and NUL in names cannot change where an event goes."""
    publisher = make_publisher(broker)
    everything = subscribe(broker, "#")
    eid = uuid.uuid4()
    db = open_database(tmp_path / "agent.db")
    outbox.ensure_schema(db)
    text = sample_sighting(eid, site="s/+/#", camera="cam/../#\x00", file="+/#/\x00\udcff.jpg")
    with transaction(db):
        outbox.enqueue(db, "sighting", text)
    db.conn.close()
    publisher.start()
    msg = everything.wait_for(lambda m: m.payload.startswith(b"{"), timeout=10)
    assert msg.topic == "bearid/den-01/sighting"
    doc = msg.json()
    assert (doc["event_id"], doc["site"], doc["camera"]) == (str(eid), "s/+/#", "cam/../#\x00")
    assert doc["file"] == "+/#/\x00\ufffd.jpg"
    topics = {m.topic for m in everything.drain(0.3)}
    assert topics <= {"bearid/den-01/status", "bearid/den-01/sighting"}


def test_the_factory_picks_the_publisher_by_agent_publisher(tmp_path: Path) -> None:
    config = MqttConfig(topic_prefix="wildlife/{agent_id}/")
    mqtt = publisher_for("mqtt", config, agent_id="den-01", database=tmp_path / "a.db")
    stdout = publisher_for("stdout", config, agent_id="den-01", database=tmp_path / "a.db")
    assert isinstance(mqtt, MqttPublisher) and isinstance(stdout, StdoutPublisher)
    assert isinstance(stdout, Publisher)
    assert mqtt.topics == stdout.topics
    with pytest.raises(TopicError, match="contains '/'"):
        publisher_for("stdout", config, agent_id="den/01", database=tmp_path / "a.db")


def test_the_stdout_publisher_prints_every_row_under_the_configured_prefix(
    tmp_path: Path,
) -> None:
    database = tmp_path / "agent.db"
    ids = fill_outbox(database, 3)
    ids += fill_outbox(database, 1, channel="unknown")
    stream = io.StringIO()
    topics = MqttPublisher(
        MqttConfig(topic_prefix="wildlife/{agent_id}/bears/"), agent_id="den-01", database=database
    ).topics
    publisher = StdoutPublisher(topics, database=database, stream=stream, poll_s=0.05)
    publisher.start()
    wait_until(lambda: outbox_size(database) == 0, what="outbox printed")
    publisher.stop()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["payload"]["event_id"] for line in lines] == ids
    assert [line["topic"] for line in lines] == 3 * ["wildlife/den-01/bears/sighting"] + [
        "wildlife/den-01/bears/unknown"
    ]
    counters = publisher.counters()
    assert (counters.kind, counters.published, counters.refused) == ("stdout", 4, 0)
