"""The review page: how fast the queue renders with 1,000 encounters waiting, and what a
person reviewing costs the agent working through a backlog.

    .venv/bin/python bench/bench_review.py [--encounters 1000] [--requests 100]
                                           [--chips 1000] [--pace 1.0]

1. Queue: a gallery of 50 bears (10 references each, with thumbnails) and
   `--encounters` encounters in review (4 chips each, 5 candidates); the first page of
   the queue (25 encounters, ~450 pictures' worth of markup), a deep page and an
   encounter page, rendered `--requests` times in process and over real HTTP
   (uvicorn, keep-alive), logged in. p50/p95 in ms.
2. Throughput: the agent (`bearagent run`, the lite0 model, CPU, 2 threads) on a
   `--chips` backlog moved into its watch root at once, with a real Mosquitto: chips/s
   without anyone on the review page, with a person acting every `--pace` seconds
   (assign, undo, rename, undo over HTTP: each assign embeds the chips again to choose
   references), and with the same actions back to back (a worst case no person reaches).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import sqlite_utils
import uvicorn
from starlette.testclient import TestClient

from agent_bench_kit import (
    THREADS,
    chip_files,
    lite0_model,
    make_gallery,
    percentiles,
    recorded,
    running_agent,
    wait_for_log,
    write_files,
)
from bearagent.chips import decode_chip
from bearagent.config import AgentConfig
from bearagent.encounters import store as encounter_store
from bearagent.gallery.thumbnails import store_thumbnail
from bearagent.review.passwords import hash_password
from bearagent.review.schema import ensure_schema
from bearagent.review.server import uvicorn_settings
from bearagent.review.web import create_app
from bearagent.store import open_database, transaction
from bearid_dev.mosquitto import free_port

PASSWORD = "bench password"
T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_FLASH = re.compile(r'<p class="flash (\w+)"')


def fill(database: Path, model: Path, encounters: int, pool: list[bytes]) -> list[str]:
    """A gallery of 50 bears and `encounters` review encounters of 4 chips; their ids."""
    make_gallery(database, model, references=500, per_individual=10)
    db = open_database(database)
    ensure_schema(db)
    images = [decode_chip(data) for data in pool]
    bears = [str(r[0]) for r in db.execute("SELECT id FROM individuals ORDER BY id")]
    rng = np.random.default_rng(0)
    with transaction(db):
        for (ref_id,) in db.execute("SELECT id FROM reference_embeddings").fetchall():
            store_thumbnail(db, "reference", int(ref_id), images[int(ref_id) % len(images)])
    ids: list[str] = []
    for start in range(0, encounters, 100):
        with transaction(db):
            for i in range(start, min(start + 100, encounters)):
                ids.append(_encounter(db, i, bears, images, rng))
    db.conn.close()
    return ids


def _encounter(db: sqlite_utils.Database, i: int, bears: list[str], images: list[np.ndarray],
               rng: np.random.Generator) -> str:  # fmt: skip
    eid = str(uuid.uuid4())
    camera, when = f"cam{i % 8:02d}", T0 + timedelta(minutes=7 * i)
    for k in range(4):
        cursor = db.execute(
            "INSERT INTO sightings (file, camera, site, captured_at, processed_at, similarity,"
            " encounter_id, model_sha256, time_source, outcome) VALUES (?, ?, 'north', ?, ?,"
            " 0.8, ?, 'x', 'exif', 'review')",
            [f"north/{camera}/e{i:05d}_{k}.jpg", camera, (when + timedelta(seconds=k)).isoformat(),
             when.isoformat(), eid],
        )  # fmt: skip
        store_thumbnail(db, "sighting", int(cursor.lastrowid or 0), images[(i + k) % len(images)])
    picks = rng.choice(len(bears), 5, replace=False)
    top_k = [{"individual_id": bears[j], "name": f"bear {j}", "similarity": 0.8 - 0.02 * n}
             for n, j in enumerate(picks)]  # fmt: skip
    decision = {
        "status": "review", "individual_id": None, "name": None, "provisional": False,
        "score": {"name": "best", "value": 0.8}, "similarity": 0.8,
        "thresholds": {"known": 0.9, "unknown": 0.7, "source": "card"}, "top_k": top_k,
    }  # fmt: skip
    encounter_store.save(db, encounter_store.EncounterRow(
        eid, camera, "north", when, when + timedelta(seconds=3), 4, True, None, decision, "{}"
    ))  # fmt: skip
    return eid


def review_config(database: Path, model: Path, root: Path, hash_file: Path) -> AgentConfig:
    """The review page's configuration on the bench database."""
    return AgentConfig.model_validate({
        "agent": {"id": "bench", "database": str(database), "timezone": "UTC"},
        "watch": {"roots": [str(root)]},
        "runtime": {"model": str(model), "intra_op_threads": THREADS},
        "review": {"password_file": str(hash_file), "listen": f"127.0.0.1:{free_port()}"},
    })  # fmt: skip


def log_in(client: httpx.Client | TestClient) -> None:
    """Through the login form."""
    token = _CSRF.search(client.get("/login").text)
    assert token
    client.post("/login", data={"csrf": token.group(1), "name": "bench", "password": PASSWORD})


def timings(client: httpx.Client | TestClient, path: str, count: int) -> list[float]:
    """Milliseconds per GET of `path`."""
    out = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(path)
        out.append(1000 * (time.perf_counter() - start))
        assert response.status_code == 200, response.text[:300]
    return out


