"""A fleet in one test: boxes (real `Agent`s with their own database and watch folder, a
gallery of three known bears each), a station (the real `Station`), and real Mosquitto
brokers — one shared, or one per box bridged to the station's.

    with Fleet(tmp_path, mosquitto_binary, boxes=("boxa", "boxb")) as fleet:
        fleet.drop("boxa", "cam01", chips)
        fleet.wait(lambda: ..., "what we wait for")
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearstation.config import StationConfig
from bearstation.database import open_engine
from bearstation.station import Station
from beartrain.synthetic import ChipRecord
from support.agent_world import World, drop, make_world
from support.broker import Mosquitto


def bridge_to(station: Mosquitto, agent_id: str, *, queue: int = 1000) -> str:
    """Mosquitto configuration lines that bridge a box's broker to the station's."""
    return f"""
max_queued_messages {queue}
connection bearid-station-{agent_id}
address {station.host}:{station.port}
bridge_protocol_version mqttv50
remote_clientid bearid-bridge-{agent_id}
topic bearid/{agent_id}/# out 1
topic bearid-station/{agent_id}/# in 1
cleansession false
local_cleansession false
try_private false
restart_timeout 1 2
"""


@dataclass
class Box:
    """One field box: its agent's config, database and watch folder, and broker."""

    agent_id: str
    world: World
    broker: Mosquitto
    agent: Agent | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        """The box's SQLite database."""
        return self.world.database

    def config(self) -> AgentConfig:
        """The agent's configuration (quick to end encounters and send stats)."""
        base: dict[str, Any] = {
            "agent": {"id": self.agent_id, "database": str(self.database), "timezone": "UTC"},
            "watch": {"roots": [str(self.world.traps)], "stable_after_s": 0.3},
            "runtime": {"model": str(self.world.model)},
            "encounter": {"gap_s": 60, "end_after_s": 1.0},
            "pipeline": {"reorder_window_s": 0.2},
            "mqtt": {
                "host": self.broker.host,
                "port": self.broker.port,
                "stats_interval_s": 1.0,
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 1.0,
            },
        }
        for section, values in self.overrides.items():
            base[section] = {**base.get(section, {}), **values}
        return AgentConfig.model_validate(base)

    def start(self) -> None:
        """Start the agent (a no-op when it runs)."""
        if self.agent is None:
            self.agent = Agent(self.config())
            self.agent.start()

    def stop(self) -> None:
        """Stop the agent (it ends its open encounters)."""
        if self.agent is not None:
            self.agent.stop()
            self.agent = None


class Fleet:
    """Boxes and a station on real brokers; everything stopped on exit."""

    def __init__(
        self,
        tmp_path: Path,
        mosquitto_binary: str,
        boxes: tuple[str, ...] = ("boxa", "boxb"),
        *,
        bridged: bool = False,
        bridge_queue: int = 1000,
        station: dict[str, Any] | None = None,
        box_config: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.tmp = tmp_path
        self.station_broker = Mosquitto(mosquitto_binary, tmp_path / "station-broker")
        self.boxes: dict[str, Box] = {}
        (tmp_path / "template").mkdir(parents=True, exist_ok=True)
        template = make_world(tmp_path / "template")
        for agent_id in boxes:
            broker = self.station_broker
            if bridged:
                extra = bridge_to(self.station_broker, agent_id, queue=bridge_queue)
                broker = Mosquitto(mosquitto_binary, tmp_path / f"{agent_id}-broker", extra=extra)
            self.boxes[agent_id] = Box(
                agent_id, _copy_world(template, tmp_path / agent_id), broker,
                overrides=dict(box_config or {}),
            )  # fmt: skip
        self.db_url = f"sqlite:///{tmp_path / 'station.db'}"
        self._station_overrides = station or {}
        self.station: Station | None = None
        self._stack = ExitStack()

    def __enter__(self) -> Fleet:
        self.station_broker.start()
        self._stack.callback(self.station_broker.stop)
        for box in self.boxes.values():
            if box.broker is not self.station_broker:
                box.broker.start()
                self._stack.callback(box.broker.stop)
        self.start_station()
        self._stack.callback(self.stop_station)
        for box in self.boxes.values():
            box.start()
            self._stack.callback(box.stop)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def station_config(self) -> StationConfig:
        """The station's configuration (quick rounds and resend requests)."""
        base: dict[str, Any] = {
            "station": {"id": "hq", "database": self.db_url},
            "brokers": [{"url": f"mqtt://{self.station_broker.host}:{self.station_broker.port}"}],
            "intake": {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "retry_s": 0.5},
            "fleet": {"round_s": 0.5, "resend_quiet_s": 1.0, "resend_every_s": 2.0},
        }
        for section, values in self._station_overrides.items():
            base[section] = {**base.get(section, {}), **values}
        return StationConfig.model_validate(base)

    def start_station(self) -> None:
        """Start the station (connected to its broker before this returns)."""
        if self.station is None:
            self.station = Station(self.station_config())
            self.station.start()
            assert self.station.wait_connected(15), "the station did not connect"

    def stop_station(self) -> None:
        """Stop the station."""
        if self.station is not None:
            self.station.stop()
            self.station = None

    def engine(self) -> Engine:
        """An engine on the station's database."""
        return open_engine(self.db_url)

    def drop(self, agent_id: str, camera: str, chips: list[tuple[ChipRecord, np.ndarray]]) -> None:
        """Chips into a box's watch folder, written as a copy tool writes them."""
        drop(self.boxes[agent_id].world, camera, chips)


def _copy_world(template: World, folder: Path) -> World:
    """A box of its own: the template's model and a copy of its gallery database."""
    database = folder / "state" / "bearagent.db"
    database.parent.mkdir(parents=True)
    # SQLite's backup, not a file copy: the template's last writes may still be in its WAL.
    with sqlite3.connect(template.database) as source, sqlite3.connect(database) as copy:
        source.backup(copy)
    traps = folder / "traps"
    (traps / "north").mkdir(parents=True)
    return World(template.model, database, traps, template.unseen, template.stranger)


def wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Until `condition()` holds; an AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


@contextmanager
def fleet_of(tmp_path: Path, mosquitto_binary: str, **kwargs: Any) -> Iterator[Fleet]:
    """`Fleet` as a context manager function."""
    with Fleet(tmp_path, mosquitto_binary, **kwargs) as fleet:
        yield fleet
