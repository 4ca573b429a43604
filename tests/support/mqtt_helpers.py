"""Helpers for the MQTT tests: sample v2 events, a filled outbox, collecting event ids.

Run as a script, it is a publisher process the tests can SIGKILL:
``python mqtt_helpers.py DATABASE HOST PORT AGENT_ID INFLIGHT``.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from bearagent.chips.capture import TimeSource
from bearagent.decisions import Decision, DecisionRule, Outcome
from bearagent.matching.knn import Candidate
from bearagent.mqtt import MqttConfig, MqttPublisher, outbox
from bearagent.store import open_database, transaction
from bearagent.wire.channels import Channel
from bearagent.wire.payloads import (
    ChipRef,
    EncounterRef,
    ModelRef,
    Origin,
    SightingType,
    encounter_payload,
)

if TYPE_CHECKING:
    from support.subscriber import Subscriber

MODEL = ModelRef("bearid-lite0-test", "ab" * 32)
CAPTURED = datetime(2026, 5, 14, 6, 15, 2, tzinfo=timezone(timedelta(hours=2)))
RULE = DecisionRule("best", known=0.7, unknown=0.5, source="card")
CANDIDATES = (
    Candidate("bear-0007", "Otso", "known", 0.83),
    Candidate("bear-0002", None, "known", 0.41),
)


def known_decision() -> Decision:
    """Otso, decided automatically (score above the known threshold)."""
    return Decision(Outcome.KNOWN, "bear-0007", "Otso", False, 0.83, 0.83, RULE, CANDIDATES)


def unknown_decision(provisional_id: str = "unknown-den-01-0001") -> Decision:
    """A stranger, given the new provisional individual `provisional_id`."""
    low = tuple(Candidate(c.individual_id, c.name, c.kind, 0.3) for c in CANDIDATES)
    return Decision(Outcome.UNKNOWN, provisional_id, None, True, 0.3, 0.3, RULE, low)


def sample_sighting(
    event_id: uuid.UUID,
    *,
    agent_id: str = "den-01",
    site: str = "kuhmo",
    camera: str = "cam02",
    file: str = "kuhmo/cam02/cam02_20260514-061502_00042.jpg",
    kind: SightingType = SightingType.NEW,
    n: int = 1,
    time_source: TimeSource = "filename",
) -> str:
    """A valid v2 ``sighting`` payload; `n` goes into the chip count so events differ."""
    chip = ChipRef(file, CAPTURED, time_source)
    return encounter_payload(
        "sighting",
        kind,
        event_id=event_id,
        origin=Origin(agent_id, site, camera, chip),
        encounter=EncounterRef(
            f"enc-{n:06d}",
            n,
            CAPTURED,
            CAPTURED,
            chips=(chip,) if kind is SightingType.END else (),
            merged_into="enc-000001" if kind is SightingType.MERGED else None,
        ),
        model=MODEL,
        decision=known_decision(),
        processed_at=datetime(2026, 5, 14, 4, 15, 3, 250_000, tzinfo=UTC),
    )


def sample_unknown(event_id: uuid.UUID, *, provisional_id: str = "unknown-den-01-0001") -> str:
    """A valid v2 ``unknown`` alert for the new provisional individual `provisional_id`."""
    chip = ChipRef("kuhmo/cam02/cam02_20260514-061502_00043.jpg", CAPTURED, "exif")
    return encounter_payload(
        "unknown",
        SightingType.NEW,
        event_id=event_id,
        origin=Origin("den-01", "kuhmo", "cam02", chip),
        encounter=EncounterRef("enc-000099", 2, CAPTURED, CAPTURED),
        model=MODEL,
        decision=unknown_decision(provisional_id),
    )


def fill_outbox(database: Path, count: int, channel: Channel = "sighting") -> list[str]:
    """Enqueue `count` sightings in one transaction; return their event ids in order."""
    db = open_database(database)
    try:
        outbox.ensure_schema(db)
        ids: list[str] = []
        with transaction(db):
            for n in range(1, count + 1):
                eid = uuid.uuid4()
                text = sample_unknown(eid) if channel == "unknown" else sample_sighting(eid, n=n)
                outbox.enqueue(db, channel, text, event_id=str(eid))
                ids.append(str(eid))
        return ids
    finally:
        db.conn.close()


def outbox_size(database: Path) -> int:
    """Rows left in the outbox."""
    db = open_database(database)
    try:
        return outbox.size(db)
    finally:
        db.conn.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll `condition` until true; raise `TimeoutError` naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout} s: {what or condition}")
        time.sleep(0.02)


def outbox_event_ids(database: Path) -> list[str]:
    """Event ids of the rows still in the outbox, oldest first."""
    db = open_database(database)
    try:
        return [str(row.event_id) for row in outbox.pending(db, 1_000_000)]
    finally:
        db.conn.close()


def event_id(payload: bytes) -> str:
    """The event id of a JSON event payload."""
    return str(json.loads(payload)["event_id"])


def collect_events(sub: Subscriber, expected: list[str], timeout: float = 30.0) -> list[str]:
    """Event ids received on `sub` (in arrival order, repeats kept) until all `expected` came.

    Non-JSON messages (the plain-text status) are skipped.
    """
    missing = set(expected)
    received: list[str] = []
    deadline = time.monotonic() + timeout
    while missing:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(missing)} of {len(expected)} events never arrived")
        msg = sub.get(timeout=left)
        if msg.payload.startswith(b"{"):
            received.append(event_id(msg.payload))
            missing.discard(received[-1])
    return received


def first_occurrences(ids: list[str]) -> list[str]:
    """`ids` with repeats (at-least-once duplicates) removed, first arrival kept."""
    return list(dict.fromkeys(ids))


def main(argv: list[str]) -> None:
    """Publish the outbox of `argv[0]` until killed (a stand-in for the agent process)."""
    database, host, port, agent_id, inflight = argv
    config = MqttConfig(host=host, port=int(port), inflight=int(inflight), reconnect_min_s=0.2)
    publisher = MqttPublisher(config, agent_id=agent_id, database=Path(database), poll_s=0.05)
    publisher.start()
    print("started", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1:])
