"""Fleet delivery: how long the station takes to repair a gap of N events, and the chips'
throughput and disk at the station per 10^4 chips.

    .venv/bin/python bench/bench_fleet_delivery.py [--events 10000] [--chips 10000]

Real parts: a Mosquitto broker, the station (`Station`, SQLite), and a box's real
publisher (`MqttPublisher` with its receipt and resend handlers) over a box outbox.
Gap: N encounter events the box published and its broker acknowledged, then lost (the
rows are marked published, as after a broker's power cut); the station learns the box's
head from its stats, asks for the gap, and the box sends it again. Timed from the
publisher's start until the station holds every one. Chips: M chip messages (JPEG,
~10 kB each, with a 1280-d embedding) through the outbox into the station's media store;
chips/s and the station's disk (media folder and database) per 10^4 chips.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

import agent_bench_kit  # noqa: F401 (puts dev/ on the path)
from bearagent.decisions import Decision, DecisionRule, Outcome
from bearagent.fleet.receipts import ReceiptHandler, ResendHandler
from bearagent.matching.knn import Candidate
from bearagent.mqtt import MqttConfig, MqttPublisher, outbox
from bearagent.store import open_database, transaction
from bearagent.wire.channels import Channel
from bearagent.wire.media_payloads import ChipMedia, chip_payload
from bearagent.wire.payloads import (
    ChipRef,
    EncounterRef,
    ModelRef,
    Origin,
    Percentiles,
    SightingType,
    Stats,
    encounter_payload,
)
from bearid_dev.mosquitto import running_broker
from bearstation.config import StationConfig
from bearstation.fleet.sequences import stream_status
from bearstation.station import Station

MODEL = ModelRef("bench", "ab" * 32)
T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


def event(k: int) -> str:
    """The ``new`` event of encounter `k` at one camera."""
    when = T0 + timedelta(minutes=k)
    chip = ChipRef(f"site/cam01/c{k:06d}.jpg", when, "exif")
    rule = DecisionRule("best", 0.8, 0.5, "gallery")
    decision = Decision(
        Outcome.KNOWN, "bear-box-0001", "Otis", False, 0.9, 0.9, rule,
        (Candidate("bear-box-0001", "Otis", "known", 0.9),),
    )  # fmt: skip
    return encounter_payload(
        "sighting",
        SightingType.NEW,
        event_id=uuid.uuid4(),
        origin=Origin("box", "site", "cam01", chip),
        encounter=EncounterRef(f"enc-{k:06d}", 1, when, when),
        model=MODEL,
        decision=decision,
    )


def chip(k: int, rng: np.random.Generator) -> str:
    """A ~10 kB JPEG chip message with a 1280-d embedding."""
    img = (rng.random((128, 128, 3)) * 60 + np.linspace(60, 190, 128)[None, :, None]).astype(
        np.uint8
    )
    ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    data = jpeg.tobytes()
    media = ChipMedia(
        "box", f"site/cam01/m{k:06d}.jpg", hashlib.sha256(data).hexdigest(), "image/jpeg",
        data, "site", "cam01", T0 + timedelta(seconds=k), f"enc-{k // 5:06d}", None, None,
        MODEL, rng.normal(size=1280).astype(np.float32),
    )  # fmt: skip
    return chip_payload(media)


def fill(database: Path, payloads: list[tuple[Channel, str]], *, published: bool) -> int:
    """Put the messages in a box outbox; `published`: as if the broker had them (lost)."""
    db = open_database(database)
    outbox.ensure_schema(db)
    with transaction(db):
        ids = [outbox.enqueue(db, channel, text) for channel, text in payloads]
        if published:
            outbox.mark_published(db, ids)
    db.conn.close()
    return ids[-1]


def held_through(station: Station) -> int:
    assert station.engine is not None
    with station.engine.connect() as conn:
        return max((s.through for s in stream_status(conn) if s.agent_id == "box"), default=0)


def run(base: Path, payloads: list[tuple[Channel, str]], *, published: bool) -> tuple[float, Path]:
    """Seconds from the box publisher's start until the station holds every message."""
    database = base / "box.db"
    head = fill(database, payloads, published=published)
    with running_broker(base / "broker", verbose=False) as broker:
        config = StationConfig.model_validate(
            {
                "station": {"id": "bench", "database": f"sqlite:///{base / 'station.db'}"},
                "brokers": [{"url": f"mqtt://{broker.host}:{broker.port}"}],
                "fleet": {"round_s": 0.5, "resend_quiet_s": 0.5, "resend_every_s": 2.0},
            }
        )
        station = Station(config)
        station.start()
        station.wait_connected(15)
        publisher = MqttPublisher(
            MqttConfig(host=broker.host, port=broker.port, stats_interval_s=1.0),
            agent_id="box",
            database=database,
            stats_source=lambda: Stats(0, 0, 0, Percentiles()),
            inbound={"receipt": ReceiptHandler(), "resend": ResendHandler()},
        )
        start = time.monotonic()
        publisher.start()
        try:
            while held_through(station) < head:
                time.sleep(0.2)
            elapsed = time.monotonic() - start
        finally:
            publisher.stop()
            station.stop()
    return elapsed, base


def disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    """Print the gap repair time and the chips' figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events in the gap")
    parser.add_argument("--chips", type=int, default=10_000, help="chips sent")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        gap: list[tuple[Channel, str]] = [("sighting", event(k)) for k in range(args.events)]
        seconds, _ = run(Path(tmp) / "gap", gap, published=True)
        print(
            f"gap of {args.events} events (acknowledged by the broker, then lost): repaired in "
            f"{seconds:.1f} s ({args.events / seconds:.0f} events/s), from the box's start"
        )
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        rng = np.random.default_rng(0)
        chips: list[tuple[Channel, str]] = [("chip", chip(k, rng)) for k in range(args.chips)]
        wire = sum(len(text) for _, text in chips)
        seconds, base = run(Path(tmp) / "chips", chips, published=False)
        media = disk(base / "station-media")
        database = (base / "station.db").stat().st_size
        per = 10_000 / args.chips
        print(
            f"{args.chips} chips (JPEG ~{wire / args.chips / 1024 * 0.75:.0f} kB, 1280-d "
            f"embedding; {wire / args.chips / 1024:.0f} kB on the wire each): "
            f"{args.chips / seconds:.0f} chips/s into the station's media store"
        )
        print(
            f"station disk per 10^4 chips: media folder {media * per / 2**20:.0f} MiB, database "
            f"{database * per / 2**20:.0f} MiB (embeddings, rows)"
        )


if __name__ == "__main__":
    main()
