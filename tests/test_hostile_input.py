"""Hostile and awkward input never stops the agent: each file is processed correctly or
rejected with its reason, symlinks out of the watch root are not followed, no file
is read beyond ``watch.max_file_bytes``, and a file written slowly counts once complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bearagent.app import Agent
from bearagent.chips import ChipRejected
from bearagent.config import AgentConfig
from bearagent.watch import ChipSource, read_chip
from beartrain.synthetic import encode_jpeg
from support.agent_checks import (
    agent_settings,
    files_recorded,
    integrity,
    query,
    start_agent,
    wait_until,
    write_config,
)
from support.agent_world import World, drop, make_world
from support.broker import Mosquitto
from support.hostile_files import Expectation, write_corpus
from support.privileged import unavailable
from support.subscriber import Subscriber

pytestmark = pytest.mark.slow
MAX_FILE_BYTES = 200_000


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.fixture
def agent(world: World, broker: Mosquitto) -> Iterator[Agent]:
    settings = agent_settings(
        world,
        watch={"stable_after_s": 1.0, "max_file_bytes": MAX_FILE_BYTES},
        # Generous: on a busy 2-core CI box a 1 s quiet period can pass mid-burst.
        encounter={"gap_s": 60, "end_after_s": 3.0},
        mqtt={"host": broker.host, "port": broker.port, "stats_interval_s": 0},
    )
    a = Agent(AgentConfig.model_validate(settings))
    a.start()
    yield a
    a.stop()


def individual_of(database: Path, relative: str) -> list[str | None]:
    sql = (
        "SELECT i.name FROM sightings s LEFT JOIN individuals i ON i.id = s.individual_id"
        " WHERE s.file = ?"
    )
    return [row[0] for row in query(database, sql, relative)]


def check(database: Path, e: Expectation) -> None:
    rows = query(database, "SELECT status, reason FROM files WHERE path = ?", e.relative)
    if e.outcome == "ignored":
        assert rows == [], e
        return
    assert len(rows) == 1, (e, rows)
    status, reason = rows[0]
    assert status == e.outcome, (e, reason)
    if e.reason is not None:
        assert reason.startswith(f"{e.reason}: {e.relative}"), (e, reason)
    if e.outcome == "processed":
        names = individual_of(database, e.relative)
        assert len(names) == 1, (e, names)
        if e.who is not None:
            assert names == [e.who], (e, names)


def test_every_hostile_file_is_processed_or_rejected_and_the_agent_goes_on(
    world: World,
    broker: Mosquitto,
    agent: Agent,
    subscribe: Callable[..., Subscriber],
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    corpus = write_corpus(world, outside)
    recorded = [e for e in corpus if e.outcome != "ignored"]
    # Fresh damaged files may still be being written: the agent retries them for a few seconds.
    wait_until(lambda: files_recorded(world.database) == len(recorded), 40, "corpus recorded")
    for expectation in corpus:
        check(world.database, expectation)
    # The symlink was not followed out: the outside chip's content was never taken in.
    secret = hashlib.sha256((outside / "secret.jpg").read_bytes()).hexdigest()
    assert query(world.database, "SELECT COUNT(*) FROM files WHERE sha256 = ?", secret) == [(0,)]
    processed = sum(e.outcome == "processed" for e in corpus)
    assert query(world.database, "SELECT COUNT(*) FROM sightings") == [(processed,)]
    # The agent is still working: a known bear's encounter comes through as usual.
    sub = subscribe(broker, "bearid/box1/sighting")
    who, chips = list(world.unseen.items())[2]
    drop(world, "cam09", chips)
    # Its final word: the `end`, or an `amended` after it when the loaded machine ended it
    # before its last chip got through.
    end = sub.wait_for(
        lambda m: m.json()["type"] in ("end", "amended") and m.json()["camera"] == "cam09"
        and m.json()["chip_count"] == len(chips),
        20,
    )  # fmt: skip
    assert end.json()["decision"]["name"] == who
    counts = agent.stats.snapshot()["rejected_by_reason"]
    assert counts == {"empty": 1, "truncated": 1, "too_large": 2, "not_an_image": 1,
                      "outside_root": 1}  # fmt: skip
    assert integrity(world.database) == "ok"


def test_a_chip_written_slowly_over_ten_seconds_counts_once_complete(
    world: World, agent: Agent
) -> None:
    who, chips = list(world.unseen.items())[1]
    record, chip = chips[0]
    data = encode_jpeg(chip, record.captured_at)
    target = world.traps / "north" / "cam03" / "slow.jpg"
    target.parent.mkdir(parents=True)
    pieces = 20
    step = -(-len(data) // pieces)
    with target.open("wb") as f:  # one open file, a piece every half second, like a slow card
        for i in range(pieces):
            f.write(data[i * step : (i + 1) * step])
            f.flush()
            time.sleep(0.5)
    wait_until(lambda: files_recorded(world.database) >= 1, 20, "slow chip recorded")
    time.sleep(1.5)  # any late second look would show up now
    rows = query(world.database, "SELECT path, status FROM files")
    assert rows == [("north/cam03/slow.jpg", "processed")]
    assert individual_of(world.database, "north/cam03/slow.jpg") == [who]


@pytest.fixture
def nobody_world(tmp_path: Path) -> Iterator[World]:
    """A world owned by the unprivileged user 'nobody' (root ignores file modes)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        unavailable("needs root and setpriv to run the agent as 'nobody'")
    base = Path(tempfile.mkdtemp(prefix="bearid-nobody-"))
    try:
        base.chmod(0o755)
        world = make_world(base)
        subprocess.run(["chown", "-R", "nobody:nogroup", str(base)], check=True)
        yield world
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_an_unreadable_file_is_rejected_when_the_agent_runs_unprivileged(
    nobody_world: World, tmp_path: Path
) -> None:
    world = nobody_world
    chips = next(iter(world.unseen.values()))
    drop(world, "cam01", chips[:2])
    locked = world.traps / "north" / "cam01" / "locked.jpg"
    locked.write_bytes(encode_jpeg(chips[2][1], chips[2][0].captured_at))
    os.chown(locked, 0, 0)
    locked.chmod(0o600)  # root's: 'nobody' may not read it
    settings = agent_settings(world, agent={"publisher": "stdout"})
    config = write_config(world.model.parent / "agent.toml", settings)
    os.chown(config, 65534, 65534)
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    agent = start_agent(config, tmp_path / "agent.log", prefix=as_nobody)
    try:
        wait_until(lambda: files_recorded(world.database) == 3, 40, "three files recorded")
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    (reason,) = query(world.database, "SELECT reason FROM files WHERE status = 'rejected'")[0]
    assert reason == "unreadable: north/cam01/locked.jpg: permission denied"
    processed = query(world.database, "SELECT COUNT(*) FROM files WHERE status = 'processed'")
    assert processed == [(2,)]


def test_a_fifo_named_like_a_chip_is_refused_without_blocking(tmp_path: Path) -> None:
    """Even handed straight to the reader (a FIFO swapped in after the watcher looked),
    a named pipe is refused at once: opening it for reading would wait for a writer."""
    os.mkfifo(tmp_path / "pipe.jpg")
    source = ChipSource(tmp_path / "pipe.jpg", tmp_path, "pipe.jpg", "site", "cam")
    outcome: list[str] = []

    def read() -> None:
        try:
            read_chip(source, MAX_FILE_BYTES)
        except ChipRejected as e:
            outcome.append(f"{e.reason}: {e}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert outcome == ["not_a_file: pipe.jpg: not a regular file"]
