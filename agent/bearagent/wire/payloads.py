"""Typed builders for the JSON payloads the agent publishes (``schema_version`` 3).

`schemas/events.schema.json` (package data) is the reference that consumers and
our tests validate against; every builder here returns JSON text that conforms
to it, and `encounter_payload` is the one place an encounter event is built.
Camera, site and file names come from the file system, so they may hold
anything: NUL, wildcards, or bytes that are not UTF-8 (Python keeps those as
lone surrogates). They are made valid UTF-8 here, never dropped or put in topics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal
from uuid import UUID

from bearagent.chips.capture import Detection, TimeSource
from bearagent.decisions import Decision, DecisionRule, Outcome
from bearagent.matching.knn import Candidate
from bearagent.wire import jsontext as jt
from bearagent.wire.channels import EncounterChannel

#: Version of the payload format; a change an older consumer cannot read bumps it.
SCHEMA_VERSION = 3
STATUS_ONLINE = "online"
STATUS_OFFLINE = "offline"
#: Provisional ids carry the agent id, so they are unique across a fleet.
PROVISIONAL_ID = re.compile(r"^unknown-[A-Za-z0-9][A-Za-z0-9_.-]{0,63}-[0-9]{4,}$")
#: An ``end`` (or ``amended``) event lists at most this many of its encounter's chips.
MAX_END_CHIPS = 200
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SightingType(StrEnum):
    """Where a sighting event sits in its encounter."""

    NEW = "new"
    UPDATE = "update"
    END = "end"
    MERGED = "merged"
    AMENDED = "amended"  # late chips joined it after its `end`: its final state again


@dataclass(frozen=True)
class ModelRef:
    """The embedder behind a decision: its card's name and the model file's SHA-256."""

    name: str
    sha256: str


@dataclass(frozen=True)
class ChipRef:
    """One chip of an encounter, as an ``end`` event lists it."""

    file: str  # relative to the watch root
    captured_at: datetime
    time_source: TimeSource


@dataclass(frozen=True)
class Origin:
    """Where the event's chip came from."""

    agent_id: str
    site: str
    camera: str
    chip: ChipRef
    detection: Detection | None = None


@dataclass(frozen=True)
class EncounterRef:
    """The encounter an event belongs to."""

    encounter_id: str
    chip_count: int
    started_at: datetime
    last_captured_at: datetime
    chips: tuple[ChipRef, ...] = ()  # listed in `end` and `amended` events only
    merged_into: str | None = None  # `merged` events only


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
    mtime_dated: int = 0
    decisions: dict[str, int] = field(default_factory=dict)  # ended encounters by outcome


@dataclass(frozen=True)
class StreamPosition:
    """Where the box's outbox stream stands (in ``stats``): the station learns a box's latest
    sequence number from it even when it lost everything the box sent."""

    stream: str
    head: int  # latest sequence number given out
    unconfirmed: int  # published messages kept for the station's receipt
    expired_through: int  # every sequence number up to this was dropped unconfirmed


@dataclass(frozen=True)
class Identity:
    """What a chip or an encounter was before or after a correction."""

    status: Literal["known", "review", "unknown", "rejected"]
    individual_id: str | None
    name: str | None


def status_payload(online: bool) -> str:
    """The plain-text payload of the retained ``status`` topic."""
    return STATUS_ONLINE if online else STATUS_OFFLINE


def encounter_payload(
    channel: EncounterChannel,
    kind: SightingType,
    *,
    event_id: UUID,
    origin: Origin,
    encounter: EncounterRef,
    model: ModelRef,
    decision: Decision,
    processed_at: datetime | None = None,
) -> str:
    """JSON text of an encounter event: a ``sighting`` (`kind`) or the ``unknown`` alert."""
    if encounter.chip_count < 1:
        raise ValueError(f"an encounter has at least one chip, got {encounter.chip_count}")
    if not _SHA256.match(model.sha256):
        raise ValueError(f"model sha256 must be 64 lower-case hex digits, got {model.sha256!r}")
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event": channel,
        "event_id": str(event_id),
        "agent_id": jt.text(origin.agent_id),
        "site": jt.text(origin.site),
        "camera": jt.text(origin.camera),
        "captured_at": jt.timestamp(origin.chip.captured_at, "captured_at"),
        "time_source": origin.chip.time_source,
        "processed_at": jt.timestamp(processed_at or datetime.now(UTC), "processed_at"),
        "file": jt.text(origin.chip.file),
        "detection": _detection(origin.detection),
        "model": {"name": jt.text(model.name), "sha256": model.sha256},
        "decision": decision_fields(decision),
        "top_k": [_candidate(c) for c in decision.candidates],
        "encounter_id": jt.text(encounter.encounter_id),
        "chip_count": encounter.chip_count,
        "started_at": jt.timestamp(encounter.started_at, "started_at"),
        "last_captured_at": jt.timestamp(encounter.last_captured_at, "last_captured_at"),
    }
    if channel == "unknown":
        if decision.outcome is not Outcome.UNKNOWN or not _is_provisional(decision.individual_id):
            raise ValueError(
                "an unknown alert needs an 'unknown' decision naming its new provisional id "
                f"(unknown-<agent_id>-NNNN), got {decision.outcome} {decision.individual_id!r}"
            )
        body["provisional_id"] = decision.individual_id
        return jt.dumps(body)
    body["type"] = SightingType(kind).value
    if kind is SightingType.MERGED:
        if not encounter.merged_into:
            raise ValueError("a 'merged' event needs the encounter it merged into")
        body["merged_into"] = jt.text(encounter.merged_into)
    if kind in (SightingType.END, SightingType.AMENDED):
        body["chips"] = [
            {
                "file": jt.text(c.file),
                "captured_at": jt.timestamp(c.captured_at, "captured_at"),
                "time_source": c.time_source,
            }
            for c in encounter.chips[:MAX_END_CHIPS]
        ]
    return jt.dumps(body)


