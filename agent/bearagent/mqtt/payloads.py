"""Typed builders for the JSON payloads the agent publishes.

`schemas/events.schema.json` (package data) is the reference that consumers and
our tests validate against; every builder here returns JSON text that conforms
to it. Camera, site and file names come from the file system, so they may hold
anything: NUL, wildcards, or bytes that are not UTF-8 (Python keeps those as
lone surrogates). They are made valid UTF-8 here, never dropped or put in topics.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any
from uuid import UUID

#: Version of the payload format; a change an older consumer cannot read bumps it.
SCHEMA_VERSION = 1
STATUS_ONLINE = "online"
STATUS_OFFLINE = "offline"
_PROVISIONAL = re.compile(r"^unknown-[0-9]{4,}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SightingType(StrEnum):
    """Where a sighting event sits in its encounter."""

    NEW = "new"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True)
class ModelRef:
    """The embedder behind a decision: its card's name and the model file's SHA-256."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Candidate:
    """A gallery individual and its best similarity to the query."""

    individual_id: str
    name: str | None
    similarity: float


@dataclass(frozen=True)
class Decision:
    """The verdict: known when ``similarity >= threshold``, else a provisional unknown."""

    individual_id: str
    name: str | None
    similarity: float
    threshold: float


@dataclass(frozen=True)
class Origin:
    """Where the event's chip came from."""

    agent_id: str
    site: str
    camera: str
    file: str  # relative to the watch root
    captured_at: datetime


@dataclass(frozen=True)
class Encounter:
    """The encounter an event belongs to."""

    encounter_id: str
    chip_count: int
    started_at: datetime


@dataclass(frozen=True)
class Percentiles:
    """Latency percentiles in milliseconds (None before any sample)."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class Stats:
    """The pipeline's counters for a ``stats`` message."""

    processed: int
    rejected: int
    queue_depth: int
    latency_ms: Percentiles


def status_payload(online: bool) -> str:
    """The plain-text payload of the retained ``status`` topic."""
    return STATUS_ONLINE if online else STATUS_OFFLINE


def sighting_payload(
    kind: SightingType,
    *,
    event_id: UUID,
    origin: Origin,
    encounter: Encounter,
    model: ModelRef,
    decision: Decision,
    top_k: Sequence[Candidate],
    processed_at: datetime | None = None,
) -> str:
    """JSON text of a ``sighting`` event (``new``, ``update`` or ``end``)."""
    body = _encounter_fields(event_id, origin, encounter, model, decision, top_k, processed_at)
    return _dumps({"event": "sighting", "type": SightingType(kind).value, **body})


def unknown_payload(
    *,
    event_id: UUID,
    origin: Origin,
    encounter: Encounter,
    model: ModelRef,
    decision: Decision,
    top_k: Sequence[Candidate],
    processed_at: datetime | None = None,
) -> str:
    """JSON text of an ``unknown`` alert; ``decision.individual_id`` is the provisional id."""
    if not _PROVISIONAL.match(decision.individual_id):
        raise ValueError(
            f"an unknown alert needs a provisional id like 'unknown-0007' as "
            f"decision.individual_id, got {decision.individual_id!r}"
        )
    body = _encounter_fields(event_id, origin, encounter, model, decision, top_k, processed_at)
    return _dumps({"event": "unknown", "provisional_id": decision.individual_id, **body})


def stats_payload(
    *,
    agent_id: str,
    stats: Stats,
    outbox_size: int,
    published: int,
    uptime_s: float,
    sent_at: datetime | None = None,
) -> str:
    """JSON text of a ``stats`` message."""
    latency = stats.latency_ms
    return _dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "event": "stats",
            "agent_id": _text(agent_id),
            "sent_at": _timestamp(sent_at or datetime.now(UTC), "sent_at"),
            "uptime_s": round(max(0.0, uptime_s), 3),
            "processed": stats.processed,
            "rejected": stats.rejected,
            "queue_depth": stats.queue_depth,
            "outbox_size": outbox_size,
            "published": published,
            "latency_ms": {
                "p50": _latency(latency.p50),
                "p95": _latency(latency.p95),
                "p99": _latency(latency.p99),
            },
        }
    )


@cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every JSON payload, from the package data."""
    text = resources.files("bearagent").joinpath("schemas/events.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _encounter_fields(
    event_id: UUID,
    origin: Origin,
    encounter: Encounter,
    model: ModelRef,
    decision: Decision,
    top_k: Sequence[Candidate],
    processed_at: datetime | None,
) -> dict[str, Any]:
    if encounter.chip_count < 1:
        raise ValueError(f"an encounter has at least one chip, got {encounter.chip_count}")
    if not _SHA256.match(model.sha256):
        raise ValueError(f"model sha256 must be 64 lower-case hex digits, got {model.sha256!r}")
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": str(event_id),
        "agent_id": _text(origin.agent_id),
        "site": _text(origin.site),
        "camera": _text(origin.camera),
        "captured_at": _timestamp(origin.captured_at, "captured_at"),
        "processed_at": _timestamp(processed_at or datetime.now(UTC), "processed_at"),
        "file": _text(origin.file),
        "model": {"name": _text(model.name), "sha256": model.sha256},
        "decision": {
            "individual_id": _text(decision.individual_id),
            "name": _optional_text(decision.name),
            "similarity": _similarity(decision.similarity),
            "threshold": _similarity(decision.threshold),
        },
        "top_k": [
            {
                "individual_id": _text(c.individual_id),
                "name": _optional_text(c.name),
                "similarity": _similarity(c.similarity),
            }
            for c in top_k
        ],
        "encounter_id": _text(encounter.encounter_id),
        "chip_count": encounter.chip_count,
        "started_at": _timestamp(encounter.started_at, "started_at"),
    }


def _dumps(obj: dict[str, Any]) -> str:
    # ensure_ascii=False keeps names readable; _text guarantees the result encodes as UTF-8.
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _text(value: str) -> str:
    """`value` as valid UTF-8 text: undecodable file-name bytes become U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:  # os.fsdecode keeps undecodable bytes as surrogate escapes: recover them first
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates, not from a file name
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def _optional_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _similarity(value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"similarity must be a finite number, got {value}")
    # float32 dot products of unit vectors can land a hair outside [-1, 1].
    return round(min(1.0, max(-1.0, value)), 6)


def _latency(value: float | None) -> float | None:
    return None if value is None else round(max(0.0, float(value)), 3)


def _timestamp(value: datetime, what: str) -> str:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"{what} must be timezone-aware (ISO 8601 needs its UTC offset)")
    if offset.total_seconds() % 60:  # ISO 8601 offsets are whole minutes
        value = value.astimezone(UTC)
    return value.isoformat()
