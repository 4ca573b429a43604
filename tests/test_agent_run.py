"""The whole agent, end to end: real files in a watched folder, a real model, a real
gallery, a real broker. Known bears become sightings, a new bear one unknown alert,
damaged files rejections; restarts process the backlog exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.gallery.errors import GalleryModelMismatch
from bearagent.pipeline.statusfile import status_path
from bearagent.runtime import RuntimeConfig
from bearagent.store import open_database
from bearagent.wire.payloads import load_schema
from beartrain.synthetic import encode_jpeg
from support.agent_world import World, drop, make_world
from support.broker import Mosquitto
from support.pixel_model import write_pixel_embedder
from support.subscriber import Message, Subscriber


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def config(world: World, broker: Mosquitto) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "agent": {"id": "box1", "database": str(world.database), "timezone": "UTC"},
            "watch": {"roots": [str(world.traps)], "stable_after_s": 0.3},
            "runtime": {"model": str(world.model)},
            "encounter": {"gap_s": 60, "end_after_s": 1.0},
            "mqtt": {"host": broker.host, "port": broker.port, "stats_interval_s": 3600},
        }
    )


@pytest.fixture
def agent(world: World, broker: Mosquitto) -> Iterator[Agent]:
    a = Agent(config(world, broker))
    a.start()
    yield a
    a.stop()


#: Sighting types that state an encounter's final state.
FINAL = ("end", "amended")


def events(
    sub: Subscriber, until: Callable[[list[Message]], bool], timeout: float = 20.0
) -> list[Message]:
    got: list[Message] = []
    while not until(got):
        got.append(sub.get(timeout))
    return got


def of(messages: list[Message], topic: str) -> list[dict[str, Any]]:
    return [m.json() for m in messages if m.topic == topic]


def test_known_bear_unknown_bear_and_a_damaged_file(
    world: World, broker: Mosquitto, agent: Agent, subscribe: Callable[..., Subscriber]
) -> None:
    sub = subscribe(broker, "bearid/box1/+")
    validator = Draft202012Validator(load_schema())
    who, chips = next(iter(world.unseen.items()))
    drop(world, "cam01", chips)
    # The encounter's final word: its `end`, or an `amended` after it when a loaded machine
    # ended it before its last chip got through (the late chip joins it: docs/design.md).
    got = events(sub, lambda ms: any(
        m.get("type") in FINAL and m.get("chip_count") == len(chips)
        for m in of(ms, "bearid/box1/sighting")
    ))  # fmt: skip
    sightings = of(got, "bearid/box1/sighting")
    assert sightings[0]["type"] == "new" and sightings[-1]["type"] in FINAL
    assert "end" in {s["type"] for s in sightings}
    assert {s["decision"]["name"] for s in sightings} == {who}
    assert sightings[-1]["chip_count"] == len(chips)
    assert len({s["encounter_id"] for s in sightings}) == 1
    for s in sightings:
        validator.validate(s)

    drop(world, "cam02", world.stranger[0])
    got = events(
        sub, lambda ms: any(m.get("type") == "end" for m in of(ms, "bearid/box1/sighting"))
    )
    (alert,) = of(got, "bearid/box1/unknown")
    assert alert["provisional_id"] == "unknown-box1-0001"
    validator.validate(alert)

    (world.traps / "north" / "cam02" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    # The stranger's second visit: a sighting of its provisional id, no second alert.
    later = [(r, c) for r, c in world.stranger[1]]
    drop(world, "cam02", later)
    got = events(
        sub, lambda ms: any(m.get("type") == "end" for m in of(ms, "bearid/box1/sighting"))
    )
    assert of(got, "bearid/box1/unknown") == []
    decided = {s["decision"]["individual_id"] for s in of(got, "bearid/box1/sighting")}
    assert decided == {"unknown-box1-0001"}

    db = open_database(world.database)
    expected = len(chips) + len(world.stranger[0]) + len(world.stranger[1])

    def statuses() -> dict[str, int]:
        return dict(db.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall())

    # A damaged file fresh from the camera may still be being written: it is retried
    # for a few seconds, then rejected with its reason.
    deadline = time.monotonic() + 20
    while "rejected" not in statuses() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert statuses() == {"processed": expected, "rejected": 1}
    (reason,) = db.execute("SELECT reason FROM files WHERE status = 'rejected'").fetchone()
    assert reason.startswith("not_an_image: north/cam02/broken.jpg")
    assert db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] == expected


def test_backlog_after_a_restart_is_processed_exactly_once(
    world: World, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    who, chips = next(iter(world.unseen.items()))
    drop(world, "cam01", chips[:2])  # arrived while the agent was stopped
    os.utime(world.traps / "north" / "cam01", None)
    sub = subscribe(broker, "bearid/box1/sighting")
    for round_ in range(2):
        a = Agent(config(world, broker))
        a.start()
        if round_ == 1:
            drop(world, "cam01", chips[2:])
        got = events(sub, lambda ms: any(m.json()["type"] == "end" for m in ms))
        a.stop()
        assert got[0].json()["decision"]["name"] == who
    db = open_database(world.database)
    assert db.execute("SELECT COUNT(*) FROM files WHERE status = 'processed'").fetchone()[0] == len(
        chips
    )
    assert db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] == len(chips)
    assert db.execute("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").fetchone()[0] == 0


def test_the_agent_refuses_a_gallery_made_with_another_model(
    world: World, broker: Mosquitto, tmp_path: Path
) -> None:
    other = write_pixel_embedder(
        tmp_path / "other.onnx", threshold=0.5
    )  # another card: another sha
    cfg = config(world, broker).model_copy(update={"runtime": RuntimeConfig(model=other)})
    with pytest.raises(GalleryModelMismatch, match="reembed"):
        Agent(cfg).start()


def write_config(world: World, broker: Mosquitto, path: Path) -> Path:
    path.write_text(
        f"""
