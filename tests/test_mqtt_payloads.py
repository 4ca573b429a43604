"""Every payload builder's output validates against schemas/events.schema.json."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bearagent.mqtt import (
    Candidate,
    Decision,
    Encounter,
    Origin,
    Percentiles,
    SightingType,
    Stats,
    load_schema,
    sighting_payload,
    stats_payload,
    status_payload,
    unknown_payload,
)
from support.mqtt_helpers import CAPTURED, MODEL, sample_sighting

SCHEMA = load_schema()
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def validate(text: str, definition: str) -> dict[str, Any]:
    """Parse `text`, check it against the whole schema and its own definition."""
    doc: dict[str, Any] = json.loads(text)
    VALIDATOR.validate(doc)
    VALIDATOR.evolve(schema={"$ref": f"#/$defs/{definition}", **SCHEMA}).validate(doc)
    return doc


def test_the_schema_itself_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("kind", list(SightingType))
def test_sighting_payload(kind: SightingType) -> None:
    eid = uuid.uuid4()
    doc = validate(sample_sighting(eid, kind=kind, n=3), "sighting")
    assert doc["event"] == "sighting" and doc["type"] == kind.value
    assert doc["event_id"] == str(eid) and doc["schema_version"] == 1
    assert doc["captured_at"] == "2026-05-14T06:15:02+02:00"
    assert doc["processed_at"] == "2026-05-14T04:15:03.250000+00:00"
    assert doc["decision"] == {
        "individual_id": "bear-07",
        "name": "Otso",
        "similarity": 0.83,
        "threshold": 0.61,
    }
    assert [c["individual_id"] for c in doc["top_k"]] == ["bear-07", "bear-02"]
    assert doc["model"] == {"name": MODEL.name, "sha256": MODEL.sha256}
    assert (doc["encounter_id"], doc["chip_count"]) == ("enc-000003", 3)


def unknown(decision_id: str = "unknown-0007") -> str:
    return unknown_payload(
        event_id=uuid.uuid4(),
        origin=Origin("den-01", "kuhmo", "cam02", "kuhmo/cam02/x.jpg", CAPTURED),
        encounter=Encounter("enc-9", 2, CAPTURED - timedelta(seconds=3)),
        model=MODEL,
        decision=Decision(decision_id, None, 0.32, 0.61),
        top_k=[Candidate("bear-07", "Otso", 0.32)],
    )


def test_unknown_payload() -> None:
    doc = validate(unknown(), "unknown")
    assert doc["event"] == "unknown" and doc["provisional_id"] == "unknown-0007"
    assert doc["decision"]["individual_id"] == "unknown-0007" and doc["decision"]["name"] is None
    assert doc["started_at"] == "2026-05-14T06:14:59+02:00"
    with pytest.raises(jsonschema.ValidationError):  # an unknown alert is not a sighting
        VALIDATOR.evolve(schema={"$ref": "#/$defs/sighting", **SCHEMA}).validate(doc)


def test_unknown_payload_needs_a_provisional_id() -> None:
    with pytest.raises(ValueError, match="provisional id like 'unknown-0007'"):
        unknown("bear-07")


def test_stats_payload() -> None:
    text = stats_payload(
        agent_id="den-01",
        stats=Stats(processed=120, rejected=3, queue_depth=7, latency_ms=Percentiles(41.5, 80, 95)),
        outbox_size=2,
        published=118,
        uptime_s=3600.25,
    )
    doc = validate(text, "stats")
    assert doc["latency_ms"] == {"p50": 41.5, "p95": 80.0, "p99": 95.0}
    assert (doc["processed"], doc["rejected"], doc["queue_depth"]) == (120, 3, 7)
    assert (doc["outbox_size"], doc["published"]) == (2, 118)
    empty = stats_payload(
        agent_id="x", stats=Stats(0, 0, 0, Percentiles()), outbox_size=0, published=0, uptime_s=0
    )
    assert validate(empty, "stats")["latency_ms"]["p50"] is None


def test_status_payloads_are_plain_text() -> None:
    assert (status_payload(True), status_payload(False)) == ("online", "offline")


def test_similarity_is_clamped_to_the_cosine_range_and_nan_refused() -> None:
    text = sighting_payload(
        SightingType.NEW,
        event_id=uuid.uuid4(),
        origin=Origin("a", "s", "c", "f.jpg", CAPTURED),
        encounter=Encounter("e", 1, CAPTURED),
        model=MODEL,
        decision=Decision("bear-1", None, 1.0000001, 0.5),  # float32 rounding
        top_k=[],
    )
    assert validate(text, "sighting")["decision"]["similarity"] == 1.0
    with pytest.raises(ValueError, match="finite"):
        sighting_payload(
            SightingType.NEW,
            event_id=uuid.uuid4(),
            origin=Origin("a", "s", "c", "f.jpg", CAPTURED),
            encounter=Encounter("e", 1, CAPTURED),
            model=MODEL,
            decision=Decision("bear-1", None, float("nan"), 0.5),
            top_k=[],
        )


def test_naive_capture_time_is_refused() -> None:
    with pytest.raises(ValueError, match="captured_at must be timezone-aware"):
        sighting_payload(
            SightingType.NEW,
            event_id=uuid.uuid4(),
            origin=Origin("a", "s", "c", "f.jpg", datetime(2026, 5, 14, 6, 15)),
            encounter=Encounter("e", 1, CAPTURED),
            model=MODEL,
            decision=Decision("bear-1", None, 0.9, 0.5),
            top_k=[],
        )


def test_a_broken_payload_fails_the_schema() -> None:
    doc = json.loads(sample_sighting(uuid.uuid4()))
    for broken in (
        {**doc, "type": "begin"},
        {**doc, "captured_at": "2026-05-14T06:15:02"},  # no offset
        {**doc, "extra": 1},
        {k: v for k, v in doc.items() if k != "event_id"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate(broken)


names = st.text(max_size=60)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


@settings(max_examples=150, deadline=None)
@given(site=names, camera=names, file=names, name=st.none() | names, tz=offsets)
def test_any_names_give_valid_json_that_round_trips(
    site: str, camera: str, file: str, name: str | None, tz: timezone
) -> None:
    captured = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=tz)
    text = sighting_payload(
        SightingType.UPDATE,
        event_id=uuid.uuid4(),
        origin=Origin("den-01", site, camera, file, captured),
        encounter=Encounter("enc-1", 2, captured),
        model=MODEL,
        decision=Decision("bear-1", name, 0.7, 0.6),
        top_k=[Candidate("bear-1", name, 0.7)],
    )
    text.encode("utf-8")  # publishable as it is
    doc = validate(text, "sighting")
    assert (doc["site"], doc["camera"], doc["file"]) == (site, camera, file)
    assert doc["decision"]["name"] == name
    assert datetime.fromisoformat(doc["captured_at"]) == captured


undecodable = st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape"))


@settings(max_examples=100, deadline=None)
@given(file=undecodable, camera=st.text(st.characters(categories=["Cs"]), max_size=5))
def test_undecodable_file_names_still_give_valid_utf8(file: str, camera: str) -> None:
    """os.fsdecode keeps non-UTF-8 bytes as lone surrogates; payloads must not break on them."""
    text = sighting_payload(
        SightingType.NEW,
        event_id=uuid.uuid4(),
        origin=Origin("den-01", "s", camera, file, CAPTURED),
        encounter=Encounter("enc-1", 1, CAPTURED),
        model=MODEL,
        decision=Decision("bear-1", None, 0.7, 0.6),
        top_k=[],
    )
    doc = validate(text.encode("utf-8").decode("utf-8"), "sighting")
    raw = file.encode("utf-8", "surrogateescape")
    assert doc["file"] == raw.decode("utf-8", "replace")


def test_processed_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    doc = json.loads(unknown())
    assert before <= datetime.fromisoformat(doc["processed_at"]) <= datetime.now(UTC)
