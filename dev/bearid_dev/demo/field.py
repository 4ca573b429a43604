"""The field half of the demo: a gallery, a private broker, the agent, chips arriving like
camera-trap uploads, and a live subscriber printing what the agent publishes."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.decisions.config import DecisionConfig
from bearagent.gallery.enroll import enroll_folder
from bearagent.gallery.recalibrate import recalibrate_model
from bearagent.gallery.schema import open_gallery
from bearagent.runtime import RuntimeConfig, open_embedder
from bearid_dev.demo.data import FieldEncounter
from bearid_dev.demo.options import DemoOptions
from bearid_dev.mosquitto import Mosquitto, require_mosquitto
from bearid_dev.subscriber import Message, Subscriber

Say = Callable[[str], None]
AGENT_ID = "demo-box"


def drop_number(file: str) -> int:
    """The drop a chip belongs to (its file name starts with the number: ``007-...``)."""
    return int(Path(file).name.split("-", 1)[0])


#: Sighting types that state an encounter's final state (an `amended` replaces its `end`).
FINAL = ("end", "amended")


def final_decision(end: dict[str, Any]) -> dict[str, Any]:
    """An `end` event's decision, with the event's candidates (``top_k``) beside it."""
    return {**end["decision"], "top_k": end.get("top_k") or []}


@dataclass
class Seen:
    """What the subscriber saw of one dropped encounter (keyed by its drop number)."""

    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any] | None:
        """The decision of the encounter's last `end` or `amended` event (with the event's
        ``top_k``), if one arrived."""
        ends = [e for e in self.events if e.get("type") in FINAL]
        return final_decision(ends[-1]) if ends else None

    @property
    def alerted(self) -> bool:
        """Whether an `unknown` alert was raised for it."""
        return any(e.get("event") == "unknown" for e in self.events)


class LiveSubscriber:
    """Prints every message as it arrives and files events by their drop number."""

    def __init__(self, broker: Mosquitto, say: Say) -> None:
        self.say = say
        self.seen: dict[int, Seen] = {}
        self._finals: dict[str, dict[str, Any]] = {}  # encounter id -> its final word
        self.lock = threading.Lock()
        self.subscriber = Subscriber(
            broker, f"bearid/{AGENT_ID}/#", client_id="demo-subscriber", listener=self._on_message
        ).connect()

    def _on_message(self, msg: Message) -> None:
        topic = msg.channel
        if topic == "status":
            self.say(f"  mqtt status   {msg.payload.decode()}")
            return
        if topic not in ("sighting", "unknown"):
            return  # stats, chips and blank frames for the station: not encounters
        event = msg.json()
        decision = event["decision"]
        who = decision["name"] or decision["individual_id"] or f"({decision['status']})"
        label = "UNKNOWN BEAR" if topic == "unknown" else f"sighting {event['type']:<6}"
        # The score is what the thresholds apply to (a margin need not be a similarity).
        score, limits = decision["score"], decision["thresholds"]
        self.say(
            f"  mqtt {label}  {event['camera']}  {who:<14} {score['name']} "
            f"{score['value']:.3f} (known from {limits['known']:.3f}, unknown below "
            f"{limits['unknown']:.3f}), {event['chip_count']} chip(s)"
        )
        with self.lock:
            self.seen.setdefault(drop_number(event["file"]), Seen()).events.append(event)
            if event.get("type") in FINAL:
                self._finals[str(event["encounter_id"])] = event

    @property
    def ends(self) -> list[dict[str, Any]]:
        """Each encounter's final state (its `end`, or the `amended` after it), as the agent
        split them."""
        with self.lock:
            return list(self._finals.values())

    def ended(self) -> int:
        """How many dropped encounters have had their chips in an `end` event."""
        return len({drop_number(c["file"]) for e in self.ends for c in e["chips"]})

    def close(self) -> None:
        """Disconnect."""
        self.subscriber.close()


#: The demo box's decision targets. A gallery of a dozen bears holds some 35 encounters:
#: enough to show an automatic error <= 10 % at 95 % confidence (29 error-free accepted
#: encounters), never <= 5 % (59 needed). A field box keeps the 5 % defaults.
DEMO_DECISION: dict[str, float] = {"target_error_rate": 0.10, "target_false_unknown_rate": 0.10}


def enrol(database: Path, model: Path, chips: Path, say: Say, decision: dict[str, float]) -> None:
    """Put every training chip in the gallery, named by its folder, and calibrate the
    decision thresholds on it for the box's `decision` settings, as `bearagent gallery
    enroll` does."""
    db = open_gallery(database)
    with open_embedder(RuntimeConfig(model=model, warm_up=False)) as embedder:
        report = enroll_folder(db, chips, embedder)
    say(f"gallery: {sum(report.added.values())} reference chips of {len(report.added)} individuals")
    cfg = DecisionConfig.model_validate(decision)
    done = recalibrate_model(db, model, cfg)
    say(f"gallery calibration ({done.score}; automatic error <= {cfg.target_error_rate:.0%}, "
        f"false-unknown <= {cfg.target_false_unknown_rate:.0%}): {done.note}")  # fmt: skip


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


def drop_family(
    traps: Path, numbers: tuple[int, int], pair: tuple[FieldEncounter, FieldEncounter], camera: str
) -> None:
    """Two bears at one camera at once (a sow and her cub): their chips interleaved a second
    apart, each with the sidecar an upstream detector writes (so the capture times are
    the family's, not the original bursts')."""
    folder = traps / "demo-site" / camera
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime.now(UTC).replace(microsecond=0)
    order = [(n, e, i) for i in range(max(len(e.files) for e in pair))
             for n, e in zip(numbers, pair, strict=True) if i < len(e.files)]  # fmt: skip
    for t, (number, encounter, i) in enumerate(order):
        path = encounter.files[i]
        final = folder / f"{number:03d}-{path.name}"
        sidecar = {
            "captured_at": (start + timedelta(seconds=t)).isoformat(),
            "source_frame": f"demo/{camera}/frame-{t:04d}.jpg",
            "detector": "demo",
        }
        final.with_name(final.name + ".json").write_text(json.dumps(sidecar))  # fmt: skip
        temp = folder / f".{final.name}.part"
        temp.write_bytes(path.read_bytes())
        os.rename(temp, final)
        time.sleep(0.15)


def run_field(
    opts: DemoOptions, model: Path, chips: Path, encounters: list[FieldEncounter], say: Say
) -> LiveSubscriber:
    """Start broker and agent, drop every field encounter, wait for their `end` events.

    The last two known encounters arrive together at one camera, interleaved, as a
    family would: the agent must keep them apart as two encounters.
    """
    database, traps = opts.workdir / "state" / "bearagent.db", opts.workdir / "traps"
    traps.mkdir(parents=True, exist_ok=True)
    enrol(database, model, chips, say, DEMO_DECISION)
    broker = Mosquitto(require_mosquitto(), opts.workdir / "broker")
    broker.start()
    say(f"broker: mosquitto on {broker.host}:{broker.port}")
    subscriber = LiveSubscriber(broker, say)
    try:
        agent = Agent(_agent_config(opts, model, database, traps, broker))
        agent.start()
        say(f"agent: watching {traps}")
        try:
            known = [n for n, e in enumerate(encounters) if e.known]
            family = tuple(known[-2:]) if len(known) >= 2 else ()
            for number, encounter in enumerate(encounters):
                if number in family:
                    continue
                camera = f"cam{number % 3 + 1:02d}"
                truth = encounter.individual + ("" if encounter.known else " (not in the gallery)")
                say(f"camera {camera}: {len(encounter.files)} chips of {truth}")
                drop(traps, number, encounter, camera)
                time.sleep(opts.pause_s)
            if len(family) == 2:
                a, b = encounters[family[0]], encounters[family[1]]
                say(f"camera cam01: {a.individual} and {b.individual} together, chips interleaved")
                drop_family(traps, (family[0], family[1]), (a, b), "cam01")
            deadline = time.monotonic() + 60 + 3 * opts.end_after_s
            while subscriber.ended() < len(encounters) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            agent.stop()
    finally:
        subscriber.close()
        broker.stop()
    return subscriber


def _agent_config(
    opts: DemoOptions, model: Path, database: Path, traps: Path, broker: Mosquitto
) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "agent": {"id": AGENT_ID, "database": str(database), "timezone": "UTC"},
            "watch": {"roots": [str(traps)], "stable_after_s": 0.5},
            "runtime": {"model": str(model)},
            "encounter": {"end_after_s": opts.end_after_s},
            "decision": DEMO_DECISION,
            "mqtt": {"host": broker.host, "port": broker.port, "stats_interval_s": 3600},
        }
    )