def decision_fields(decision: Decision) -> dict[str, Any]:
    """The ``decision`` object of an event (also kept with the encounter's row)."""
    if decision.outcome is Outcome.REVIEW and decision.individual_id is not None:
        raise ValueError("a 'review' decision names no individual: a person decides")
    if decision.outcome is not Outcome.REVIEW and decision.individual_id is None:
        raise ValueError(f"a {decision.outcome.value!r} decision must name its individual")
    rule = decision.rule
    return {
        "status": decision.outcome.value,
        "individual_id": jt.optional_text(decision.individual_id),
        "name": jt.optional_text(decision.name),
        "provisional": bool(decision.provisional),
        "score": {"name": rule.score, "value": jt.finite(decision.score, "score")},
        "similarity": jt.similarity(decision.similarity),
        "thresholds": {
            "known": jt.finite(rule.known, "known threshold"),
            "unknown": jt.finite(rule.unknown, "unknown threshold"),
            "source": rule.source,
        },
    }


def correction_payload(
    *,
    event_id: UUID,
    agent_id: str,
    by: str,
    action: Literal["confirm", "assign", "create", "merge", "rename", "reject", "undo"],
    encounter_id: str | None,
    files: Sequence[str],
    before: Identity,
    after: Identity,
    undoes: UUID | None = None,
    note: str | None = None,
    corrected_at: datetime | None = None,
) -> str:
    """JSON text of a ``correction`` event: a person's decision on the review page."""
    if action == "undo" and undoes is None:
        raise ValueError("an 'undo' correction names the correction it reverses (undoes)")
    return jt.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "event": "correction",
            "event_id": str(event_id),
            "agent_id": jt.text(agent_id),
            "corrected_at": jt.timestamp(corrected_at or datetime.now(UTC), "corrected_at"),
            "by": jt.text(by) or "?",
            "action": action,
            "encounter_id": jt.optional_text(encounter_id),
            "files": [jt.text(f) for f in files],
            "before": _identity(before),
            "after": _identity(after),
            "undoes": None if undoes is None else str(undoes),
            "note": jt.optional_text(note),
        }
    )


def stats_payload(
    *,
    agent_id: str,
    stats: Stats,
    outbox_size: int,
    published: int,
    uptime_s: float,
    refused: int = 0,
    sent_at: datetime | None = None,
    position: StreamPosition | None = None,
) -> str:
    """JSON text of a ``stats`` message."""
    latency = stats.latency_ms
    body: dict[str, Any] = {}
    if position is not None:
        body = {
            "stream": position.stream,
            "seq_head": position.head,
            "unconfirmed": position.unconfirmed,
            "expired_through": position.expired_through,
        }
    return jt.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "event": "stats",
            "agent_id": jt.text(agent_id),
            "sent_at": jt.timestamp(sent_at or datetime.now(UTC), "sent_at"),
            "uptime_s": round(max(0.0, uptime_s), 3),
            "processed": stats.processed,
            "rejected": stats.rejected,
            "mtime_dated": stats.mtime_dated,
            "queue_depth": stats.queue_depth,
            "outbox_size": outbox_size,
            "published": published,
            "refused": refused,
            "decisions": {o.value: int(stats.decisions.get(o.value, 0)) for o in Outcome},
            "latency_ms": {
                "p50": jt.latency(latency.p50),
                "p95": jt.latency(latency.p95),
                "p99": jt.latency(latency.p99),
            },
            **body,
        }
    )


@cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every JSON payload, from the package data."""
    text = resources.files("bearagent").joinpath("schemas/events.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_provisional(individual_id: str | None) -> bool:
    return individual_id is not None and PROVISIONAL_ID.match(individual_id) is not None


def _candidate(c: Candidate) -> dict[str, Any]:
    return {
        "individual_id": jt.text(c.individual_id),
        "name": jt.optional_text(c.name),
        "similarity": jt.similarity(c.similarity),
    }


def _identity(i: Identity) -> dict[str, Any]:
    return {
        "status": i.status,
        "individual_id": jt.optional_text(i.individual_id),
        "name": jt.optional_text(i.name),
    }


def _detection(d: Detection | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "source_frame": jt.optional_text(d.source_frame),
        "box": None if d.box is None else [jt.finite(v, "box") for v in d.box],
        "score": None if d.score is None else jt.finite(d.score, "detector score"),
        "detector": jt.optional_text(d.detector),
    }


def decision_from_fields(fields: dict[str, Any], top_k: Sequence[dict[str, Any]]) -> Decision:
    """The `Decision` an event's ``decision`` and ``top_k`` objects describe (crash recovery)."""
    thresholds = fields["thresholds"]
    return Decision(
        outcome=Outcome(fields["status"]),
        individual_id=fields["individual_id"],
        name=fields["name"],
        provisional=bool(fields["provisional"]),
        score=float(fields["score"]["value"]),
        similarity=float(fields["similarity"]),
        rule=DecisionRule(
            fields["score"]["name"],
            float(thresholds["known"]),
            float(thresholds["unknown"]),
            thresholds["source"],
        ),
        candidates=tuple(
            Candidate(
                c["individual_id"],
                c["name"],
                "provisional" if PROVISIONAL_ID.match(c["individual_id"]) else "known",
                float(c["similarity"]),
            )
            for c in top_k
        ),
    )
