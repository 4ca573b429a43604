"""The fleet gallery's feed: catch-up of a box N changes behind, and the time from a change
at the station to every box holding it.

    .venv/bin/python bench/bench_fleet_feed.py [--changes 10000] [--namings 20]

Real parts: a Mosquitto broker, the station (`Station`, SQLite, its default fleet round
and feed tick), and boxes made of the agent's real publisher (`MqttPublisher`) with the
real ``gallery`` handler over an agent database (no chip pipeline: nothing else writes
the gallery). The station's feed is filled through the fleet gallery's library: a
quarter of the changes are new provisional individuals, 7/10 reference chips (one each,
a 1280-d embedding, the media rows written directly: the feed reads only their
embeddings), the rest names and merges.

- catch-up: a box whose feed position is 0 starts; timed from its publisher's start
  until it has applied every change (its ``feed_state``);
- change to both boxes: two boxes caught up; a name given at the station (as the desk
  does, in its own transaction, 1-3 s after the last one; the round finds it within
  ``fleet.round_s``), timed until both boxes' galleries hold it. Median and worst of
  `--namings`.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

import agent_bench_kit  # noqa: F401 (puts dev/ on the path)
from bearagent.fleet.feed import gallery_feed_handler
from bearagent.mqtt import MqttConfig, MqttPublisher
from bearagent.pipeline.store import migrate_all
from bearagent.store import open_database
from bearid_dev.mosquitto import Mosquitto, running_broker
from bearstation.config import StationConfig
from bearstation.fleet.gallery import merge_individuals, name_individual
from bearstation.fleet.gallery_ingest import add_box_reference, register_box_individual
from bearstation.station import Station
from bearstation.tables import embeddings, media

MODEL_SHA = "ab" * 32
T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


def fill_feed(engine: Engine, changes: int) -> int:
    """About `changes` feed changes through the library; returns the feed's head."""
    rng = np.random.default_rng(0)
    individuals = max(1, changes // 4)
    chips = changes * 7 // 10
    with engine.begin() as conn:
        for i in range(individuals):
            register_box_individual(conn, "field", f"unknown-field-{i + 1:04d}", name=None,
                                    provisional=True, seen_at=T0)  # fmt: skip
        shas = [f"{k:064x}" for k in range(chips)]
        rows = [{"sha256": sha, "size": 1, "content_type": "image/jpeg", "stored_at": T0}
                for sha in shas]  # fmt: skip
        conn.execute(media.insert(), rows)
        vectors = rng.normal(size=(chips, 1280)).astype("<f4")
        conn.execute(
            embeddings.insert(),
            [{"sha256": sha, "model_sha256": MODEL_SHA, "dim": 1280, "vector": v.tobytes()}
             for sha, v in zip(shas, vectors, strict=True)],
        )  # fmt: skip
        for k, sha in enumerate(shas):
            owner = f"unknown-field-{k % individuals + 1:04d}"
            add_box_reference(conn, "field", owner, sha, MODEL_SHA, T0)
        rest = changes - individuals - chips
        for j in range(rest):
            if j % 2 == 0:
                name_individual(conn, f"unknown-field-{j + 1:04d}", f"Bear {j}", "bench")
            else:
                merge_individuals(conn, f"unknown-field-{j + 1:04d}",
                                  f"unknown-field-{j:04d}", "bench")  # fmt: skip
    return individuals + chips + rest


class Box:
    """A box's publisher with the gallery handler, over its own agent database."""

    def __init__(self, base: Path, agent_id: str, broker: Mosquitto) -> None:
        self.database = base / f"{agent_id}.db"
        db = open_database(self.database)
        migrate_all(db)
        db.conn.close()
        handler = gallery_feed_handler(self.database, agent_id, lambda: MODEL_SHA)
        self.publisher = MqttPublisher(
            MqttConfig(host=broker.host, port=broker.port),
            agent_id=agent_id, database=self.database, inbound={"gallery": handler},
        )  # fmt: skip
        self.reader = sqlite3.connect(self.database, timeout=10)

    def applied(self) -> int:
        row = self.reader.execute("SELECT applied FROM feed_state").fetchone()
        return int(row[0]) if row else 0

    def name_of(self, individual_id: str) -> str | None:
        row = self.reader.execute(
            "SELECT name FROM individuals WHERE id = ?", [individual_id]
        ).fetchone()
        return None if row is None else row[0]


def wait(condition: object, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the boxes did not get there in time")
        time.sleep(0.01)


def main() -> None:
    """Print catch-up time and the change-to-boxes latency."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000, help="changes a box is behind")
    parser.add_argument("--namings", type=int, default=20, help="names given, one at a time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
        base = Path(tmp)
        with running_broker(base / "broker", verbose=False) as broker:
            config = StationConfig.model_validate(
                {
                    "station": {"id": "bench", "database": f"sqlite:///{base / 'station.db'}"},
                    "brokers": [{"url": f"mqtt://{broker.host}:{broker.port}"}],
                }
            )
            station = Station(config)
            station.start()
            station.wait_connected(15)
            assert station.engine is not None
            started = time.monotonic()
            head = fill_feed(station.engine, args.changes)
            print(f"feed of {head} changes written in {time.monotonic() - started:.1f} s")
            boxes = [Box(base, agent_id, broker) for agent_id in ("boxa", "boxb")]
            try:
                start = time.monotonic()
                boxes[0].publisher.start()
                wait(lambda: boxes[0].applied() >= head)
                seconds = time.monotonic() - start
                print(
                    f"catch-up: a box {head} changes behind applied them all in {seconds:.1f} s "
                    f"({head / seconds:.0f} changes/s), from its publisher's start "
                    f"(fleet.round_s {config.fleet.round_s:g} s)"
                )
                boxes[1].publisher.start()
                wait(lambda: boxes[1].applied() >= head)
                latencies = []
                pause = np.random.default_rng(1)
                for n in range(args.namings):
                    time.sleep(1.0 + 2.0 * pause.random())  # a person acts now and then
                    name = f"Named {n}"
                    start = time.monotonic()
                    with station.engine.begin() as conn:
                        name_individual(conn, "unknown-field-0001", name, "bench")
                    wait(lambda name=name: all(b.name_of("unknown-field-0001") == name
                                               for b in boxes))  # fmt: skip
                    latencies.append(time.monotonic() - start)
                print(
                    f"a name given at the station reached both boxes in "
                    f"{statistics.median(latencies):.2f} s median, {max(latencies):.2f} s worst "
                    f"({args.namings} names, fleet.round_s {config.fleet.round_s:g} s)"
                )
            finally:
                for box in boxes:
                    box.publisher.stop()
                station.stop()


if __name__ == "__main__":
    main()
