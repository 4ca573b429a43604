"""Running a station in the test process, and reading back what it stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, func, select

from bearstation.config import StationConfig
from bearstation.database import open_engine
from bearstation.station import Station
from bearstation.tables import encounters, events, quarantine
from support.broker import Mosquitto
from support.station_payloads import wait_until


def station_config(db_url: str, *brokers: Mosquitto, **intake: Any) -> StationConfig:
    """A station on `db_url` subscribed to `brokers` (plain TCP, anonymous)."""
    return StationConfig.model_validate(
        {
            "station": {"id": "test", "database": db_url},
            "brokers": [{"url": f"mqtt://{b.host}:{b.port}"} for b in brokers],
            "intake": {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "retry_s": 0.5, **intake},
        }
    )


@contextmanager
def running_station(config: StationConfig) -> Iterator[Station]:
    """A started station, connected to every broker; stopped on exit."""
    station = Station(config)
    station.start()
    try:
        assert station.wait_connected(15), "the station did not connect to its brokers"
        yield station
    finally:
        station.stop()


def count(engine: Engine, table: Any, *where: Any) -> int:
    """Rows of `table` matching `where`."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def wait_for_events(db_url: str, n: int, timeout: float = 30.0) -> Engine:
    """Wait until the database holds `n` events; return an engine on it."""
    engine = open_engine(db_url)
    wait_until(lambda: count(engine, events) >= n, timeout, f"{n} stored events")
    return engine


def encounter_rows(engine: Engine) -> list[Any]:
    """Every encounter, by agent and encounter id."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(encounters).order_by(encounters.c.agent_id, encounters.c.encounter_id)
            )
        )


def quarantine_reasons(engine: Engine) -> list[str]:
    """The quarantine's reasons, oldest first."""
    with engine.connect() as conn:
        return list(conn.execute(select(quarantine.c.reason).order_by(quarantine.c.id)).scalars())


def fresh_engine(db_url: str) -> Engine:
    """An engine on `db_url`, created at the newest schema revision."""
    from bearstation.migrations import ensure_current

    engine = open_engine(db_url)
    ensure_current(engine)
    return engine


def ingest(engine: Engine, messages: list[tuple[str, str]] | list[tuple[str, bytes]]) -> list[str]:
    """Store `messages` (topic, payload) the way the writer does, without a broker."""
    from datetime import UTC, datetime

    from bearstation.ingest.batch import write_batch
    from bearstation.messages import Incoming

    now = datetime.now(UTC)
    batch = [
        Incoming(
            "test:1883", topic, payload if isinstance(payload, bytes) else payload.encode(), now
        )
        for topic, payload in messages
    ]
    return list(write_batch(engine, batch, "bearid/"))
