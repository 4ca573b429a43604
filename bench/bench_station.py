"""Benchmark the base station: sustained ingest through a real broker, and export time.

Ingest: a private Mosquitto, a publisher process playing two field boxes at full speed
(QoS 1; each encounter a `new` and an `end` listing its 4 chips, every tenth a stranger
with its `unknown` alert), and `bear-station`'s own `Station` in this process writing to
SQLite (a file, synchronous=FULL) and to a real PostgreSQL (fsync on) that the bench
starts. The station subscribes first, a backlog is queued for it, then it runs for
`--seconds`: the rate is the events it stored (committed, then acknowledged) per second
over that window. If the publisher could not stay ahead (the backlog ran dry), the
figure is a lower bound and the output says so.

Export: `--sightings` chips (in encounters of 4) stored straight through the ingest code,
then `export camtrap-dp`, `export capture-history` and `report` are timed on each
database.

    .venv/bin/python bench/bench_station.py [--seconds 60] [--sightings 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "dev"), str(REPO / "tests")]

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402

from bearagent.decisions import Outcome  # noqa: E402
from bearid_dev.mosquitto import Mosquitto, require_mosquitto  # noqa: E402
from bearstation.config import ExportConfig, StationConfig  # noqa: E402
from bearstation.exports.camtrap_dp import export_camtrap_dp  # noqa: E402
from bearstation.exports.capture_history import export_capture_history  # noqa: E402
from bearstation.report import write_report  # noqa: E402
from bearstation.station import Station  # noqa: E402
from bearstation.tables import boxes, cameras, encounters, events, individuals, sightings  # noqa: E402
from support.station_payloads import T0, FakeBox, Message  # noqa: E402
from support.station_postgres import Postgres, find_bindir  # noqa: E402
from support.station_world import fresh_engine  # noqa: E402

CAMERAS = ("cam01", "cam02", "cam03", "cam04")
AGENTS = ("den-01", "den-02")


def fleet_events(count: int, start: int = 0) -> list[Message]:
    """`count` encounters' events from two boxes (new + end, strangers with an alert)."""
    boxes = (FakeBox("den-01"), FakeBox("den-02"))
    out: list[Message] = []
    for n in range(start, start + count):
        box = boxes[n % 2]
        when = T0 + timedelta(minutes=7 * n)
        camera = CAMERAS[n % len(CAMERAS)]
        if n % 10 == 9:
            out += box.encounter(camera, when, individual=None, outcome=Outcome.UNKNOWN, chips=4)
        else:
            bear = f"bear-{n % 150:04d}"
            out += box.encounter(camera, when, individual=bear, name=f"Bear {n % 150}", chips=4)
    return out


