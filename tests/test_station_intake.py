"""The station against real brokers and real databases (SQLite and PostgreSQL): two boxes
publish, one station collects; duplicates are stored once, a station restart and a broker
outage lose nothing, malformed payloads land in the quarantine and never stop it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bearagent.decisions import Outcome
from bearagent.wire.payloads import SCHEMA_VERSION
from bearstation.config import StationConfig
from bearstation.database import open_engine
from bearstation.tables import boxes, encounters, events, individuals, sightings, stats
from support.broker import Mosquitto
from support.station_payloads import T0, FakeBox, Message, publish, wait_until
from support.station_postgres import Postgres
from support.station_world import (
    count,
    encounter_rows,
    quarantine_reasons,
    running_station,
    station_config,
    wait_for_events,
)


def fleet_day(north: FakeBox, south: FakeBox) -> list[Message]:
    """Both boxes: a known bear each, and each box's first stranger (its unknown-…-0001)."""
    return [
        *north.encounter("cam01", T0, individual="bear-0001", name="Otis"),
        *north.encounter(
            "cam02", T0 + timedelta(hours=2), individual=None, outcome=Outcome.UNKNOWN
        ),
        *south.encounter("cam01", T0 + timedelta(hours=1), individual="bear-0001", name="Holly"),
        *south.encounter(
            "cam01", T0 + timedelta(hours=5), individual=None, outcome=Outcome.UNKNOWN
        ),
        south.stats(T0 + timedelta(hours=6)),
    ]


def test_two_boxes_one_station_and_every_duplicate_stored_once(
    broker: Mosquitto, station_db: str
) -> None:
    north, south = FakeBox("den-01"), FakeBox("den-02")
    messages = fleet_day(north, south)
    with running_station(station_config(station_db, broker)) as station:
        publish(broker, messages)
        publish(broker, messages)  # at-least-once delivery: every event comes twice
        publish(broker, [("bearid/den-01/status", "online")])
        wait_until(lambda: sum(station.counts.values()) == 2 * len(messages) + 1, what="all")
    engine = open_engine(station_db)
    assert count(engine, events) == len(messages) - 1  # stats carry no event_id
    assert count(engine, stats) == 1
    assert quarantine_reasons(engine) == []
    rows = encounter_rows(engine)
    assert [(r.agent_id, r.state, r.chip_count) for r in rows] == [
        ("den-01", "ended", 3),
        ("den-01", "ended", 3),
        ("den-02", "ended", 3),
        ("den-02", "ended", 3),
    ]
    assert count(engine, sightings) == 12
    with engine.connect() as conn:
        keyed = set(conn.execute(select(individuals.c.agent_id, individuals.c.individual_id)))
        status = conn.execute(select(boxes.c.agent_id, boxes.c.status)).all()
    # bear-0001 on two boxes: two rows, keyed by box; each box's first stranger likewise.
    assert keyed == {
        ("den-01", "bear-0001"),
        ("den-01", "unknown-den-01-0001"),
        ("den-02", "bear-0001"),
        ("den-02", "unknown-den-02-0001"),
    }
    assert sorted(status) == [("den-01", "online"), ("den-02", None)]
    assert station.counts["duplicate"] == len(messages)


def test_a_station_restart_loses_nothing(broker: Mosquitto, station_db: str) -> None:
    box = FakeBox("den-01")
    config = station_config(station_db, broker)
    with running_station(config) as first:
        publish(broker, box.encounter("cam01", T0, individual="bear-0001", name="Otis"))
        wait_until(lambda: first.counts["stored"] == 2, what="the first encounter")
    # Down: the broker keeps the station's session and queues what the box publishes.
    later = box.encounter("cam01", T0 + timedelta(hours=1), individual="bear-0002")
    publish(broker, later)
    with running_station(config) as station:
        engine = wait_for_events(station_db, 4)
        assert station.counts["stored"] == 2
    assert [r.state for r in encounter_rows(engine)] == ["ended", "ended"]


def test_a_broker_outage_loses_nothing(broker: Mosquitto, station_db: str) -> None:
    box = FakeBox("den-01")
    with running_station(station_config(station_db, broker)) as station:
        publish(broker, box.encounter("cam01", T0, individual="bear-0001"))
        wait_until(lambda: station.counts["stored"] == 2, what="the first encounter")
        broker.stop()
        wait_until(lambda: not station.links[0].connected.is_set(), what="the station to notice")
        broker.start()
        # The box's agent reconnects first (it may well): its events wait for the station.
        publish(broker, box.encounter("cam02", T0 + timedelta(hours=1), individual="bear-0002"))
        wait_for_events(station_db, 4)
    assert len(encounter_rows(open_engine(station_db))) == 2


