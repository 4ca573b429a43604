"""The review desk: how fast its queue renders with 10^4 encounters waiting, and how long a
decision at the desk takes to reach the box (and the box's answer the desk).

    .venv/bin/python bench/bench_desk.py [--encounters 10000] [--requests 50]
                                         [--decisions 10] [--names 5] [--db URL]

1. Render: a station database (SQLite in a temporary folder, or --db) holding two
   boxes' `--encounters` encounters in review (each stored by the ingest from its
   ``new`` and ``end`` events, 4 chips with media rows, 3 candidates among 50 named
   bears of the fleet gallery with 10 reference chips each). The queue's first page (25
   encounters, 100 chips and up to 300 reference chips), a deep page, one box's queue and
   an encounter page, each `--requests` times, in process (Starlette's TestClient) and
   over HTTP (uvicorn, keep-alive), logged in. p50/p95/p99 in ms.
2. Decision to box: a real broker, the real `Station` (its fleet round every
   `--round-s`, default as configured: 2 s) and two real agents in this process (boxa
   with 20 named bears and the lite0 model, every encounter left to review; boxb with an
   empty gallery). For `--decisions` encounters of boxa: assign at the desk (the library
   call the page makes) -> boxa's encounter decided (its review action embeds the chips
   to choose references) -> the desk sees boxa's correction. Then `--names` renames at
   the desk -> both boxes' galleries carry the name (the fleet gallery's feed).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn
from sqlalchemy import Engine, insert, select
from starlette.testclient import TestClient

from agent_bench_kit import lite0_model, make_gallery, percentiles
from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.decisions import Decision, DecisionRule, Outcome
from bearagent.matching.knn import Candidate
from bearagent.webkit.passwords import hash_password
from bearagent.webkit.server import uvicorn_settings
from bearagent.wire.payloads import (
    ChipRef,
    EncounterRef,
    ModelRef,
    Origin,
    SightingType,
    encounter_payload,
)
from bearid_dev.mosquitto import free_port, running_broker
from bearstation.config import StationConfig
from bearstation.database import open_engine
from bearstation.desk import actions
from bearstation.desk.views import DeskUser
from bearstation.desk.web import create_app
from bearstation.fleet.gallery_ingest import add_box_reference, register_box_individual
from bearstation.ingest.batch import write_batch
from bearstation.messages import Incoming
from bearstation.migrations import ensure_current
from bearstation.station import Station
from bearstation.tables import chip_media, desk_commands, media
from beartrain.synthetic import SyntheticConfig, encode_jpeg, iter_population

PASSWORD = "bench password"
T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
MODEL = ModelRef("bench", "ab" * 32)
ANNA = DeskUser("Anna", "bench")


def _event(agent: str, k: int, kind: SightingType, bears: int) -> tuple[str, str]:
    when = T0 + timedelta(minutes=k)
    chips = tuple(ChipRef(f"s/cam{k % 8}/{k:06d}_{i}.jpg", when + timedelta(seconds=i), "exif")
                  for i in range(4))  # fmt: skip
    top = tuple(Candidate(f"bear-boxa-{(k + j) % bears + 1:04d}", None, "known", 0.8 - 0.1 * j)
                for j in range(3))  # fmt: skip
    decision = Decision(Outcome.REVIEW, None, None, False, 0.2, 0.8,
                        DecisionRule("margin", 0.3, 0.1, "gallery"), top)  # fmt: skip
    last = chips[-1] if kind is SightingType.END else chips[0]
    end = kind is SightingType.END
    encounter = EncounterRef(f"{agent}-{k:06d}", 4 if end else 1, when, last.captured_at,
                             chips if end else ())  # fmt: skip
    text = encounter_payload(
        "sighting", kind, event_id=uuid.uuid4(), origin=Origin(agent, "s", f"cam{k % 8}", last),
        encounter=encounter, model=MODEL, decision=decision,
    )  # fmt: skip
    return f"bearid/{agent}/sighting", text


def fill_station(engine: Engine, encounters: int, bears: int = 50) -> list[str]:
    """Two boxes' encounters in review with chip rows, and the fleet's named bears with
    reference chips; boxa's encounter ids."""
    now = datetime.now(UTC)
    messages = [
        _event(agent, k, kind, bears)
        for k in range(encounters // 2)
        for agent in ("boxa", "boxb")
        for kind in (SightingType.NEW, SightingType.END)
    ]
    for first in range(0, len(messages), 1000):
        batch = [Incoming("bench", t, p.encode(), now) for t, p in messages[first : first + 1000]]
        write_batch(engine, batch, "bearid/")
    rng = np.random.default_rng(0)
    with engine.begin() as conn:
        rows = [{"sha256": rng.bytes(32).hex(), "size": 4000, "content_type": "image/jpeg",
                 "stored_at": now} for _ in range(encounters * 4 + bears * 10)]  # fmt: skip
        conn.execute(insert(media), rows)
        chips = iter(str(r["sha256"]) for r in rows)
        conn.execute(insert(chip_media), [
            {"agent_id": agent, "file": f"s/cam{k % 8}/{k:06d}_{i}.jpg",
             "sha256": next(chips), "encounter_id": f"{agent}-{k:06d}", "site": "s",
             "camera": f"cam{k % 8}", "captured_at": T0, "captured_offset_min": 0,
             "received_at": now}
            for k in range(encounters // 2) for agent in ("boxa", "boxb") for i in range(4)
        ])  # fmt: skip
        for b in range(bears):
            bear = f"bear-boxa-{b + 1:04d}"
            register_box_individual(conn, "boxa", bear, name=f"Bear {b}", provisional=False,
                                    seen_at=now)  # fmt: skip
            for _ in range(10):
                add_box_reference(conn, "boxa", bear, next(chips), None, now)
    return [f"boxa-{k:06d}" for k in range(encounters // 2)]


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` calls."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def render_bench(args: argparse.Namespace, base: Path) -> None:
    """Part 1: the queue and an encounter page, in process and over HTTP."""
    url = args.db or f"sqlite:///{base / 'station.db'}"
    engine = open_engine(url)
    ensure_current(engine)
    started = time.monotonic()
    ids = fill_station(engine, args.encounters)
    print(f"filled {args.encounters} encounters in {time.monotonic() - started:.0f} s ({url})")
    config = StationConfig.model_validate({"station": {"id": "hq", "database": url},
                                           "media": {"root": str(base / "media")}})  # fmt: skip
    app = create_app(config, engine, hash_password(PASSWORD))
    pages = {
        "queue, first page": "/queue",
        "queue, page 200": "/queue?page=200",
        "queue, one box": "/queue?box=boxb",
        "an encounter": f"/encounter/boxa/{ids[7]}",
    }
    with TestClient(app) as client:
        log_in(client)
        first = client.get("/queue").text
        pictures = first.count('src="/media/')
        print(f"first page: {first.count('<article')} encounters, {pictures} pictures, "
              f"{len(first) // 1024} KiB")  # fmt: skip
        report("in process", client, pages, args.requests)
    port = free_port()
    settings = {**uvicorn_settings(config.desk), "host": "127.0.0.1", "port": port}
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        log_in(client)
        report("over HTTP", client, pages, args.requests)
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def report(where: str, client: Any, pages: dict[str, str], repeat: int) -> None:
    """Print the percentiles of each page."""
    for label, path in pages.items():
        times = timed(lambda p=path: client.get(p), repeat)  # type: ignore[misc]
        print(f"  {where}, {label}: {percentiles(times)}")


def log_in(client: Any) -> None:
    """Log `client` in through the form."""
    page = client.get("/login").text
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"csrf": token, "name": "Anna", "password": PASSWORD})


def _chips(k: int, root: Path) -> None:
    """Three chips of one visit at camera k of boxa, renamed into place."""
    population = iter_population(SyntheticConfig(individuals=4, cameras=1, seed=100 + k))
    folder = root / "site" / f"cam{k:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    for i, (_record, chip) in zip(range(3), population, strict=False):
        final = folder / f"{k:03d}_{i}.jpg"
        temp = final.with_name(f".{final.name}.part")
        temp.write_bytes(encode_jpeg(chip, T0 + timedelta(hours=k, seconds=i)))
        temp.rename(final)


def _box(base: Path, agent_id: str, model: Path, port: int, bears: int) -> AgentConfig:
    database = base / agent_id / "bearagent.db"
    database.parent.mkdir(parents=True)
    (base / agent_id / "root").mkdir()
    if bears:
        make_gallery(database, model, references=bears * 10)
    return AgentConfig.model_validate({
        "agent": {"id": agent_id, "database": str(database), "timezone": "UTC"},
        "watch": {"roots": [str(base / agent_id / "root")], "stable_after_s": 0.3},
        "runtime": {"model": str(model), "intra_op_threads": 1},
        "encounter": {"gap_s": 60, "end_after_s": 1.0},
        "decision": {"known_threshold": 0.999, "unknown_threshold": -1.0},
        "mqtt": {"host": "127.0.0.1", "port": port, "stats_interval_s": 5.0},
    })  # fmt: skip


def _ms(start: float, check: Callable[[], bool], timeout: float = 120.0) -> float:
    """Milliseconds from `start` until `check` holds (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("not reached in time")
        time.sleep(0.01)
    return 1000 * (time.monotonic() - start)


def _one(cfg: AgentConfig, sql: str, *args: object) -> Any:
    with sqlite3.connect(cfg.agent.database_path, timeout=30) as db:
        row = db.execute(sql, args).fetchone()
    return None if row is None else row[0]


def _box_status(cfg: AgentConfig, encounter_id: str) -> Any:
    return _one(cfg, "SELECT status FROM encounters WHERE id = ?", encounter_id)


def _box_name(cfg: AgentConfig, individual_id: str) -> Any:
    return _one(cfg, "SELECT name FROM individuals WHERE id = ?", individual_id)


def _visit(k: int, box: AgentConfig, engine: Engine) -> str:
    """A visit at camera k of the box, ended and at the station; its encounter id."""
    _chips(k, box.watch.roots[0])
    sql = "SELECT id FROM encounters WHERE camera = ? AND ended = 1"
    _ms(time.monotonic(), lambda: _one(box, sql, f"cam{k:02d}") is not None)
    encounter = str(_one(box, sql, f"cam{k:02d}"))
    _ms(time.monotonic(), lambda: _station_has(engine, encounter))
    return encounter


def latency_bench(args: argparse.Namespace, base: Path) -> None:
    """Part 2: a desk decision to its box and back; a name to both boxes."""
    model = lite0_model()
    url = f"sqlite:///{base / 'fleet.db'}"
    with running_broker(base / "broker", verbose=False) as broker:
        station = Station(StationConfig.model_validate({
            "station": {"id": "hq", "database": url},
            "brokers": [{"url": f"mqtt://127.0.0.1:{broker.port}"}],
            "fleet": {"round_s": args.round_s},
        }))  # fmt: skip
        station.start()
        boxa, boxb = (_box(base, a, model, broker.port, n) for a, n in (("boxa", 20), ("boxb", 0)))
        agents = [Agent(boxa), Agent(boxb)]
        for agent in agents:
            agent.start()
        engine = open_engine(url)
        try:
            with sqlite3.connect(boxa.agent.database_path) as db:
                bears = [
                    (str(r[0]), str(r[1])) for r in db.execute("SELECT id, name FROM individuals")
                ]
            with engine.begin() as conn:
                for bear, name in bears:
                    register_box_individual(conn, "boxa", bear, name=name, provisional=False,
                                            seen_at=datetime.now(UTC))  # fmt: skip
            applied, answered = [], []
            for k in range(args.decisions):
                encounter = _visit(k, boxa, engine)
                start = time.monotonic()
                with engine.begin() as conn:
                    actions.assign(conn, "boxa", encounter, bears[k % len(bears)][0], ANNA)
                applied.append(_ms(start, lambda e=encounter: _box_status(boxa, e) == "known"))  # type: ignore[misc]
                answered.append(_ms(start, lambda: _all_applied(engine)))
            print(f"desk assign -> boxa decided: {percentiles(applied)}")
            print(f"desk assign -> the desk sees boxa's correction: {percentiles(answered)}")
            target = bears[0][0]
            _ms(time.monotonic(), lambda: _box_name(boxb, target) is not None)
            both = []
            for k in range(args.names):
                name = f"Renamed {k}"
                start = time.monotonic()
                with engine.begin() as conn:
                    actions.name_individual(conn, target, name, ANNA)
                both.append(_ms(start, lambda n=name: all(_box_name(c, target) == n  # type: ignore[misc]
                                                          for c in (boxa, boxb))))  # fmt: skip
            print(f"desk rename -> both boxes renamed: {percentiles(both)}")
        finally:
            for agent in agents:
                agent.stop()
            station.stop()
            engine.dispose()


def _station_has(engine: Engine, encounter_id: str) -> bool:
    from bearstation.tables import encounters

    with engine.connect() as conn:
        state = conn.execute(select(encounters.c.state).where(
            encounters.c.encounter_id == encounter_id)).scalar_one_or_none()  # fmt: skip
    return state == "ended"


def _all_applied(engine: Engine) -> bool:
    with engine.connect() as conn:
        states = set(conn.execute(select(desk_commands.c.state)).scalars())
    return states == {"applied"}


def main() -> None:
    """Run both parts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encounters", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--decisions", type=int, default=10)
    parser.add_argument("--names", type=int, default=5)
    parser.add_argument("--round-s", type=float, default=2.0, help="fleet.round_s")
    parser.add_argument("--db", help="a station database URL for part 1 (default: SQLite)")
    parser.add_argument("--skip-render", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-desk-") as folder:
        if not args.skip_render:
            (Path(folder) / "render").mkdir()
            render_bench(args, Path(folder) / "render")
        if not args.skip_latency:
            (Path(folder) / "latency").mkdir()
            latency_bench(args, Path(folder) / "latency")


if __name__ == "__main__":
    main()
