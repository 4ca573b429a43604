"""Nothing lost end to end: every box message carries its stream's sequence number, the
station confirms what it holds and asks for gaps, the box keeps what it published until
then. With real Mosquitto brokers, a real agent and the real station:

- the station's broker loses power (SIGKILL, no autosave) while it queues the box's
  events for the stopped station: the station learns the box's head from its stats and
  gets every event again;
- a bridge's queue overflows (a small ``max_queued_messages``) while the station's broker
  is down: the dropped events are asked for and arrive.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from sqlalchemy import select

from bearstation.cli import main
from bearstation.fleet.sequences import stream_status
from bearstation.tables import chip_media, encounters
from beartrain.synthetic import ChipRecord
from support.fleet import Box, Fleet, wait

T0 = datetime(2026, 7, 1, 5, 0, tzinfo=UTC)


Chips = list[tuple[ChipRecord, np.ndarray]]


def visits(box: Box, n: int, start_hour: int = 0) -> list[tuple[str, Chips]]:
    """`n` visits of the box's known bears, an hour apart, each on a camera of its own
    (chips with sensor noise of their own, so no two are the same file)."""
    bears = list(box.world.unseen.values())
    out = []
    for k in range(n):
        chips: Chips = []
        for j, (record, pixels) in enumerate(bears[k % len(bears)][:3]):
            when = T0 + timedelta(hours=start_hour + k, seconds=10 * j)
            noise = np.random.default_rng([start_hour, k, j]).integers(-3, 4, pixels.shape)
            shot = np.clip(pixels.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            name = f"{box.agent_id}_{when:%Y%m%d-%H%M%S}_{k:03d}{j}.jpg"
            chips.append((ChipRecord(f"x/{name}", record.individual, "c", when, "e", j), shot))
        out.append((f"cam{start_hour + k:02d}", chips))
    return out


def box_encounters(box: Box) -> dict[str, tuple[int, int]]:
    """The box's ended encounters: id -> (chip count, ended)."""
    with sqlite3.connect(box.database) as db:
        rows = db.execute("SELECT id, chip_count, ended FROM encounters").fetchall()
    return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}


def box_head(box: Box) -> int:
    with sqlite3.connect(box.database) as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    return int(row[0]) if row else 0


def kept(box: Box) -> int:
    with sqlite3.connect(box.database) as db:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def station_encounters(fleet: Fleet, agent_id: str) -> dict[str, tuple[int, int]]:
    with fleet.engine().connect() as conn:
        rows = conn.execute(
            select(encounters.c.encounter_id, encounters.c.chip_count, encounters.c.state).where(
                encounters.c.agent_id == agent_id
            )
        ).all()
    return {r.encounter_id: (r.chip_count, int(r.state != "open")) for r in rows}


def station_holds_everything(fleet: Fleet, box: Box) -> bool:
    with fleet.engine().connect() as conn:
        streams = [s for s in stream_status(conn) if s.agent_id == box.agent_id and s.current]
    head = box_head(box)
    return bool(streams) and streams[0].through == head > 0 and streams[0].lost == 0


def settle_box(box: Box, n_chips: int) -> None:
    """Until the box recorded `n_chips` and ended every encounter."""

    def done() -> bool:
        with sqlite3.connect(box.database) as db:
            files = db.execute("SELECT count(*) FROM files").fetchone()[0]
            still = db.execute("SELECT count(*) FROM encounters WHERE ended = 0").fetchone()[0]
        return bool(files >= n_chips and still == 0)

    wait(done, f"{box.agent_id} to record {n_chips} chips and end its encounters")


def test_a_broker_losing_power_loses_no_event_at_the_station(
    tmp_path: Path, mosquitto_binary: str
) -> None:
    with Fleet(tmp_path, mosquitto_binary, boxes=("boxa",)) as fleet:
        box = fleet.boxes["boxa"]
        first = visits(box, 2)
        for camera, chips in first:
            fleet.drop("boxa", camera, chips)
        wait(lambda: station_holds_everything(fleet, box), "the first visits at the station")
        # The station stops; its persistent session makes the broker queue the box's events
        # for it, in memory. Then the broker loses power before any autosave.
        fleet.stop_station()
        later = visits(box, 4, start_hour=10)
        for camera, chips in later:
            fleet.drop("boxa", camera, chips)
        settle_box(box, 3 * 6)
        wait(lambda: kept(box) > 0 and box_head(box) > 0, "the box to publish")
        fleet.station_broker.kill()
        fleet.station_broker.start()
        fleet.start_station()
        wait(lambda: station_holds_everything(fleet, box), "every message of boxa", 90)
        assert station_encounters(fleet, "boxa") == box_encounters(box)
        # Receipts: the box drops what the station confirmed.
        wait(lambda: kept(box) == 0, "the box's kept messages to be confirmed")
        with fleet.engine().connect() as conn:
            stored = conn.execute(
                select(chip_media.c.file).where(chip_media.c.agent_id == "boxa")
            ).all()
        assert len(stored) == 3 * 6  # every chip's bytes too
        shown = CliRunner().invoke(main, ["status", "--db", fleet.db_url]).output
        head = box_head(box)
        assert f"    messages: held through #{head} of #{head}; no gap\n" in shown


def test_an_overflowing_bridge_queue_loses_no_event_at_the_station(
    tmp_path: Path, mosquitto_binary: str
) -> None:
    with Fleet(tmp_path, mosquitto_binary, boxes=("boxa",), bridged=True, bridge_queue=5) as fleet:
        box = fleet.boxes["boxa"]
        fleet.drop("boxa", *visits(box, 1)[0])
        wait(lambda: station_holds_everything(fleet, box), "the first visit at the station")
        fleet.station_broker.stop()  # the link is down: the bridge queues 5, drops the rest
        for camera, chips in visits(box, 5, start_hour=10):
            fleet.drop("boxa", camera, chips)
        settle_box(box, 3 * 6)
        fleet.station_broker.start()
        wait(lambda: station_holds_everything(fleet, box), "every message of boxa", 90)
        assert station_encounters(fleet, "boxa") == box_encounters(box)
        wait(lambda: kept(box) == 0, "the box's kept messages to be confirmed")