class Served:
    """The application on a real uvicorn in a thread."""

    def __init__(self, cfg: AgentConfig, digest: str) -> None:
        settings = uvicorn_settings(cfg)
        self.base = f"http://{settings['host']}:{settings['port']}"
        settings["access_log"] = False
        self.server = uvicorn.Server(uvicorn.Config(create_app(cfg, digest), **settings))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def bench_queue(base: Path, model: Path, encounters: int, requests: int, pool: list[bytes]) -> None:
    """Part 1: render times."""
    database, root = base / "queue.db", base / "traps"
    root.mkdir(parents=True)
    started = time.monotonic()
    ids = fill(database, model, encounters, pool)
    print(f"filled {encounters} review encounters in {time.monotonic() - started:.1f} s")
    digest = hash_password(PASSWORD)
    cfg = review_config(database, model, root, base / "pw")
    pages = {
        "queue page 1": "/queue",
        "queue page 20": "/queue?page=20",
        "queue, one camera": "/queue?camera=cam03",
        "encounter": f"/encounter/{ids[len(ids) // 2]}",
    }
    with TestClient(create_app(cfg, digest)) as c:
        log_in(c)
        html = c.get("/queue").text
        assert f"{encounters} encounters waiting" in html, html[:500]
        print(f"queue page 1: {html.count('<img')} pictures, {len(html) / 1024:.0f} KiB")
        for name, path in pages.items():
            timings(c, path, 3)  # warm
            print(f"in process  {name:<18} {percentiles(timings(c, path, requests))}")
    with Served(cfg, digest) as served, httpx.Client(base_url=served.base) as c:
        log_in(c)
        for name, path in pages.items():
            timings(c, path, 3)
            print(f"over HTTP   {name:<18} {percentiles(timings(c, path, requests))}")


@dataclass
class Reviewer:
    """A person on the review page, in a thread: assign, undo, rename, undo, ..."""

    base: str
    encounters: list[str]
    pace_s: float
    done: int = 0
    refused: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, follow_redirects=True, timeout=60) as c:
            log_in(c)
            i = 0
            while not self.stop.is_set():
                eid = self.encounters[i % len(self.encounters)]
                self._act(c, f"/encounter/{eid}/assign", individual="bear-0003")
                self._act(c, "/audit/{last}/undo")
                self._act(c, "/individual/bear-0004/rename", name=f"renamed {i}")
                self._act(c, "/audit/{last}/undo")
                i += 1

    def _act(self, c: httpx.Client, path: str, **fields: str) -> None:
        if self.stop.is_set():
            return
        page = c.get("/audit")
        last = re.search(r'action="/audit/(\d+)/undo"', page.text)
        token = _CSRF.search(page.text)
        assert token
        response = c.post(path.format(last=last.group(1) if last else 0),
                          data={"csrf": token.group(1), **fields})  # fmt: skip
        kind = _FLASH.search(response.text)
        if kind is None or kind.group(1) != "done":
            self.refused.append(response.text[:200])
        self.done += 1
        self.stop.wait(self.pace_s)


def bench_throughput(base: Path, model: Path, chips: int, pace: float | None,
                     pool: list[bytes]) -> tuple[float, Reviewer | None]:  # fmt: skip
    """Part 2: one agent run on a backlog; chips/s (and the reviewer, when there is one)."""
    base.mkdir(parents=True)
    database, root = base / "state" / "bearagent.db", base / "traps"
    root.mkdir()
    ids = fill(database, model, 20, pool)
    staging = base / "staging"
    write_files(staging, chip_files(chips, seed=1))
    reviewer = None
    with running_agent(base, model=model, database=database, root=root) as agent:
        wait_for_log(agent.log, b"watching")
        cfg = review_config(database, model, root, base / "pw")
        with Served(cfg, hash_password(PASSWORD)) as served:
            thread = None
            if pace is not None:
                reviewer = Reviewer(served.base, ids, pace)
                thread = threading.Thread(target=reviewer.run, daemon=True)
                thread.start()
                time.sleep(2.0)  # the model opened, the first assign done
            before = recorded(database)
            started = time.monotonic()
            os.rename(staging / "site", root / "site")
            while recorded(database) < before + chips:
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            if reviewer is not None and thread is not None:
                reviewer.stop.set()
                thread.join(60)
    if b" is locked" in agent.log.read_bytes():
        raise RuntimeError(f"the agent saw a locked database: see {agent.log}")
    return chips / elapsed, reviewer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encounters", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--chips", type=int, default=1000)
    parser.add_argument(
        "--pace", type=float, default=1.0, help="seconds between a person's actions"
    )
    args = parser.parse_args()
    model = lite0_model()
    pool = [data for _, data in chip_files(64, seed=2)]
    with tempfile.TemporaryDirectory(prefix="bearid-bench-review-") as tmp:
        base = Path(tmp)
        print("== 1. queue render time")
        bench_queue(base / "queue", model, args.encounters, args.requests, pool)
        print(
            f"== 2. agent throughput on a {args.chips}-chip backlog (lite0, CPU, {THREADS} threads)"
        )
        alone, _ = bench_throughput(base / "alone", model, args.chips, None, pool)
        print(f"nobody reviewing:            {alone:6.1f} chips/s")
        results: dict[str, object] = {"alone": alone}
        for label, pace in ((f"a person every {args.pace:g} s", args.pace), ("back to back", 0.0)):
            rate, reviewer = bench_throughput(base / label.replace(" ", "-"), model, args.chips,
                                              pace, pool)  # fmt: skip
            assert reviewer is not None
            print(f"{label + ':':<28} {rate:6.1f} chips/s ({rate / alone:.0%} of alone), "
                  f"{reviewer.done} actions, {len(reviewer.refused)} refused")  # fmt: skip
            if reviewer.refused:
                print("  refused:", reviewer.refused[0])
            results[label] = {"chips_per_s": rate, "actions": reviewer.done,
                              "refused": len(reviewer.refused)}  # fmt: skip
        print(json.dumps(results))


if __name__ == "__main__":
    main()
