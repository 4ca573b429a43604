"""Recording what the worker decided: chip sightings, encounter state, outbox events.

Everything here runs inside the worker's transaction and never commits itself.
Open encounters are kept in the ``encounters`` table with their latest event, so
after a crash or power cut their ``end`` event is still sent (`recover_open`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlite_utils

from bearagent.encounters import ChipObservation, Encounter, EncounterEvent
from bearagent.encounters.tracker import CandidateLike
from bearagent.gallery.references import add_references, create_provisional
from bearagent.gallery.sightings import Sighting, record_sighting
from bearagent.ledger import FileIdentity
from bearagent.matching.index import GalleryIndex
from bearagent.mqtt import outbox, payloads
from bearagent.mqtt.topics import Topics
from bearagent.store import migrate


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE encounters (
            id TEXT PRIMARY KEY,
            camera TEXT NOT NULL,
            site TEXT NOT NULL,
            started_at TEXT NOT NULL,
            individual_id TEXT,
            chip_count INTEGER NOT NULL,
            ended INTEGER NOT NULL DEFAULT 0,
            last_event TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX encounters_open ON encounters (ended) WHERE ended = 0")


STEPS = [_v1]


@dataclass(frozen=True)
class ModelIdentity:
    """The model every embedding and event refers to."""

    name: str
    sha256: str


class GalleryIdentity:
    """The tracker's `IdentityStore` over the gallery tables and its in-memory index."""

    def __init__(self, db: sqlite_utils.Database, model: ModelIdentity) -> None:
        self.db = db
        self.model = model
        self.index = GalleryIndex(db, model.sha256, model.name)

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[CandidateLike]]:
        """Top-k individuals per query (reloads the index when the gallery changed)."""
        return self.index.search(queries, k)

    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str:
        """A new ``unknown-NNNN`` made from these chips (joins the open transaction)."""
        return create_provisional(
            self.db, embeddings, self.model.sha256, sources[: len(embeddings)]
        )

    def add_references(
        self, individual_id: str, embeddings: np.ndarray, sources: list[str]
    ) -> None:
        """More references for an individual (joins the open transaction)."""
        add_references(self.db, individual_id, embeddings, self.model.sha256, sources)


class Recorder:
    """Writes chips and events of the worker's batch (inside its transaction)."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        identity: GalleryIdentity,
        topics: Topics,
        agent_id: str,
        threshold: float,
    ) -> None:
        migrate(db, "encounters", STEPS)
        self.db = db
        self.identity = identity
        self.topics = topics
        self.agent_id = agent_id
        self.threshold = threshold

    def record_chip(
        self, chip: ChipObservation, ident: FileIdentity, enc: Encounter | None
    ) -> None:
        """One sighting row with the chip's own match (None below the threshold)."""
        best = chip.candidates[0] if chip.candidates else None
        matched = best is not None and best.similarity >= self.threshold
        record_sighting(
            self.db,
            Sighting(
                file=ident.path,
                model_sha256=self.identity.model.sha256,
                individual_id=best.individual_id if matched and best else None,
                similarity=best.similarity if best else None,
                camera=chip.camera,
                site=chip.site,
                captured_at=chip.captured_at.isoformat(),
                encounter_id=enc.id if enc else None,
            ),
        )

    def record_events(self, events: list[EncounterEvent]) -> None:
        """Queue each event in the outbox and keep its encounter's row up to date."""
        for event in events:
            topic, text = self._payload(event)
            outbox.enqueue(self.db, topic, text, event_id=event.event_id)
            self._save_encounter(event, text)

    def _payload(self, e: EncounterEvent) -> tuple[str, str]:
        origin = payloads.Origin(self.agent_id, e.site, e.camera, e.chip.file, e.chip.captured_at)
        common: dict[str, Any] = {
            "event_id": uuid.UUID(e.event_id),
            "origin": origin,
            "encounter": payloads.Encounter(e.encounter_id, e.chip_count, e.started_at),
            "model": payloads.ModelRef(self.identity.model.name, self.identity.model.sha256),
            "decision": payloads.Decision(
                e.decision.individual_id,
                e.decision.name,
                e.decision.similarity,
                e.decision.threshold,
            ),
            "top_k": [
                payloads.Candidate(c.individual_id, c.name, c.similarity)
                for c in e.decision.candidates
            ],
        }
        if e.channel == "unknown":
            return self.topics.unknown, payloads.unknown_payload(**common)
        return self.topics.sighting, payloads.sighting_payload(
            payloads.SightingType(e.type), **common
        )

    def _save_encounter(self, e: EncounterEvent, text: str) -> None:
        self.db.execute(
            "INSERT INTO encounters (id, camera, site, started_at, individual_id, chip_count,"
            " ended, last_event, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET individual_id = excluded.individual_id,"
            " chip_count = excluded.chip_count, ended = excluded.ended,"
            " last_event = excluded.last_event, updated_at = excluded.updated_at",
            [
                e.encounter_id,
                e.camera,
                e.site,
                e.started_at.isoformat(),
                e.decision.individual_id,
                e.chip_count,
                int(e.type == "end"),
                text,
                datetime.now(UTC).isoformat(),
            ],
        )

    def recover_open(self) -> int:
        """Send ``end`` for encounters left open by a crash; returns how many."""
        rows = self.db.execute(
            "SELECT id, last_event FROM encounters WHERE ended = 0 ORDER BY updated_at"
        ).fetchall()
        for encounter_id, last_event in rows:
            text = _as_end(json.loads(last_event))
            outbox.enqueue(
                self.db, self.topics.sighting, text, event_id=json.loads(text)["event_id"]
            )
            self.db.execute("UPDATE encounters SET ended = 1 WHERE id = ?", [encounter_id])
        return len(rows)


def _as_end(last: dict[str, Any]) -> str:
    """An encounter's last event, re-issued as its ``end`` sighting (a new event id)."""
    decision = last["decision"]
    return payloads.sighting_payload(
        payloads.SightingType.END,
        event_id=uuid.uuid4(),
        origin=payloads.Origin(
            last["agent_id"],
            last["site"],
            last["camera"],
            last["file"],
            datetime.fromisoformat(last["captured_at"]),
        ),
        encounter=payloads.Encounter(
            last["encounter_id"], last["chip_count"], datetime.fromisoformat(last["started_at"])
        ),
        model=payloads.ModelRef(last["model"]["name"], last["model"]["sha256"]),
        decision=payloads.Decision(
            decision["individual_id"],
            decision["name"],
            decision["similarity"],
            decision["threshold"],
        ),
        top_k=[
            payloads.Candidate(c["individual_id"], c["name"], c["similarity"])
            for c in last["top_k"]
        ],
    )