def queue_backlog(broker: Mosquitto, count: int) -> float:
    """Publish `count` encounters' worth of events (QoS 1, every PUBACK awaited); seconds."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-boxes")
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    t = time.perf_counter()
    try:
        for start in range(0, count, 500):
            infos = [
                client.publish(topic, payload, qos=1)
                for topic, payload in fleet_events(min(500, count - start), start)
            ]
            for info in infos:
                info.wait_for_publish(60)
    finally:
        client.disconnect()
        client.loop_stop()
    return time.perf_counter() - t


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def bench_ingest(
    name: str, url: str, folder: Path, seconds: float, encounters_queued: int
) -> dict[str, Any]:
    """Events per second the station stores from a queued backlog, over `seconds`."""
    broker = Mosquitto(require_mosquitto(), folder / f"broker-{name}", verbose=False)
    with broker.config_path.open("a") as f:
        f.write("max_queued_messages 0\n")  # the backlog must not be dropped
    broker.start()
    config = StationConfig.model_validate(
        {
            "station": {"id": f"bench-{name}", "database": url, "log_level": "WARNING"},
            "brokers": [{"url": f"mqtt://{broker.host}:{broker.port}"}],
        }
    )
    engine = fresh_engine(url)
    try:
        station = Station(config)
        station.start()  # subscribe once: the broker queues for the station's session
        station.wait_connected(10)
        station.stop()
        published = queue_backlog(broker, encounters_queued)
        total = len(fleet_events(encounters_queued))
        station = Station(config)
        station.start()
        try:
            time.sleep(2)  # warm up: connect, first batches
            t0, n0 = time.monotonic(), stored(engine)
            deadline = t0 + seconds
            while time.monotonic() < deadline and stored(engine) < total:
                time.sleep(0.5)
            t1, n1 = time.monotonic(), stored(engine)
        finally:
            station.stop()
    finally:
        broker.stop()
        engine.dispose()
    return {
        "rate": (n1 - n0) / (t1 - t0),
        "events": n1 - n0,
        "window": t1 - t0,
        "drained": n1 >= total,
        "queued": total,
        "publish_s": published,
    }


def fill(url: str, chips_wanted: int) -> Engine:
    """A database with `chips_wanted` sightings in encounters of 4, written in bulk (the
    export reads tables; how the rows got there does not matter to it)."""
    engine = fresh_engine(url)
    now = T0
    n_enc = chips_wanted // 4
    with engine.begin() as conn:
        conn.execute(
            boxes.insert(),
            [{"agent_id": a, "first_seen_at": now, "last_seen_at": now} for a in AGENTS],
        )
        cams = [(a, "kuhmo", c) for a in AGENTS for c in CAMERAS]
        conn.execute(
            cameras.insert(),
            [
                {
                    "agent_id": a,
                    "site": s,
                    "camera": c,
                    "first_captured_at": T0,
                    "last_captured_at": T0 + timedelta(minutes=7 * n_enc),
                    "latitude": 64.0 + i / 100,
                    "longitude": 29.5,
                }
                for i, (a, s, c) in enumerate(cams)
            ],
        )
        ids = {(r.agent_id, r.camera): r.id for r in conn.execute(select(cameras))}
        conn.execute(
            individuals.insert(),
            [
                {
                    "agent_id": a,
                    "individual_id": f"bear-{k:04d}",
                    "name": f"Bear {k}",
                    "provisional": False,
                }
                for a in AGENTS
                for k in range(150)
            ],
        )
        inds = {(r.agent_id, r.individual_id): r.id for r in conn.execute(select(individuals))}
        rows = []
        for n in range(n_enc):
            agent, when = AGENTS[n % 2], T0 + timedelta(minutes=7 * n)
            rows.append(
                {
                    "agent_id": agent,
                    "encounter_id": f"{agent}-enc-{n:06d}",
                    "camera_id": ids[(agent, CAMERAS[n % len(CAMERAS)])],
                    "started_at": when,
                    "started_offset_min": 180,
                    "last_captured_at": when + timedelta(seconds=12),
                    "chip_count": 4,
                    "state": "ended",
                    "status": "known",
                    "individual_ref": inds[(agent, f"bear-{n % 150:04d}")],
                    "score_name": "margin",
                    "score_value": 0.4,
                    "similarity": 0.8,
                    "known_threshold": 0.3,
                    "unknown_threshold": 0.1,
                    "threshold_source": "gallery",
                    "model_name": "bench",
                    "model_sha256": "ab" * 32,
                    "candidates": [],
                    "processed_at": when,
                    "event_rank": 2,
                    "decided_by": "machine",
                }
            )
        conn.execute(encounters.insert(), rows)
        refs = [r.id for r in conn.execute(select(encounters.c.id).order_by(encounters.c.id))]
        conn.execute(
            sightings.insert(),
            [
                {
                    "agent_id": AGENTS[n % 2],
                    "file": f"kuhmo/cam/{n:06d}_{k}.jpg",
                    "encounter_ref": ref,
                    "captured_at": T0 + timedelta(minutes=7 * n, seconds=4 * k),
                    "captured_offset_min": 180,
                    "time_source": "exif",
                    "rejected": False,
                }
                for n, ref in enumerate(refs)
                for k in range(4)
            ],
        )
    return engine


def bench_export(engine: Engine, out: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    t = time.perf_counter()
    export_camtrap_dp(engine, out / "camtrap", ExportConfig())
    times["camtrap-dp"] = time.perf_counter() - t
    t = time.perf_counter()
    export_capture_history(engine, out / "history.csv", "day")
    times["capture-history"] = time.perf_counter() - t
    t = time.perf_counter()
    write_report(engine, out / "report")
    times["report"] = time.perf_counter() - t
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="ingest window per database")
    parser.add_argument("--sightings", type=int, default=100_000, help="chips for the export")
    parser.add_argument(
        "--backlog", type=int, default=30_000, help="encounters queued for the ingest (x2.1 events)"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-station-") as tmp:
        folder = Path(tmp)
        server = None
        if not args.no_postgres:
            bindir = find_bindir()
            if bindir is None:
                sys.exit("PostgreSQL not found: tools/setup.sh installs it, or pass --no-postgres")
            server = Postgres(bindir, fsync=True).start()
        try:
            urls = {"sqlite": f"sqlite:///{folder / 'ingest.db'}"}
            if server is not None:
                urls["postgresql"] = server.create_database("ingest")
            print(f"ingest through a real Mosquitto, {args.seconds:.0f} s per database:")
            for name, url in urls.items():
                r = bench_ingest(name, url, folder, args.seconds, args.backlog)
                note = (
                    f"drained all {r['queued']} in {r['window']:.0f} s: a lower bound"
                    if r["drained"]
                    else f"{r['window']:.0f} s window, backlog never ran dry"
                )
                print(
                    f"  {name:10s} {r['rate']:7.0f} events/s ({r['events']} events; {note}; "
                    f"the backlog took {r['publish_s']:.0f} s to publish)"
                )
            print(f"export of {args.sightings} sightings (chips):")
            targets = {"sqlite": f"sqlite:///{folder / 'export.db'}"}
            if server is not None:
                targets["postgresql"] = server.create_database("export")
            for name, url in targets.items():
                engine = fill(url, args.sightings)
                with engine.connect() as conn:
                    chips = conn.execute(select(func.count()).select_from(sightings)).scalar_one()
                times = bench_export(engine, folder / f"out-{name}")
                engine.dispose()
                shown = ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
                print(f"  {name:10s} {chips} sightings: {shown}")
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
