"""The field half of ``--frames``: the agent with its detector on, cameras writing whole
frames and a clip, and a live subscriber printing what the agent publishes; waits until
every file is handled and every encounter has ended (the verdict reads the database)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.store import open_database
from bearid_dev.demo.data import FieldEncounter
from bearid_dev.demo.field import AGENT_ID, LiveSubscriber, Say, enrol
from bearid_dev.demo.frames import FieldTruth, drop_all
from bearid_dev.demo.options import DemoOptions
from bearid_dev.mosquitto import Mosquitto, require_mosquitto


@dataclass(frozen=True)
class FramesField:
    """What the field run produced: the truth, the database and chips, the live counters."""

    truth: FieldTruth
    database: Path
    chips: Path
    stats: dict[str, object]


def _config(
    opts: DemoOptions, model: Path, detector: Path, state: Path, traps: Path, broker: Mosquitto
) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "agent": {"id": AGENT_ID, "state_dir": str(state), "timezone": "UTC"},
            "watch": {"roots": [str(traps)], "stable_after_s": 0.5},
            "runtime": {"model": str(model)},
            "encounter": {"end_after_s": opts.end_after_s},
            "mqtt": {"host": broker.host, "port": broker.port, "stats_interval_s": 3600},
            "detector": {"model": str(detector), "clip_sample_fps": 1.0},
        }
    )


def _settled(database: Path, files: int) -> bool:
    """Every dropped file is in the frames table, every chip recorded, every encounter ended."""
    db = open_database(database)
    try:
        if not {"frames", "sightings", "encounters"} <= set(db.table_names()):
            return False
        handled, chips = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(chips), 0) FROM frames"
        ).fetchone()
        sightings = db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]
        open_ = db.execute("SELECT COUNT(*) FROM encounters WHERE ended = 0").fetchone()[0]
        return bool(handled >= files and sightings >= chips and open_ == 0)
    finally:
        db.conn.close()


def run_frames_field(
    opts: DemoOptions,
    model: Path,
    detector: Path,
    chips: Path,
    encounters: list[FieldEncounter],
    say: Say,
) -> FramesField:
    """Start broker and agent (detector on), drop the frames and the clip, wait, stop."""
    state, traps = opts.workdir / "state", opts.workdir / "traps"
    traps.mkdir(parents=True, exist_ok=True)
    database = state / "bearagent.db"
    # The field box's 5 % targets: the gallery (studio chips) is unlike the detector's
    # crops, so a looser promise measured on the gallery does not hold on them.
    enrol(database, model, chips, say, {})
    broker = Mosquitto(require_mosquitto(), opts.workdir / "broker")
    broker.start()
    say(f"broker: mosquitto on {broker.host}:{broker.port}")
    subscriber = LiveSubscriber(broker, say)
    try:
        agent = Agent(_config(opts, model, detector, state, traps, broker))
        agent.start()
        say(f"agent: detector {detector.name} on {traps}; chips to {state / 'chips'}")
        try:
            truth = drop_all(opts, traps, encounters, opts.workdir / "clips", say)
            deadline = time.monotonic() + 120 + 3 * opts.end_after_s
            while not _settled(database, truth.files) and time.monotonic() < deadline:
                time.sleep(0.3)
            stats = agent.stats.snapshot()
        finally:
            agent.stop()
    finally:
        subscriber.close()
        broker.stop()
    return FramesField(truth, database, state / "chips", stats)
