"""The field half of the demo: a gallery, a private broker, the agent, chips arriving like
camera-trap uploads, and a live subscriber printing what the agent publishes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.gallery.enroll import enroll_folder
from bearagent.gallery.schema import open_gallery
from bearagent.runtime import RuntimeConfig, open_embedder
from bearid_dev.demo.data import FieldEncounter
from bearid_dev.demo.options import DemoOptions
from bearid_dev.mosquitto import Mosquitto, require_mosquitto
from bearid_dev.subscriber import Message, Subscriber

Say = Callable[[str], None]
AGENT_ID = "demo-box"


@dataclass
class Seen:
    """What the subscriber saw of one dropped encounter (keyed by its drop number)."""

    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any] | None:
        """The decision of the encounter's `end` event, if it arrived."""
        ends = [e for e in self.events if e.get("type") == "end"]
        return ends[-1]["decision"] if ends else None

    @property
    def alerted(self) -> bool:
        """Whether an `unknown` alert was raised for it."""
        return any(e.get("event") == "unknown" for e in self.events)


class LiveSubscriber:
    """Prints every message as it arrives and files events by their drop number."""

    def __init__(self, broker: Mosquitto, say: Say) -> None:
        self.say = say
        self.seen: dict[int, Seen] = {}
        self.lock = threading.Lock()
        self.subscriber = Subscriber(
            broker, f"bearid/{AGENT_ID}/#", client_id="demo-subscriber", listener=self._on_message
        ).connect()

    def _on_message(self, msg: Message) -> None:
        topic = msg.channel
        if topic == "status":
            self.say(f"  mqtt status   {msg.payload.decode()}")
            return
        event = msg.json()
        if topic == "stats":
            return
        decision = event["decision"]
        who = decision["name"] or decision["individual_id"] or f"({decision['status']})"
        label = "UNKNOWN BEAR" if topic == "unknown" else f"sighting {event['type']:<6}"
        known = decision["thresholds"]["known"]
        self.say(
            f"  mqtt {label}  {event['camera']}  {who:<14} similarity "
            f"{decision['similarity']:.3f} (known from {known:.3f}), "
            f"{event['chip_count']} chip(s)"
        )
        number = int(Path(event["file"]).name.split("-", 1)[0])
        with self.lock:
            self.seen.setdefault(number, Seen()).events.append(event)

    def ended(self) -> int:
        """How many dropped encounters have had their `end` event."""
        with self.lock:
            return sum(1 for s in self.seen.values() if s.final is not None)

    def close(self) -> None:
        """Disconnect."""
        self.subscriber.close()


def enrol(database: Path, model: Path, chips: Path, say: Say) -> None:
    """Put every training chip in the gallery, named by its folder."""
    with open_embedder(RuntimeConfig(model=model, warm_up=False)) as embedder:
        report = enroll_folder(open_gallery(database), chips, embedder)
    say(f"gallery: {sum(report.added.values())} reference chips of {len(report.added)} individuals")


def drop(traps: Path, number: int, encounter: FieldEncounter, camera: str) -> None:
    """Write an encounter's chips as a camera upload would: a temporary name, a rename."""
    folder = traps / "demo-site" / camera
    folder.mkdir(parents=True, exist_ok=True)
    for path in encounter.files:
        final = folder / f"{number:03d}-{path.name}"
        temp = folder / f".{final.name}.part"
        temp.write_bytes(path.read_bytes())
        os.rename(temp, final)
        time.sleep(0.15)


def run_field(
    opts: DemoOptions, model: Path, chips: Path, encounters: list[FieldEncounter], say: Say
) -> dict[int, Seen]:
    """Start broker and agent, drop every field encounter, wait for their `end` events."""
    database, traps = opts.workdir / "state" / "bearagent.db", opts.workdir / "traps"
    traps.mkdir(parents=True, exist_ok=True)
    enrol(database, model, chips, say)
    broker = Mosquitto(require_mosquitto(), opts.workdir / "broker")
    broker.start()
    say(f"broker: mosquitto on {broker.host}:{broker.port}")
    subscriber = LiveSubscriber(broker, say)
    try:
        agent = Agent(_agent_config(opts, model, database, traps, broker))
        agent.start()
        say(f"agent: watching {traps}")
        try:
            for number, encounter in enumerate(encounters):
                camera = f"cam{number % 3 + 1:02d}"
                truth = encounter.individual + ("" if encounter.known else " (not in the gallery)")
                say(f"camera {camera}: {len(encounter.files)} chips of {truth}")
                drop(traps, number, encounter, camera)
                time.sleep(opts.pause_s)
            deadline = time.monotonic() + 60 + 3 * opts.end_after_s
            while subscriber.ended() < len(encounters) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            agent.stop()
    finally:
        subscriber.close()
        broker.stop()
    return subscriber.seen


def _agent_config(
    opts: DemoOptions, model: Path, database: Path, traps: Path, broker: Mosquitto
) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "agent": {"id": AGENT_ID, "database": str(database), "timezone": "UTC"},
            "watch": {"roots": [str(traps)], "stable_after_s": 0.5},
            "runtime": {"model": str(model)},
            "encounter": {"end_after_s": opts.end_after_s},
            "mqtt": {"host": broker.host, "port": broker.port, "stats_interval_s": 3600},
        }
    )
