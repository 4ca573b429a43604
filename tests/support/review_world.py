"""A real agent database for the review tests: the agent itself decides a known bear's
visit (known), a stranger's (review: the test model scores it ~0.88 with the review band
from 0.85) and a newcomer's (unknown: ~0.69, a new provisional individual)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.store import open_database
from beartrain.synthetic import ChipRecord
from support.agent_world import World, clean, drop, encounters_of, make_world

T0 = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)
#: Thresholds that put the test model's stranger in review and its newcomer in unknown.
DECISION = {"known_threshold": 0.95, "unknown_threshold": 0.85}
Encounter = list[tuple[ChipRecord, np.ndarray]]


def newcomer(first_index: int = 21) -> list[Encounter]:
    """Encounters of a bear the test model scores far below the gallery (~0.69)."""
    return next(
        iter(encounters_of(clean(individuals=1, encounters=2, first_index=first_index)).values())
    )


def settings(world: World, database: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """An agent configuration for `world` with the review band, as a dict."""
    base: dict[str, Any] = {
        "agent": {
            "id": "box1",
            "database": str(database),
            "timezone": "UTC",
            "publisher": "stdout",
        },
        "watch": {"roots": [str(world.traps)], "stable_after_s": 0.3},
        "runtime": {"model": str(world.model)},
        "encounter": {"gap_s": 60, "end_after_s": 1.0},
        "decision": dict(DECISION),
        "mqtt": {"stats_interval_s": 3600},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return base


def write_encounter(world: World, camera: str, chips: Encounter, start: datetime, tag: str) -> None:
    """Chips of one visit, a second apart, renamed into place like an upload."""
    dated = []
    for i, (record, pixels) in enumerate(chips):
        when = start + timedelta(seconds=i)
        name = f"{camera}_{when:%Y%m%d-%H%M%S}_{tag}{i:02d}.jpg"
        dated.append((replace(record, path=f"x/{name}", captured_at=when), pixels))
    drop(world, camera, dated)


def ended(database: Path) -> int:
    """Encounters the agent has ended."""
    with sqlite3.connect(database) as db:
        try:
            return int(db.execute("SELECT count(*) FROM encounters WHERE ended = 1").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def wait_ended(database: Path, count: int, timeout: float = 60.0) -> None:
    """Until the agent has ended `count` encounters."""
    deadline = time.monotonic() + timeout
    while ended(database) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {ended(database)} of {count} encounters ended")
        time.sleep(0.1)


@dataclass
class ReviewWorld:
    """The world, the agent's database after three visits, and which encounter is which."""

    world: World
    database: Path
    known: str  # encounter ids
    review: str
    unknown: str
    known_bear: str  # the known visit's individual name
    provisional: str  # the unknown visit's new provisional id

    def config(self, database: Path | None = None, **sections: dict[str, Any]) -> AgentConfig:
        """An `AgentConfig` on this world (on a copy of the database, when given)."""
        return AgentConfig.model_validate(
            settings(self.world, database or self.database, **sections)
        )


def build(tmp_path: Path) -> ReviewWorld:
    """Run the real agent on three visits (known, stranger, newcomer) and stop it."""
    world = make_world(tmp_path)
    database = world.database
    agent = Agent(AgentConfig.model_validate(settings(world, database)))
    agent.start()
    try:
        known_bear = sorted(world.unseen)[0]
        write_encounter(world, "cam01", world.unseen[known_bear], T0, "k")
        write_encounter(world, "cam02", world.stranger[0], T0 + timedelta(hours=1), "s")
        write_encounter(world, "cam03", newcomer()[0], T0 + timedelta(hours=2), "n")
        wait_ended(database, 3)
    finally:
        agent.stop()
    db = open_database(database)
    rows = {str(r[0]): str(r[1]) for r in db.execute("SELECT camera, id FROM encounters")}
    provisional = db.execute("SELECT id FROM individuals WHERE kind = 'provisional'").fetchone()
    statuses = dict(db.execute("SELECT camera, status FROM encounters").fetchall())
    db.conn.close()
    assert statuses == {"cam01": "known", "cam02": "review", "cam03": "unknown"}, statuses
    return ReviewWorld(world, database, rows["cam01"], rows["cam02"], rows["cam03"], known_bear,
                       str(provisional[0]))  # fmt: skip


def copy_database(source: Path, target: Path) -> Path:
    """A copy of the agent's database (SQLite's backup: consistent, WAL included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target
