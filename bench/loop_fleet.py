"""The field of bench_loop: a real Mosquitto broker, the real station
(`bearstation.station.Station`, SQLite) and one real box (`bearagent.app.Agent`) in this
process, and what the bench reads of them.

The box is configured as a field box would be, with three choices made for a run that
must finish: encounters end after 2 s of wall-clock silence (the capture-time gap stays
60 s, bear-train's), every chip of an encounter goes to the station
(`upload.chips_per_encounter` 10000 instead of 20, so the training set holds whole
encounters), and the station runs its fleet round every 0.5 s.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

# The development harness is not installed: the benches find it beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dev"))

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearid_dev.mosquitto import running_broker
from bearstation.config import StationConfig
from bearstation.database import open_engine
from bearstation.media.store import MediaStore
from bearstation.station import Station
from bearstation.tables import box_models, chip_media, encounters

AGENT_ID = "boxb"


class Timeout(RuntimeError):
    """Something the loop waits for did not happen in time."""


def wait(condition: Callable[[], bool], what: str, timeout: float, every: float = 0.5) -> float:
    """Until `condition()` holds; seconds waited (`Timeout` naming `what` after `timeout`)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise Timeout(f"no {what} after {timeout:.0f} s")
        time.sleep(every)
    return time.monotonic() - start


def box_config(database: Path, traps: Path, model: Path, port: int | None) -> AgentConfig:
    """The box's configuration; `port` None: a box without a broker (events to stdout)."""
    data: dict[str, Any] = {
        "agent": {"id": AGENT_ID, "database": str(database), "timezone": "UTC",
                  "publisher": "stdout" if port is None else "mqtt", "compact_memory": False},
        "watch": {"roots": [str(traps)], "stable_after_s": 0.3},
        "runtime": {"model": str(model), "intra_op_threads": 2},
        "encounter": {"end_after_s": 2.0},
        "pipeline": {"reorder_window_s": 0.2},
        "upload": {"chips_per_encounter": 10_000},
    }  # fmt: skip
    if port is not None:
        data["mqtt"] = {"host": "127.0.0.1", "port": port, "stats_interval_s": 2.0,
                        "reconnect_min_s": 0.2, "reconnect_max_s": 2.0}  # fmt: skip
    return AgentConfig.model_validate(data)


def station_config(database: Path, port: int) -> StationConfig:
    """The station's configuration (quick fleet rounds and desk resends)."""
    return StationConfig.model_validate({
        "station": {"id": "hq", "database": f"sqlite:///{database}"},
        "brokers": [{"url": f"mqtt://127.0.0.1:{port}"}],
        "intake": {"reconnect_min_s": 0.2, "reconnect_max_s": 2.0, "retry_s": 0.5},
        "fleet": {"round_s": 0.5, "resend_quiet_s": 2.0, "resend_every_s": 4.0},
        "desk": {"resend_s": 10.0},
    })  # fmt: skip


def snapshot(database: Path, target: Path) -> Path:
    """A consistent copy of a live SQLite database (with what is still in its WAL)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database, timeout=30) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    source.close()
    copy.close()
    return target


def box_query(database: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of a query on a box's database (its own short connection)."""
    db = sqlite3.connect(database, timeout=30)
    try:
        return [tuple(r) for r in db.execute(sql, args).fetchall()]
    finally:
        db.close()


class Field:
    """Broker, station and box, started in order and stopped in reverse."""

    def __init__(self, folder: Path, database: Path, traps: Path, model: Path) -> None:
        self.folder, self.database, self.traps, self.model = folder, database, traps, model
        self.station_db = folder / "station.db"
        self.station: Station | None = None
        self.agent: Agent | None = None
        self._stack = ExitStack()
        self._engine: Engine | None = None

    def __enter__(self) -> Field:
        broker = self._stack.enter_context(running_broker(self.folder / "broker", verbose=False))
        self.station = Station(station_config(self.station_db, broker.port))
        self.station.start()
        self._stack.callback(self.station.stop)
        if not self.station.wait_connected(30):
            raise Timeout("the station did not connect to its broker in 30 s")
        self.agent = Agent(box_config(self.database, self.traps, self.model, broker.port))
        self.agent.start()
        self._stack.callback(self.agent.stop)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._stack.close()

    @property
    def engine(self) -> Engine:
        """An engine on the station's database (the desk's and the exports' view)."""
        if self._engine is None:
            self._engine = open_engine(f"sqlite:///{self.station_db}")
        return self._engine

    def media(self) -> MediaStore:
        """The station's media store."""
        assert self.station is not None
        cfg = self.station.config
        return MediaStore.from_config(cfg.media, cfg.station.database)

    def recorded(self, files: set[str]) -> bool:
        """Whether the box recorded a sighting of every one of `files`."""
        rows = box_query(self.database, "SELECT file FROM sightings")
        return files <= {str(r[0]) for r in rows}

    def settled(self) -> bool:
        """Whether every encounter of the box has ended, the station holds each as ended or
        merged, and every chip the box queued for it is in its media store."""
        open_, total = box_query(
            self.database, "SELECT coalesce(sum(ended = 0), 0), count(*) FROM encounters"
        )[0]
        queued = box_query(self.database, "SELECT count(*) FROM media_queue")[0][0]
        with self.engine.connect() as conn:
            held = conn.execute(
                select(func.count()).select_from(encounters).where(
                    encounters.c.agent_id == AGENT_ID, encounters.c.state != "open")
            ).scalar_one()  # fmt: skip
            chips = conn.execute(
                select(func.count()).select_from(chip_media).where(
                    chip_media.c.agent_id == AGENT_ID)
            ).scalar_one()  # fmt: skip
        sightings = box_query(self.database, "SELECT count(*) FROM sightings")[0][0]
        return bool(open_ == 0 and held == total and queued == 0 and chips >= sightings)

    def model_at_station(self) -> str | None:
        """The SHA-256 of the model the station says the box runs."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(box_models.c.sha256).where(box_models.c.agent_id == AGENT_ID)
            ).first()
        return None if row is None else row[0]
