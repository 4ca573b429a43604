"""Recording what the worker decided: chip sightings, encounter rows, outbox events.

Everything here runs inside the worker's transaction and never commits itself.
`event_payload` is the one place an `EncounterEvent` becomes a payload.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from bearagent.decisions import Decision, Outcome
from bearagent.encounters import ChipObservation, EncounterEvent
from bearagent.encounters import store as encounter_store
from bearagent.fleet import media
from bearagent.gallery.errors import UnknownIndividual
from bearagent.gallery.references import add_references, create_provisional
from bearagent.gallery.sightings import Sighting, record_sighting
from bearagent.gallery.thumbnails import store_thumbnail
from bearagent.ledger import FileIdentity
from bearagent.matching.index import GalleryIndex
from bearagent.matching.knn import Candidate
from bearagent.mqtt import outbox
from bearagent.wire import payloads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelIdentity:
    """The model every embedding and event refers to."""

    name: str
    sha256: str


class GalleryIdentity:
    """The tracker's `IdentityStore` over the gallery tables and its in-memory index."""

    def __init__(self, db: sqlite_utils.Database, model: ModelIdentity, agent_id: str) -> None:
        self.db = db
        self.model = model
        self.agent_id = agent_id
        self.index = GalleryIndex(db, model.sha256, model.name)

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[Candidate]]:
        """Top-k individuals per query (reloads the index when the gallery changed)."""
        return self.index.search(queries, k)

    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str:
        """A new ``unknown-<agent_id>-NNNN`` made from these chips (joins the transaction)."""
        return create_provisional(
            self.db,
            embeddings,
            self.model.sha256,
            sources[: len(embeddings)],
            agent_id=self.agent_id,
        )

    def add_references(
        self, individual_id: str, embeddings: np.ndarray, sources: list[str]
    ) -> None:
        """More references for an individual (joins the open transaction). A provisional
        individual merged or renamed away meanwhile (a person, or the fleet gallery) takes
        none: its encounter's later chips stay sightings."""
        try:
            add_references(self.db, individual_id, embeddings, self.model.sha256, sources)
        except UnknownIndividual:
            log.info("no references for %s: it was merged or renamed away", individual_id)


def _chip_ref(chip: ChipObservation) -> payloads.ChipRef:
    return payloads.ChipRef(chip.file, chip.captured_at, chip.time_source)


def event_payload(e: EncounterEvent, agent_id: str, model: ModelIdentity) -> str:
    """The JSON payload of an encounter event."""
    return payloads.encounter_payload(
        e.channel,
        payloads.SightingType(e.type),
        event_id=uuid.UUID(e.event_id),
        origin=payloads.Origin(agent_id, e.site, e.camera, _chip_ref(e.chip), e.chip.detection),
        encounter=payloads.EncounterRef(
            e.encounter_id,
            e.chip_count,
            e.started_at,
            e.last_captured_at,
            tuple(_chip_ref(c) for c in e.chips),
            e.merged_into,
        ),
        model=payloads.ModelRef(model.name, model.sha256),
        decision=e.decision,
    )


class Recorder:
    """Writes chips and events of the worker's batch (inside its transaction)."""

    def __init__(
        self, db: sqlite_utils.Database, identity: GalleryIdentity, *, upload_chips: bool = False
    ) -> None:
        self.db = db
        self.identity = identity
        self.upload_chips = upload_chips  # queue each chip for the station (bearagent.fleet)

    def record_chip(
        self,
        chip: ChipObservation,
        own: Decision,
        ident: FileIdentity,
        encounter_id: str,
        image: np.ndarray | None = None,
    ) -> None:
        """One sighting row with the chip's own decision (its individual only when known),
        and the chip's thumbnail (`image`, decoded BGR) so it outlives the file."""
        best = chip.candidates[0] if chip.candidates else None
        sighting_id = record_sighting(
            self.db,
            Sighting(
                file=ident.path,
                model_sha256=self.identity.model.sha256,
                individual_id=own.individual_id if own.outcome is Outcome.KNOWN else None,
                similarity=best.similarity if best else None,
                camera=chip.camera,
                site=chip.site,
                captured_at=chip.captured_at.isoformat(),
                encounter_id=encounter_id,
                time_source=chip.time_source,
                detection=(
                    json.dumps(dataclasses.asdict(chip.detection)) if chip.detection else None
                ),
                outcome=own.outcome.value,
            ),
        )
        if image is not None:
            store_thumbnail(self.db, "sighting", sighting_id, image)
        if self.upload_chips:
            ref = payloads.ModelRef(self.identity.model.name, self.identity.model.sha256)
            media.queue_chip(
                self.db, sighting_id, ident.root, ident.path, ident.sha256, ref, chip.embedding
            )

    def record_events(self, events: list[EncounterEvent]) -> None:
        """Queue each event in the outbox and keep its encounter's row up to date."""
        model = self.identity.model
        for event in events:
            text = event_payload(event, self.identity.agent_id, model)
            outbox.enqueue(self.db, event.channel, text, event_id=event.event_id)
            doc = json.loads(text)
            encounter_store.save(
                self.db,
                encounter_store.EncounterRow(
                    encounter_id=event.encounter_id,
                    camera=event.camera,
                    site=event.site,
                    started_at=event.started_at,
                    last_captured_at=event.last_captured_at,
                    chip_count=event.chip_count,
                    ended=event.type in ("end", "merged", "amended"),
                    merged_into=event.merged_into,
                    decision={**doc["decision"], "top_k": doc["top_k"]},
                    last_event=text,
                ),
            )

    def record_reopened(self, encounter_ids: list[str]) -> None:
        """Late chips opened these ended encounters again: their rows are open until their
        ``amended`` event (so a crash before it still sends one)."""
        encounter_store.reopen(self.db, encounter_ids)

    def record_merges(self, merges: dict[str, str]) -> None:
        """Chips recorded under an absorbed encounter move to the one that took it."""
        for gone, keep in merges.items():
            self.db.execute(
                "UPDATE sightings SET encounter_id = ? WHERE encounter_id = ?", [keep, gone]
            )

    def recover_open(self) -> int:
        """Queue the ``end`` of every encounter a crash left open; returns how many."""
        ended = encounter_store.recover_open(self.db)
        for event_id, text in ended:
            outbox.enqueue(self.db, "sighting", text, event_id=event_id)
        return len(ended)
