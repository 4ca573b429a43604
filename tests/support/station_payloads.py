"""Valid schema_version 2 payloads for the station tests, made with the agent's own builders.

A `FakeBox` plays one field box: each `encounter` returns the events its agent
would publish for one encounter (``new``, the ``unknown`` alert for a stranger,
``end`` with its chips), as (topic, payload) pairs. A `publish` helper sends
such pairs to a real broker with QoS 1 and waits for every PUBACK.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from bearagent.decisions import Decision, DecisionRule, Outcome
from bearagent.matching.knn import Candidate
from bearagent.wire.payloads import (
    ChipRef,
    EncounterRef,
    Identity,
    ModelRef,
    Origin,
    Percentiles,
    SightingType,
    Stats,
    correction_payload,
    encounter_payload,
    stats_payload,
)
from support.broker import Credentials, Mosquitto
from support.subscriber import connect, make_client

MODEL = ModelRef("bearid-lite0-test", "ab" * 32)
RULE = DecisionRule("margin", known=0.30, unknown=0.10, source="gallery")
#: Helsinki summer time: local days differ from UTC days near midnight.
EEST = timezone(timedelta(hours=3))
T0 = datetime(2026, 6, 1, 6, 0, 0, tzinfo=EEST)

Message = tuple[str, str]


@dataclass
class FakeBox:
    """Events of one field box (agent id `agent_id`), numbered as its agent would."""

    agent_id: str
    site: str = "kuhmo"
    _encounters: int = 0
    _unknowns: int = 0
    sent: list[Message] = field(default_factory=list)

    def topic(self, channel: str) -> str:
        """``bearid/<agent_id>/<channel>``."""
        return f"bearid/{self.agent_id}/{channel}"

    def next_provisional(self) -> str:
        """The box's next provisional id, as its agent numbers them."""
        self._unknowns += 1
        return f"unknown-{self.agent_id}-{self._unknowns:04d}"

    def encounter(
        self,
        camera: str,
        started: datetime,
        *,
        individual: str | None,
        name: str | None = None,
        outcome: Outcome = Outcome.KNOWN,
        chips: int = 3,
        step_s: float = 4.0,
        end: bool = True,
        time_source: Literal["sidecar", "exif", "filename", "mtime"] = "exif",
    ) -> list[Message]:
        """The events of one encounter: new (+ the unknown alert) and, with `end`, end.

        `individual` None with outcome UNKNOWN makes a new provisional individual.
        """
        self._encounters += 1
        encounter_id = f"{self.agent_id}-enc-{self._encounters:05d}"
        if outcome is Outcome.UNKNOWN and individual is None:
            individual = self.next_provisional()
        if outcome is Outcome.REVIEW:
            individual = None
        times = [started + timedelta(seconds=i * step_s) for i in range(chips)]
        refs = tuple(
            ChipRef(
                file=f"{self.site}/{camera}/{camera}_{t:%Y%m%d-%H%M%S}_{self._encounters:05d}{i}.jpg",
                captured_at=t,
                time_source=time_source,
            )
            for i, t in enumerate(times)
        )
        decision = _decision(outcome, individual, name)
        out: list[Message] = []
        first = EncounterRef(encounter_id, 1, started, started)
        out.append(self._event("sighting", SightingType.NEW, refs[0], first, decision))
        if outcome is Outcome.UNKNOWN:
            out.append(self._event("unknown", SightingType.NEW, refs[0], first, decision))
        if end:
            last = EncounterRef(encounter_id, chips, started, refs[-1].captured_at, chips=refs)
            out.append(self._event("sighting", SightingType.END, refs[-1], last, decision))
        self.sent.extend(out)
        return out

    def _event(
        self,
        channel: Literal["sighting", "unknown"],
        kind: SightingType,
        chip: ChipRef,
        encounter: EncounterRef,
        decision: Decision,
    ) -> Message:
        payload = encounter_payload(
            channel,
            kind,
            event_id=uuid.uuid4(),
            origin=Origin(self.agent_id, self.site, chip.file.split("/")[1], chip),
            encounter=encounter,
            model=MODEL,
            decision=decision,
            processed_at=chip.captured_at + timedelta(seconds=1),
        )
        return self.topic(channel), payload

    def correction(
        self,
        action: Literal["confirm", "assign", "create", "merge", "rename", "reject", "undo"],
        *,
        encounter_id: str | None,
        before: Identity,
        after: Identity,
        files: Sequence[str] = (),
        undoes: uuid.UUID | None = None,
        event_id: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> Message:
        """A correction made on this box's review page."""
        payload = correction_payload(
            event_id=event_id or uuid.uuid4(),
            agent_id=self.agent_id,
            by="ranger",
            action=action,
            encounter_id=encounter_id,
            files=files,
            before=before,
            after=after,
            undoes=undoes,
            corrected_at=at or datetime(2026, 6, 20, 12, 0, tzinfo=UTC),
        )
        return self.topic("correction"), payload

    def stats(self, sent_at: datetime, processed: int = 10) -> Message:
        """A stats message."""
        payload = stats_payload(
            agent_id=self.agent_id,
            stats=Stats(processed, 0, 0, Percentiles(12.0, 30.0, 44.0)),
            outbox_size=0,
            published=processed,
            uptime_s=60.0,
            sent_at=sent_at,
        )
        return self.topic("stats"), payload


def _decision(outcome: Outcome, individual: str | None, name: str | None) -> Decision:
    provisional = individual is not None and individual.startswith("unknown-")
    best = Candidate(individual or "bear-0009", name, "named", 0.81)
    candidates = (best, Candidate("bear-0002", "Holly", "named", 0.52))
    score = {Outcome.KNOWN: 0.42, Outcome.REVIEW: 0.2, Outcome.UNKNOWN: 0.04}[outcome]
    return Decision(
        outcome=outcome,
        individual_id=individual,
        name=name,
        provisional=provisional,
        score=score,
        similarity=0.81 if outcome is not Outcome.UNKNOWN else 0.31,
        rule=RULE,
        candidates=candidates if outcome is not Outcome.UNKNOWN else candidates[1:],
    )


def encounter_id_of(messages: Iterable[Message]) -> str:
    """The encounter id the messages are about."""
    import json

    ids = {json.loads(p)["encounter_id"] for _t, p in messages}
    assert len(ids) == 1, ids
    return str(ids.pop())


def publish(
    broker: Mosquitto,
    messages: Iterable[tuple[str, str | bytes]],
    credentials: Credentials | None = None,
) -> None:
    """Publish with QoS 1 from one client and wait until the broker acked every message."""
    client = make_client(broker, credentials=credentials)
    connect(client, broker)
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=20)
            assert info.is_published(), "the broker did not acknowledge a publication"
    finally:
        client.disconnect()
        client.loop_stop()


def wait_until(predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `predicate` until it is true, or fail the test after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    done = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        done.wait(0.05)