[agent]
id = "box1"
database = "{world.database}"
timezone = "UTC"
[watch]
roots = ["{world.traps}"]
stable_after_s = 0.3
[runtime]
model = "{world.model}"
[pipeline]
batch_size = 2
[encounter]
end_after_s = 1.0
[mqtt]
host = "{broker.host}"
port = {broker.port}
"""
    )
    return path


def test_sigkill_mid_backlog_loses_nothing_and_duplicates_nothing(
    world: World, broker: Mosquitto, subscribe: Callable[..., Subscriber], tmp_path: Path
) -> None:
    backlog = [c for chips in world.unseen.values() for c in chips] + world.stranger[0]
    for i, (record, chip) in enumerate(backlog):
        drop(world, f"cam{i % 3:02d}", [(record, chip)])
    sub = subscribe(broker, "bearid/box1/+", client_id="kill-test", clean_start=False)
    config_file = write_config(world, broker, tmp_path / "config.toml")
    command = [str(Path(sys.executable).parent / "bearagent"), "run", "--config", str(config_file)]
    db = open_database(world.database)

    def processed() -> int:
        tables = db.table_names()
        return db.execute("SELECT COUNT(*) FROM files").fetchone()[0] if "files" in tables else 0

    for _ in range(2):  # killed twice while working through the backlog
        agent = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        start = processed()
        deadline = time.monotonic() + 60
        while processed() == start and time.monotonic() < deadline:
            time.sleep(0.05)
        agent.send_signal(signal.SIGKILL)
        agent.wait()
    status_file = status_path(world.database)
    status_file.unlink(missing_ok=True)
    agent = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        # Until it is up (its first status: a SIGTERM during start-up is only a kill) and
        # through the backlog (the first two runs may have done it all).
        while (processed() < len(backlog) or not status_file.exists()) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        time.sleep(2.5)  # let the last encounters end and the outbox drain
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0
    assert db.execute("SELECT COUNT(*) FROM files WHERE status = 'processed'").fetchone()[0] == len(
        backlog
    )
    assert db.execute("SELECT COUNT(DISTINCT file) FROM sightings").fetchone()[0] == len(backlog)
    assert db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] == len(backlog)
    assert db.execute("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM encounters WHERE ended = 0").fetchone()[0] == 0
    encounter_topics = ("bearid/box1/sighting", "bearid/box1/unknown")
    messages = [m for m in sub.drain(1.0) if m.topic in encounter_topics]
    by_id: dict[str, bytes] = {}
    for m in messages:
        event_id = m.json()["event_id"]
        assert by_id.setdefault(event_id, m.payload) == m.payload  # a duplicate is the same event
    ended = {m.json()["encounter_id"] for m in messages if m.json().get("type") == "end"}
    encounters = {row[0] for row in db.execute("SELECT id FROM encounters").fetchall()}
    assert encounters and ended == encounters  # every encounter's end arrived


def test_without_a_broker_events_are_json_lines_on_stdout(world: World, tmp_path: Path) -> None:
    who, chips = next(iter(world.unseen.items()))
    drop(world, "cam01", chips)
    agent = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "bearagent"),
            "run",
            "--no-mqtt",
            "--watch",
            str(world.traps),
            "--model",
            str(world.model),
            "--db",
            str(world.database),
            "--set",
            "encounter.end_after_s=0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert agent.stdout is not None
    lines = []
    try:
        for line in agent.stdout:
            lines.append(json.loads(line))
            if lines[-1]["payload"].get("type") == "end":
                break
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0
    assert {line["topic"] for line in lines} == {"bearid/bearagent/sighting"}
    assert lines[0]["payload"]["type"] == "new" and lines[0]["payload"]["decision"]["name"] == who
    assert lines[-1]["payload"]["chip_count"] == len(chips)


def test_broker_outage_delays_events_and_loses_none(
    world: World, broker: Mosquitto, agent: Agent, subscribe: Callable[..., Subscriber]
) -> None:
    sub = subscribe(broker, "bearid/box1/sighting", client_id="outage-sub", clean_start=False)
    broker.stop()
    (who_a, chips_a), (who_b, chips_b) = list(world.unseen.items())[:2]
    drop(world, "cam01", chips_a)
    drop(world, "cam02", chips_b)
    db = open_database(world.database)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ended = db.execute("SELECT COUNT(*) FROM encounters WHERE ended = 1").fetchone()[0]
        if ended == 2:
            break
        time.sleep(0.2)
    queued = [
        r[0]
        for r in db.execute(
            "SELECT event_id FROM outbox WHERE channel = 'sighting' AND published_at IS NULL"
            " ORDER BY id"
        ).fetchall()
    ]
    assert len(queued) >= 4  # new + end of each encounter, waiting for the broker
    broker.start()
    got = events(
        sub, lambda ms: len({m.json()["event_id"] for m in ms} & set(queued)) == len(queued), 30
    )
    first_seen = list(dict.fromkeys(m.json()["event_id"] for m in got))
    assert first_seen == queued  # every event, in the order it was recorded
    names = {m.json()["encounter_id"]: m.json()["decision"]["name"] for m in got}
    assert sorted(names.values()) == sorted([who_a, who_b])


def test_a_renamed_or_recopied_chip_is_not_processed_again(
    world: World, broker: Mosquitto, agent: Agent
) -> None:
    (record, chip), *_ = next(iter(world.unseen.values()))
    data = encode_jpeg(chip, record.captured_at)
    folder = world.traps / "north" / "cam01"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(data)
    (folder / "copy-of-a.jpg").write_bytes(data)  # same batch, same content
    db = open_database(world.database)

    def count(status: str) -> int:
        sql = "SELECT COUNT(*) FROM files WHERE status = ?"
        return int(db.execute(sql, [status]).fetchone()[0]) if "files" in db.table_names() else 0

    deadline = time.monotonic() + 20
    while count("processed") + count("duplicate") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.rename(folder / "a.jpg", folder / "renamed.jpg")  # later: a rename
    time.sleep(1.5)
    assert (count("processed"), count("duplicate")) == (1, 2)
    assert db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] == 1
