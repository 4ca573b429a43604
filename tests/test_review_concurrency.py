"""A person reviews while the agent works through a 1,000-chip backlog: both succeed, and
neither ever sees "database is locked". The agent runs as its own process (`bearagent
run`, as under systemd), the review page on a real uvicorn, actions over HTTP."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bearagent.gallery import get_individual
from bearagent.store import open_database
from support.agent_checks import (
    Chip,
    burst,
    files_recorded,
    integrity,
    query,
    start_agent,
    wait_until,
    write_chips,
    write_config,
)
from support.broker import Mosquitto
from support.review_app import PASSWORD, csrf_of, make_app, served
from support.review_world import ReviewWorld, build, settings
from support.subscriber import Subscriber

BACKLOG = 1000
_FLASH = re.compile(r'<p class="flash (\w+)" role="status">(.*?)</p>', re.S)


def act(client: httpx.Client, path: str, **fields: str) -> tuple[str, str]:
    """Post a form from the page it is on; returns the flash (kind, text) it came back with."""
    page = client.get("/audit")
    response = client.post(path, data={"csrf": csrf_of(page.text), **fields})
    found = _FLASH.search(response.text)
    assert found, response.text[:500]
    return found.group(1), found.group(2)


def review_loop(client: httpx.Client, rw: ReviewWorld, holly: str) -> list[tuple[str, str]]:
    """One round of a person's work: assign, undo, rename, undo."""
    done = [act(client, f"/encounter/{rw.review}/assign", individual=holly)]
    done.append(act(client, f"/audit/{_last(rw)}/undo"))
    done.append(act(client, f"/individual/{holly}/rename", name="Holly Two"))
    done.append(act(client, f"/audit/{_last(rw)}/undo"))
    return done


def _last(rw: ReviewWorld) -> int:
    rows = query(rw.database, "SELECT max(id) FROM review_actions WHERE action != 'undo'")
    return int(rows[0][0])


def test_no_database_is_locked_while_the_agent_works_a_backlog_and_a_person_reviews(
    tmp_path: Path, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    (tmp_path / "world").mkdir()
    rw = build(tmp_path / "world")
    world = rw.world
    holly = get_individual(open_database(rw.database), sorted(world.unseen)[1]).id
    chips = burst(world, BACKLOG, cameras=4, seed=3)
    staging = tmp_path / "staging"
    write_chips(staging, chips)
    agent_settings = settings(
        world, rw.database, agent={"publisher": "mqtt"},
        mqtt={"host": broker.host, "port": broker.port, "stats_interval_s": 0},
    )  # fmt: skip
    sub = subscribe(broker, "bearid/box1/correction", client_id="review-load", clean_start=False)
    log = tmp_path / "agent.log"
    agent = start_agent(write_config(tmp_path / "agent.toml", agent_settings), log)
    before = files_recorded(rw.database)
    cfg = rw.config()
    outcomes: list[tuple[str, str]] = []
    try:
        wait_until(lambda: b"watching" in log.read_bytes(), 60, "agent started")
        for folder in (staging / "north").iterdir():  # the backlog lands at once
            os.rename(folder, world.traps / "north" / f"b{folder.name}")
        started = time.monotonic()
        with (
            served(make_app(cfg), cfg) as base,
            httpx.Client(base_url=base, follow_redirects=True) as c,
        ):
            token = csrf_of(c.get("/login").text)
            c.post("/login", data={"csrf": token, "name": "Anna", "password": PASSWORD})
            while files_recorded(rw.database) < before + BACKLOG:
                assert time.monotonic() - started < 240, "the backlog took too long"
                outcomes += review_loop(c, rw, holly)
            elapsed = time.monotonic() - started
            outcomes += review_loop(c, rw, holly)  # and once more while the last batch ends
        waiting = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        wait_until(lambda: query(rw.database, waiting) == [(0,)], 60, "outbox drained")
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
    refused = [text for kind, text in outcomes if kind != "done"]
    assert refused == [], refused[:3]
    assert len(outcomes) >= 8
    print(f"\n{BACKLOG} chips in {elapsed:.1f} s while a person took {len(outcomes)} actions")
    text = log.read_text()
    assert " is locked" not in text and "Traceback" not in text, text[-2000:]
    assert_backlog_recorded_once(rw.database, [moved(c) for c in chips])
    assert integrity(rw.database) == "ok"
    corrections = [m for m in sub.drain(1.0) if m.topic.endswith("/correction")]
    assert len({m.json()["event_id"] for m in corrections}) == len(outcomes)


def moved(chip: Chip) -> str:
    """Where a backlog chip ended up: north/camNN/... was moved in as north/bcamNN/..."""
    site, camera, name = chip.relative.split("/")
    return f"{site}/b{camera}/{name}"


def assert_backlog_recorded_once(database: Path, paths: list[str]) -> None:
    """Each backlog chip has one processed ledger row and one sighting (the database holds
    the earlier visits too)."""
    wanted = set(paths)
    statuses = [s for p, s in query(database, "SELECT path, status FROM files") if p in wanted]
    assert len(statuses) == len(wanted) and set(statuses) == {"processed"}
    sightings = [r[0] for r in query(database, "SELECT file FROM sightings") if r[0] in wanted]
    assert sorted(sightings) == sorted(wanted)
