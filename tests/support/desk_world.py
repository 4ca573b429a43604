"""A station database as the review desk finds it: two boxes' encounters (in review,
unknown, known, one still open), their chips' bytes in the media store, and a fleet
gallery with two named bears (with reference chips) and a stranger.

Everything goes through the station's own code: events as the agents' payload builders
write them, stored by the ingest (`write_batch`), chips by `store_chip`, reference
chips by the fleet gallery's `add_box_reference`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette

from bearagent.decisions import Decision, DecisionRule, Outcome
from bearagent.matching.knn import Candidate
from bearagent.webkit.server import uvicorn_settings
from bearagent.wire.payloads import (
    ChipRef,
    EncounterRef,
    ModelRef,
    Origin,
    SightingType,
    encounter_payload,
)
from bearstation.config import StationConfig
from bearstation.fleet.gallery_ingest import add_box_reference
from bearstation.media.records import store_chip
from bearstation.media.store import MediaStore
from support.broker import free_port
from support.station_chips import jpeg_chip, upload
from support.station_world import fresh_engine, ingest

MODEL = ModelRef("bearid-lite0-test", "ab" * 32)
RULE = DecisionRule("margin", known=0.30, unknown=0.10, source="gallery")
T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
HOLLY, OTIS = "bear-boxa-0001", "bear-boxa-0002"

Message = tuple[str, str]


@dataclass
class BoxEvents:
    """The events of one box's encounters, as its agent would publish them."""

    agent_id: str
    site: str = "kuhmo"
    count: int = 0
    files: dict[str, list[str]] = field(default_factory=dict)  # encounter -> chip files

    def encounter(
        self,
        camera: str,
        started: datetime,
        outcome: Outcome,
        *,
        individual: str | None = None,
        name: str | None = None,
        candidates: tuple[Candidate, ...] = (),
        chips: int = 3,
        end: bool = True,
    ) -> tuple[str, list[Message]]:
        """(encounter id, its events): new (+ the unknown alert) and, with `end`, end."""
        self.count += 1
        encounter_id = f"{self.agent_id}-enc-{self.count:03d}"
        refs = tuple(
            ChipRef(f"{self.site}/{camera}/{camera}_{self.count:03d}_{i}.jpg",
                    started + timedelta(seconds=4 * i), "exif")
            for i in range(chips)
        )  # fmt: skip
        self.files[encounter_id] = [r.file for r in refs]
        score = {Outcome.KNOWN: 0.42, Outcome.REVIEW: 0.2, Outcome.UNKNOWN: 0.04}[outcome]
        decision = Decision(
            outcome=outcome, individual_id=individual, name=name,
            provisional=outcome is Outcome.UNKNOWN, score=score,
            similarity=candidates[0].similarity if candidates else 0.3, rule=RULE,
            candidates=candidates,
        )  # fmt: skip
        first = EncounterRef(encounter_id, 1, started, started)
        out = [self._event("sighting", SightingType.NEW, refs[0], first, decision, camera)]
        if outcome is Outcome.UNKNOWN:
            out.append(self._event("unknown", SightingType.NEW, refs[0], first, decision, camera))
        if end:
            last = EncounterRef(encounter_id, chips, started, refs[-1].captured_at, chips=refs)
            out.append(self._event("sighting", SightingType.END, refs[-1], last, decision, camera))
        return encounter_id, out

    def _event(self, channel: Any, kind: SightingType, chip: ChipRef, encounter: EncounterRef,
               decision: Decision, camera: str) -> Message:  # fmt: skip
        payload = encounter_payload(
            channel, kind, event_id=uuid.uuid4(),
            origin=Origin(self.agent_id, self.site, camera, chip), encounter=encounter,
            model=MODEL, decision=decision, processed_at=chip.captured_at + timedelta(seconds=1),
        )  # fmt: skip
        return f"bearid/{self.agent_id}/{channel}", payload


def candidates(*pairs: tuple[str, str | None, float]) -> tuple[Candidate, ...]:
    """Top-k candidates (id, name, similarity)."""
    return tuple(
        Candidate(i, n, "provisional" if i.startswith("unknown-") else "known", s)
        for i, n, s in pairs
    )


