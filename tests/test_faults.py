"""The agent under faults: a broker outage mid-burst, SIGKILL at random moments, a full
disk, a database locked by another process. Real broker, real files, real SQLite.

In every case: each chip is recorded exactly once, every encounter's events reach a
subscriber at least once (a duplicate is the same event), and the database passes
``PRAGMA integrity_check``.
"""

from __future__ import annotations

import errno
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bearagent.app import Agent
from bearagent.config import AgentConfig
from support.agent_checks import (
    Chip,
    agent_settings,
    assert_events_delivered,
    assert_recorded_once,
    burst,
    files_recorded,
    integrity,
    query,
    start_agent,
    wait_until,
    write_chips,
    write_config,
)
from support.agent_world import World, make_world
from support.broker import Mosquitto
from support.privileged import size_capped_tmpfs
from support.subscriber import Message, Subscriber

pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def mqtt_of(broker: Mosquitto) -> dict[str, object]:
    return {"host": broker.host, "port": broker.port, "stats_interval_s": 0}


def in_process(world: World, broker: Mosquitto, **sections: dict[str, object]) -> Agent:
    settings = agent_settings(world, mqtt=mqtt_of(broker), **sections)
    agent = Agent(AgentConfig.model_validate(settings))
    agent.start()
    return agent


def collect_until_delivered(
    sub: Subscriber, database: Path, chips: list[Chip], timeout: float = 60.0
) -> list[Message]:
    """Messages until every chip is recorded and every encounter's ``end`` has arrived."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout

    def delivered() -> bool:
        if files_recorded(database) < len(chips):
            return False
        ended = {m.json()["encounter_id"] for m in got if m.json().get("type") == "end"}
        encounters = {row[0] for row in query(database, "SELECT id FROM encounters")}
        return bool(encounters) and encounters <= ended

    while not delivered():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{files_recorded(database)}/{len(chips)} chips, events missing")
        got += [m for m in sub.drain(0.5) if not m.topic.endswith("/status")]
    return got + [m for m in sub.drain(0.5) if not m.topic.endswith("/status")]


def at_least(database: Path, n: int) -> Callable[[], bool]:
    return lambda: files_recorded(database) >= n


def check_promises(database: Path, chips: list[Chip], messages: list[Message]) -> None:
    assert_recorded_once(database, chips)
    assert_events_delivered(database, messages)
    assert integrity(database) == "ok"


def test_broker_away_in_the_middle_of_a_burst(
    world: World, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    chips = burst(world, 240, cameras=4)
    sub = subscribe(broker, "bearid/box1/+", client_id="fault-outage", clean_start=False)
    agent = in_process(world, broker)
    try:
        write_chips(world.traps, chips[:120])
        broker.stop()  # while the first half is being worked through
        write_chips(world.traps, chips[120:])
        wait_until(lambda: files_recorded(world.database) == len(chips), 60, "all chips recorded")
        # Let the encounters end while the broker is still away: their events wait in the outbox.
        wait_until(
            lambda: (
                query(world.database, "SELECT COUNT(*) FROM encounters WHERE ended = 0") == [(0,)]
            ),
            30,
            "encounters ended",
        )
        waiting = "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"
        assert query(world.database, waiting)[0][0] > 0
        broker.start()
        messages = collect_until_delivered(sub, world.database, chips)
    finally:
        agent.stop()
    check_promises(world.database, chips, messages)
    sightings = [m for m in messages if m.topic == "bearid/box1/sighting"]
    names = {m.json()["encounter_id"]: m.json()["decision"]["name"] for m in sightings}
    assert set(names.values()) <= set(world.unseen)  # every burst is one of the known bears


def test_sigkilled_five_times_at_random_moments_during_a_backlog(
    world: World, broker: Mosquitto, subscribe: Callable[..., Subscriber], tmp_path: Path
) -> None:
    chips = burst(world, 600, cameras=3, seed=1)
    write_chips(world.traps, chips)  # the backlog that arrived while the agent was down
    sub = subscribe(broker, "bearid/box1/+", client_id="fault-kill", clean_start=False)
    settings = agent_settings(world, mqtt=mqtt_of(broker), pipeline={"batch_size": 2})
    config = write_config(tmp_path / "agent.toml", settings)
    log = tmp_path / "agent.log"
    rng = random.Random(6)
    for round_ in range(5):
        # Kill somewhere in this round's share of the backlog, at a random count.
        start = files_recorded(world.database)
        target = rng.randint(start + 1, max(start + 1, len(chips) * (round_ + 1) // 6))
        agent = start_agent(config, log)
        try:
            wait_until(at_least(world.database, target), 60, f"kill {round_}")
            time.sleep(rng.uniform(0.0, 0.05))  # not only just after a commit
        finally:
            agent.send_signal(signal.SIGKILL)
            agent.wait()
    assert files_recorded(world.database) < len(chips), "the backlog ended before the 5th kill"
    agent = start_agent(config, log)
    try:
        messages = collect_until_delivered(sub, world.database, chips)
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0, log.read_text(errors="replace")[-2000:]
    check_promises(world.database, chips, messages)
    assert query(world.database, "SELECT COUNT(*) FROM encounters WHERE ended = 0") == [(0,)]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs: a disk that can really fill up (root; a failure in CI without it)."""
    with size_capped_tmpfs(tmp_path / "disk", "3m") as mount:
        yield mount


