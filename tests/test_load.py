"""The agent under load: thousands of chips appearing at once, and a burst that
overflows the kernel's inotify queue. Every chip is processed exactly once and the
agent's memory stays bounded (CI size here; bench/ runs the full 10,000).
"""

from __future__ import annotations

import os
import signal
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
from support.privileged import small_inotify_queue
from support.subscriber import Message, Subscriber

pytestmark = pytest.mark.slow
#: Peak RSS ceiling for the agent with the small test model (MB): bounded, not growing per chip.
RSS_LIMIT_MB = 400


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def drain_events(sub: Subscriber, database: Path, total: int, timeout: float) -> list[Message]:
    """Messages until `total` files are recorded, encounters have ended and the outbox is empty."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout

    def settled() -> bool:
        return (
            files_recorded(database) >= total
            and query(database, "SELECT COUNT(*) FROM encounters WHERE ended = 0") == [(0,)]
            and query(database, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") == [(0,)]
        )

    while not settled():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{files_recorded(database)}/{total} recorded in {timeout} s")
        got += sub.drain(0.5)
    return [m for m in got + sub.drain(0.5) if not m.topic.endswith("/status")]


def test_two_thousand_chips_appear_at_once(
    world: World, broker: Mosquitto, subscribe: Callable[..., Subscriber], tmp_path: Path
) -> None:
    chips = burst(world, 2000, cameras=4, seed=10)
    staging = tmp_path / "staging"
    write_chips(staging, chips)  # ready beside the watch root, then moved in with one rename
    sub = subscribe(broker, "bearid/box1/+", client_id="load-at-once", clean_start=False)
    mqtt = {"host": broker.host, "port": broker.port, "stats_interval_s": 0}
    settings = agent_settings(
        world, mqtt=mqtt, pipeline={"batch_size": 32}, encounter={"end_after_s": 3.0}
    )
    log = tmp_path / "agent.log"
    agent = start_agent(write_config(tmp_path / "agent.toml", settings), log)
    try:
        wait_until(lambda: b"watching" in log.read_bytes(), 60, "agent started")
        (world.traps / "north").rmdir()
        os.rename(staging / "north", world.traps / "north")
        started = time.monotonic()
        messages = drain_events(sub, world.database, len(chips), timeout=120)
        elapsed = time.monotonic() - started
        peak = peak_rss_mb(agent.pid)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    print(f"\n2000 chips at once: {len(chips) / elapsed:.0f} chips/s, peak RSS {peak:.0f} MB")
    assert peak < RSS_LIMIT_MB
    assert_recorded_once(world.database, chips)
    assert_events_delivered(world.database, messages)
    assert integrity(world.database) == "ok"


@pytest.fixture
def tiny_inotify_queue() -> Iterator[Callable[[], None]]:
    """fs.inotify.max_queued_events at 32 for the agent's observer (root; fails in CI without)."""
    with small_inotify_queue(32) as restore:
        yield restore


def test_a_burst_that_overflows_the_inotify_queue_is_caught_by_the_immediate_rescan(
    world: World,
    broker: Mosquitto,
    subscribe: Callable[..., Subscriber],
    tmp_path: Path,
    tiny_inotify_queue: Callable[[], None],
) -> None:
    chips = burst(world, 600, cameras=3, seed=11)
    sub = subscribe(broker, "bearid/box1/+", client_id="load-overflow", clean_start=False)
    mqtt = {"host": broker.host, "port": broker.port, "stats_interval_s": 0}
    settings = agent_settings(
        world,
        mqtt=mqtt,
        # No periodic rescan to hide behind: the overflow itself must trigger one.
        watch={"stable_after_s": 0.3, "rescan_interval_s": 600.0},
        encounter={"end_after_s": 3.0},
    )
    log = tmp_path / "agent.log"
    agent = start_agent(write_config(tmp_path / "agent.toml", settings), log)
    try:
        wait_until(lambda: b"watching" in log.read_bytes(), 60, "agent started")
        tiny_inotify_queue()
        write_chips(world.traps, chips)  # ~5 events a chip, far more than 32 queue slots
        messages = drain_events(sub, world.database, len(chips), timeout=120)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    assert b"Inotify queue overflowed" in log.read_bytes()  # the kernel really dropped events
    assert_recorded_once(world.database, chips)
    assert_events_delivered(world.database, messages)
    assert integrity(world.database) == "ok"


def test_a_folder_of_fresh_chips_moved_in_does_not_wait_to_settle(
    world: World, broker: Mosquitto, tmp_path: Path
) -> None:
    """A folder renamed into the watch root is complete: its chips go at once, not after
    watch.stable_after_s (here far longer than the test may take)."""
    chips = burst(world, 200, cameras=2, seed=12)
    staging = tmp_path / "staging"
    write_chips(staging, chips)
    mqtt = {"host": broker.host, "port": broker.port, "stats_interval_s": 0}
    settings = agent_settings(world, mqtt=mqtt, watch={"stable_after_s": 60.0})
    agent = Agent(AgentConfig.model_validate(settings))
    agent.start()
    try:
        os.rename(staging / "north", world.traps / "north" / "moved-in")
        wait_until(lambda: files_recorded(world.database) == len(chips), 30, "moved-in chips")
    finally:
        agent.stop()
    moved = [
        Chip("north/moved-in/" + c.relative.removeprefix("north/"), c.data, c.who) for c in chips
    ]
    assert_recorded_once(world.database, moved)