@dataclass
class DeskWorld:
    """The station database and what the tests look for in it."""

    db_url: str
    engine: Engine
    config: StationConfig
    media: MediaStore
    boxa: BoxEvents
    boxb: BoxEvents
    review: str  # boxa, in review, Holly 0.81 / Otis 0.52
    unknown: str  # boxa, unknown: the stranger
    provisional: str  # the stranger's provisional id
    still_open: str  # boxa, in review, not ended
    other: str  # boxb, in review
    shas: dict[str, list[str]] = field(default_factory=dict)  # encounter -> chips' SHA-256

    def files(self, encounter_id: str) -> list[str]:
        """The chip files of an encounter."""
        for box in (self.boxa, self.boxb):
            if encounter_id in box.files:
                return box.files[encounter_id]
        raise KeyError(encounter_id)


def desk_config(db_url: str, media_root: Path, **desk: Any) -> StationConfig:
    """A station configuration for the desk on `db_url` (no broker needed to serve it)."""
    return StationConfig.model_validate(
        {"station": {"id": "hq", "database": db_url}, "media": {"root": str(media_root)},
         "desk": desk}
    )  # fmt: skip


def build_desk_world(db_url: str, tmp_path: Path, **desk: Any) -> DeskWorld:
    """Two boxes' encounters, chips and fleet gallery in the station database `db_url`."""
    engine = fresh_engine(db_url)
    config = desk_config(db_url, tmp_path / "media", **desk)
    store = MediaStore.from_config(config.media, db_url)
    boxa, boxb = BoxEvents("boxa"), BoxEvents("boxb", site="oulanka")
    messages: list[Message] = []

    def add(box: BoxEvents, camera: str, hours: int, outcome: Outcome, **kw: Any) -> str:
        encounter_id, events = box.encounter(camera, T0 + timedelta(hours=hours), outcome, **kw)
        messages.extend(events)
        return encounter_id

    holly, otis = (HOLLY, "Holly"), (OTIS, "Otis")
    known_holly = add(boxa, "cam01", 0, Outcome.KNOWN, individual=HOLLY, name="Holly",
                      candidates=candidates((*holly, 0.93)), chips=4)  # fmt: skip
    known_otis = add(boxa, "cam01", 1, Outcome.KNOWN, individual=OTIS, name="Otis",
                     candidates=candidates((*otis, 0.9)), chips=4)  # fmt: skip
    review = add(boxa, "cam02", 2, Outcome.REVIEW,
                 candidates=candidates((*holly, 0.81), (*otis, 0.52)))  # fmt: skip
    provisional = "unknown-boxa-0001"
    unknown = add(boxa, "cam03", 3, Outcome.UNKNOWN, individual=provisional,
                  candidates=candidates((*otis, 0.31)))  # fmt: skip
    still_open = add(boxa, "cam04", 4, Outcome.REVIEW, candidates=candidates((*holly, 0.7)),
                     end=False)  # fmt: skip
    other = add(boxb, "cam11", 5, Outcome.REVIEW,
                candidates=candidates((*otis, 0.77), (*holly, 0.6)))  # fmt: skip
    ingest(engine, messages)
    world = DeskWorld(db_url, engine, config, store, boxa, boxb, review, unknown, provisional,
                      still_open, other)  # fmt: skip
    seed = 0
    with engine.begin() as conn:
        for box in (boxa, boxb):
            for encounter_id, files in box.files.items():
                if encounter_id == still_open:
                    continue  # its chips travel once it has ended
                for i, file in enumerate(files):
                    seed += 1
                    chip = upload(box.agent_id, file, jpeg_chip(seed, 64),
                                  T0 + timedelta(seconds=i), encounter_id=encounter_id)  # fmt: skip
                    store_chip(conn, store, chip)
                    world.shas.setdefault(encounter_id, []).append(chip.sha256)
        for encounter_id, owner in ((known_holly, HOLLY), (known_otis, OTIS),
                                    (unknown, provisional)):  # fmt: skip
            for sha in world.shas[encounter_id]:
                add_box_reference(conn, "boxa", owner, sha, MODEL.sha256, datetime.now(UTC))
    return world


@contextmanager
def served_desk(app: Starlette, config: StationConfig) -> Iterator[str]:
    """The desk on a real uvicorn with the settings `bear-station review` uses (TLS, trusted
    proxies), on a free port of 127.0.0.1; yields its base URL."""
    port = free_port()
    settings = {**uvicorn_settings(config.desk), "host": "127.0.0.1", "port": port}
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    thread = threading.Thread(target=server.run, name="desk-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"{'https' if 'ssl_certfile' in settings else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