def fill(disk: Path) -> Path:
    """Write a file until the disk has no space left; return it."""
    filler = disk / "filler"
    block = b"\0" * 65536
    with filler.open("wb", buffering=0) as f:
        while True:
            try:
                f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    return filler


def test_the_disk_holding_the_database_fills_up(
    world: World, broker: Mosquitto, subscribe: Callable[..., Subscriber], small_disk: Path
) -> None:
    for suffix in ("", "-wal", "-shm"):
        source = world.database.with_name(world.database.name + suffix)
        if source.exists():
            shutil.copy(source, small_disk / source.name)
    world.database = small_disk / world.database.name
    chips = burst(world, 120, cameras=2, seed=2)
    sub = subscribe(broker, "bearid/box1/+", client_id="fault-disk", clean_start=False)
    agent = in_process(world, broker)
    try:
        write_chips(world.traps, chips[:40])
        wait_until(lambda: files_recorded(world.database) == 40, 30, "first chips recorded")
        filler = fill(small_disk)
        write_chips(world.traps, chips[40:])
        time.sleep(8)  # the agent meets the full disk and waits, losing nothing
        stuck_at = files_recorded(world.database)
        assert stuck_at < len(chips)
        filler.unlink()  # space is freed: the agent catches up
        messages = collect_until_delivered(sub, world.database, chips)
    finally:
        agent.stop()
    check_promises(world.database, chips, messages)


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_the_database_locked_by_another_process_for_a_while(
    world: World, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    chips = burst(world, 120, cameras=2, seed=3)
    sub = subscribe(broker, "bearid/box1/+", client_id="fault-lock", clean_start=False)
    agent = in_process(world, broker)
    try:
        write_chips(world.traps, chips[:40])
        wait_until(lambda: files_recorded(world.database) == 40, 30, "first chips recorded")
        # Longer than the agent's 10 s busy timeout: its transaction really fails.
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(world.database), "13"], stdout=subprocess.PIPE
        )
        assert locker.stdout is not None and locker.stdout.readline() == b"locked\n"
        write_chips(world.traps, chips[40:])
        time.sleep(3)
        assert files_recorded(world.database) == 40  # nothing written while locked
        assert locker.wait(30) == 0
        messages = collect_until_delivered(sub, world.database, chips)
    finally:
        agent.stop()
    check_promises(world.database, chips, messages)
