"""End to end: two real `bearagent` agents (agent ids north and south, each with its own
gallery of the same three bears) publish to one broker; one station collects. Every event
is valid (nothing quarantined), the shared bears are one individual across the fleet by
name, and each box's stranger stays its own provisional individual until linked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearstation.identities import fleet_bears, link
from bearstation.tables import encounters, individuals
from support.agent_world import World, drop, make_world
from support.broker import Mosquitto
from support.station_payloads import wait_until
from support.station_world import fresh_engine as open_station_db
from support.station_world import quarantine_reasons, running_station, station_config


def agent_config(world: World, broker: Mosquitto, agent_id: str) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "agent": {"id": agent_id, "database": str(world.database), "timezone": "UTC"},
            "watch": {"roots": [str(world.traps)], "stable_after_s": 0.3},
            "runtime": {"model": str(world.model)},
            "encounter": {"gap_s": 60, "end_after_s": 1.0},
            "mqtt": {"host": broker.host, "port": broker.port, "stats_interval_s": 3600},
        }
    )


@pytest.fixture
def agents(broker: Mosquitto, tmp_path: Path) -> Iterator[dict[str, tuple[Agent, World]]]:
    running: dict[str, tuple[Agent, World]] = {}
    try:
        for agent_id in ("north", "south"):
            (tmp_path / agent_id).mkdir()
            world = make_world(tmp_path / agent_id)
            agent = Agent(agent_config(world, broker, agent_id))
            agent.start()
            running[agent_id] = (agent, world)
        yield running
    finally:
        for agent, _world in running.values():
            agent.stop()


def test_two_agents_one_station(
    broker: Mosquitto, agents: dict[str, tuple[Agent, World]], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'station.db'}"
    engine = open_station_db(db)
    with running_station(station_config(db, broker)):
        for _agent, world in agents.values():
            chips = next(iter(world.unseen.values()))
            drop(world, "cam01", chips)
            drop(world, "cam02", world.stranger[0])

        def ended() -> int:
            with engine.connect() as conn:
                rows = conn.execute(select(encounters.c.state)).scalars().all()
            return sum(1 for state in rows if state == "ended")

        wait_until(lambda: ended() >= 4, timeout=90, what="both boxes' encounters to end")
    assert quarantine_reasons(engine) == []
    with engine.connect() as conn:
        rows = conn.execute(select(individuals)).all()
        bears = fleet_bears(conn)
    by_box = {(r.agent_id, r.individual_id): r for r in rows}
    provisional = sorted(k for k, r in by_box.items() if r.provisional)
    assert provisional == [("north", "unknown-north-0001"), ("south", "unknown-south-0001")]
    named = {bears[r.id].label for r in rows if not r.provisional}
    assert len(named) == 1, f"the same known bear on both boxes is one individual: {named}"
    labels = {bears[r.id].label for r in rows if r.provisional}
    assert labels == {"unknown-north-0001", "unknown-south-0001"}
    link(engine, "unknown-north-0001", "unknown-south-0001", by="test")
    with engine.connect() as conn:
        after = {b.label for b in fleet_bears(conn).values()}
    assert after == {*named, "unknown-north-0001"}
    assert json.dumps(sorted(after))  # labels are plain text