def test_malformed_payloads_land_in_quarantine_and_the_station_goes_on(
    broker: Mosquitto, station_db: str, tmp_path: Path
) -> None:
    box = FakeBox("den-01")
    good = box.encounter("cam01", T0, individual="bear-0001")
    wrong_version = json.loads(good[0][1]) | {"schema_version": 1}
    missing_field = json.loads(good[0][1])
    del missing_field["camera"]
    bad: list[tuple[str, str | bytes]] = [
        ("bearid/den-01/sighting", "{not json"),
        ("bearid/den-01/sighting", json.dumps(wrong_version)),
        ("bearid/den-01/sighting", json.dumps(missing_field)),
        ("bearid/den-01/sighting", b"\xff\xfe"),
        ("bearid/den-02/sighting", good[0][1]),
        ("bearid/den-01/unknown", good[0][1]),
        ("bearid/den-01/gossip", "{}"),
        ("bearid/den-01/status", "maybe"),
    ]
    with running_station(station_config(station_db, broker)) as station:
        publish(broker, bad)
        publish(broker, good)
        wait_until(lambda: station.counts["stored"] == 2, what="the good events")
        wait_until(lambda: station.counts["quarantined"] == len(bad), what="the bad ones")
    reasons = quarantine_reasons(open_engine(station_db))
    assert reasons[0].startswith("payload is not JSON (")
    assert reasons[1] == (
        f"schema_version 1: this station reads schema_version {SCHEMA_VERSION} "
        "(upgrade bearagent on that box: an older agent)"
    )
    assert reasons[2].startswith("payload does not match the schema at (payload): 'camera'")
    assert reasons[3].startswith("payload is not UTF-8 text (")
    assert reasons[4] == "payload of agent 'den-01' on the topic of 'den-02'"
    assert reasons[5] == "a 'sighting' payload on the 'unknown' topic"
    assert reasons[6] == (
        "unexpected topic 'bearid/den-01/gossip': expected bearid/<agent_id>/<channel> with "
        "channel one of status, sighting, unknown, correction, stats, chip, blank, feed, model, "
        "fetch"
    )
    assert reasons[7] == "status payload 'maybe' is neither 'online' nor 'offline'"
    assert len(encounter_rows(open_engine(station_db))) == 1
    assert count(open_engine(station_db), encounters) == 1


def test_tls_and_a_password_from_the_credentials_directory(
    tls_broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_broker.tls is not None and tls_broker.credentials is not None
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt-password").write_text(tls_broker.credentials.password + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    db = f"sqlite:///{tmp_path / 'station.db'}"
    config = StationConfig.model_validate(
        {
            "station": {"id": "tls", "database": db},
            "brokers": [
                {
                    "url": f"mqtts://{tls_broker.credentials.username}@localhost:{tls_broker.port}",
                    "tls": {"ca_file": str(tls_broker.tls.ca_cert)},
                }
            ],
        }
    )
    with running_station(config):
        publish(tls_broker, FakeBox("den-01").encounter("cam01", T0, individual="bear-0001"))
        wait_for_events(db, 2)


def test_two_stations_share_a_subscription_and_one_postgresql(
    broker: Mosquitto, postgres_server: Postgres
) -> None:
    """MQTT 5 shared subscription: the broker deals each message to one of two stations, so
    an encounter's new and end may land on different ones; both write to one database."""
    url = postgres_server.create_database("shared_subscription")
    box = FakeBox("den-01")
    messages = [
        m for n in range(60) for m in box.encounter(f"cam{n % 3}", T0, individual=f"bear-{n:04d}")
    ]

    def config(name: str) -> StationConfig:
        cfg = station_config(url, broker, topics=["$share/stations/bearid/+/#"])
        brokers = [cfg.brokers[0].model_copy(update={"client_id": f"station-{name}"})]
        return cfg.model_copy(update={"brokers": brokers})

    with running_station(config("a")) as a, running_station(config("b")) as b:
        publish(broker, messages)
        publish(broker, messages)  # and every one again
        wait_until(
            lambda: sum(a.counts.values()) + sum(b.counts.values()) == 2 * len(messages),
            timeout=60,
            what="both stations to take every message",
        )
        assert a.counts["stored"] > 0 and b.counts["stored"] > 0, "the broker shared nothing"
    engine = open_engine(url)
    assert count(engine, events) == len(messages)
    rows = encounter_rows(engine)
    assert len(rows) == 60
    assert {(r.state, r.chip_count) for r in rows} == {("ended", 3)}
    assert count(engine, sightings) == 180
