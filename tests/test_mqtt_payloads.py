"""Every payload builder's output validates against schemas/events.schema.json (v2)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bearagent.decisions import Outcome
from bearagent.wire.payloads import (
    ChipRef,
    EncounterRef,
    Identity,
    Origin,
    Percentiles,
    SightingType,
    Stats,
    correction_payload,
    decision_from_fields,
    encounter_payload,
    load_schema,
    stats_payload,
    status_payload,
)
from support.mqtt_helpers import (
    CAPTURED,
    MODEL,
    known_decision,
    sample_sighting,
    sample_unknown,
    unknown_decision,
)

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


def event(
    decision: Any = None,
    kind: SightingType = SightingType.NEW,
    channel: Any = "sighting",
    origin: Origin | None = None,
    chips: tuple[ChipRef, ...] = (),
    merged_into: str | None = None,
) -> str:
    chip = ChipRef("kuhmo/cam02/x.jpg", CAPTURED, "filename")
    return encounter_payload(
        channel,
        kind,
        event_id=uuid.uuid4(),
        origin=origin or Origin("den-01", "kuhmo", "cam02", chip),
        encounter=EncounterRef("enc-1", 2, CAPTURED, CAPTURED, chips, merged_into),
        model=MODEL,
        decision=decision or known_decision(),
    )


def test_the_schema_itself_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("kind", list(SightingType))
def test_sighting_payload(kind: SightingType) -> None:
    eid = uuid.uuid4()
    doc = validate(sample_sighting(eid, kind=kind, n=3), "sighting")
    assert doc["event"] == "sighting" and doc["type"] == kind.value
    assert doc["event_id"] == str(eid) and doc["schema_version"] == 3
    assert doc["captured_at"] == "2026-05-14T06:15:02+02:00"
    assert doc["time_source"] == "filename"
    assert doc["processed_at"] == "2026-05-14T04:15:03.250000+00:00"
    assert doc["decision"] == {
        "status": "known",
        "individual_id": "bear-0007",
        "name": "Otso",
        "provisional": False,
        "score": {"name": "best", "value": 0.83},
        "similarity": 0.83,
        "thresholds": {"known": 0.7, "unknown": 0.5, "source": "card"},
    }
    assert [c["individual_id"] for c in doc["top_k"]] == ["bear-0007", "bear-0002"]
    assert doc["model"] == {"name": MODEL.name, "sha256": MODEL.sha256}
    assert (doc["encounter_id"], doc["chip_count"]) == ("enc-000003", 3)
    assert ("chips" in doc) == (kind in (SightingType.END, SightingType.AMENDED))
    assert ("merged_into" in doc) == (kind is SightingType.MERGED)


def test_a_review_sighting_names_no_individual_and_lists_its_proposals() -> None:
    review = replace(known_decision(), outcome=Outcome.REVIEW, individual_id=None, name=None)
    doc = validate(event(review), "sighting")
    assert doc["decision"]["status"] == "review" and doc["decision"]["individual_id"] is None
    assert doc["top_k"][0]["individual_id"] == "bear-0007"
    with pytest.raises(ValueError, match="a 'review' decision names no individual"):
        event(replace(review, individual_id="bear-0007"))
    with pytest.raises(ValueError, match="a 'known' decision must name its individual"):
        event(replace(known_decision(), individual_id=None))


def test_the_schema_ties_status_and_individual_together() -> None:
    doc = json.loads(event())
    for broken in (
        {**doc, "decision": {**doc["decision"], "status": "review"}},  # review names nobody
        {**doc, "decision": {**doc["decision"], "status": "unknown"}},  # not a provisional id
        {**doc, "decision": {**doc["decision"], "individual_id": None}},  # known names someone
        {**doc, "time_source": "guess"},
        {**doc, "type": "merged"},  # a merge says into which encounter
        {**doc, "type": "end"},  # an end lists its chips
        {**doc, "merged_into": "enc-2"},  # only a merge says so
    ):
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate(broken)


def test_end_lists_the_chips_and_merged_names_the_survivor() -> None:
    chips = tuple(
        ChipRef(f"kuhmo/cam02/{i}.jpg", CAPTURED + timedelta(seconds=i), "exif") for i in range(3)
    )
    end = validate(event(kind=SightingType.END, chips=chips), "sighting")
    assert [c["file"] for c in end["chips"]] == ["kuhmo/cam02/0.jpg", "kuhmo/cam02/1.jpg",
                                                 "kuhmo/cam02/2.jpg"]  # fmt: skip
    merged = validate(event(kind=SightingType.MERGED, merged_into="enc-0"), "sighting")
    assert merged["merged_into"] == "enc-0"
    with pytest.raises(ValueError, match="a 'merged' event needs the encounter it merged into"):
        event(kind=SightingType.MERGED)


def test_unknown_payload() -> None:
    doc = validate(sample_unknown(uuid.uuid4()), "unknown")
    assert doc["event"] == "unknown" and doc["provisional_id"] == "unknown-den-01-0001"
    d = doc["decision"]
    assert (d["status"], d["individual_id"], d["provisional"], d["name"]) == (
        "unknown",
        "unknown-den-01-0001",
        True,
        None,
    )
    with pytest.raises(jsonschema.ValidationError):  # an unknown alert is not a sighting
        VALIDATOR.evolve(schema={"$ref": "#/$defs/sighting", **SCHEMA}).validate(doc)


def test_unknown_payload_needs_a_fleet_unique_provisional_id() -> None:
    with pytest.raises(ValueError, match=r"unknown-<agent_id>-NNNN"):
        event(unknown_decision("unknown-0007"), channel="unknown")
    with pytest.raises(ValueError, match="an unknown alert needs an 'unknown' decision"):
        event(known_decision(), channel="unknown")


def test_the_detection_from_a_sidecar_travels_with_the_event() -> None:
    from bearagent.chips import Detection

    chip = ChipRef("kuhmo/cam02/x.jpg", CAPTURED, "sidecar")
    detection = Detection("DCIM/IMG_0001.JPG", (1.0, 2.0, 30.0, 40.0), 0.9, "det v1")
    doc = validate(event(origin=Origin("den-01", "kuhmo", "cam02", chip, detection)), "sighting")
    assert doc["detection"] == {
        "source_frame": "DCIM/IMG_0001.JPG",
        "box": [1.0, 2.0, 30.0, 40.0],
        "score": 0.9,
        "detector": "det v1",
    }
    assert validate(event(), "sighting")["detection"] is None


def test_a_decision_survives_its_json_for_crash_recovery() -> None:
    doc = json.loads(sample_sighting(uuid.uuid4()))
    again = decision_from_fields(doc["decision"], doc["top_k"])
    assert again == known_decision()


def test_correction_payload() -> None:
    undone = uuid.uuid4()
    doc = validate(
        correction_payload(
            event_id=uuid.uuid4(),
            agent_id="den-01",
            by="maria",
            action="assign",
            encounter_id="enc-1",
            files=["kuhmo/cam02/a.jpg", "kuhmo/cam02/b.jpg"],
            before=Identity("review", None, None),
            after=Identity("known", "bear-0007", "Otso"),
        ),
        "correction",
    )
    assert (doc["action"], doc["by"], doc["undoes"]) == ("assign", "maria", None)
    assert doc["after"] == {"status": "known", "individual_id": "bear-0007", "name": "Otso"}
    undo = validate(
        correction_payload(
            event_id=uuid.uuid4(), agent_id="den-01", by="maria", action="undo",
            encounter_id="enc-1", files=[], before=Identity("known", "bear-0007", "Otso"),
            after=Identity("review", None, None), undoes=undone,
        ),
        "correction",
    )  # fmt: skip
    assert undo["undoes"] == str(undone)
    with pytest.raises(ValueError, match="names the correction it reverses"):
        correction_payload(
            event_id=uuid.uuid4(), agent_id="a", by="b", action="undo", encounter_id=None,
            files=[], before=Identity("known", "x", None), after=Identity("known", "y", None),
        )  # fmt: skip


def test_stats_payload() -> None:
    text = stats_payload(
        agent_id="den-01",
        stats=Stats(
            processed=120,
            rejected=3,
            queue_depth=7,
            latency_ms=Percentiles(41.5, 80, 95),
            mtime_dated=4,
            decisions={"known": 10, "review": 2},
        ),
        outbox_size=2,
        published=118,
        uptime_s=3600.25,
        refused=1,
    )
    doc = validate(text, "stats")
    assert doc["latency_ms"] == {"p50": 41.5, "p95": 80.0, "p99": 95.0}
    assert (doc["processed"], doc["rejected"], doc["queue_depth"]) == (120, 3, 7)
    assert (doc["outbox_size"], doc["published"], doc["refused"]) == (2, 118, 1)
    assert doc["mtime_dated"] == 4
    assert doc["decisions"] == {"known": 10, "review": 2, "unknown": 0}
    empty = stats_payload(
        agent_id="x", stats=Stats(0, 0, 0, Percentiles()), outbox_size=0, published=0, uptime_s=0
    )
    assert validate(empty, "stats")["latency_ms"]["p50"] is None


def test_status_payloads_are_plain_text() -> None:
    assert (status_payload(True), status_payload(False)) == ("online", "offline")


def test_similarity_is_clamped_to_the_cosine_range_and_nan_refused() -> None:
    text = event(replace(known_decision(), similarity=1.0000001))  # float32 rounding
    assert validate(text, "sighting")["decision"]["similarity"] == 1.0
    with pytest.raises(ValueError, match="finite"):
        event(replace(known_decision(), similarity=float("nan")))
    with pytest.raises(ValueError, match="score must be a finite number"):
        event(replace(known_decision(), score=float("inf")))


def test_naive_capture_time_is_refused() -> None:
    chip = ChipRef("f.jpg", datetime(2026, 5, 14, 6, 15), "mtime")
    with pytest.raises(ValueError, match="captured_at must be timezone-aware"):
        event(origin=Origin("a", "s", "c", chip))


def test_a_broken_payload_fails_the_schema() -> None:
    doc = json.loads(sample_sighting(uuid.uuid4()))
    for broken in (
        {**doc, "type": "begin"},
        {**doc, "captured_at": "2026-05-14T06:15:02"},  # no offset
        {**doc, "extra": 1},
        {**doc, "schema_version": 1},
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
    decision = replace(
        known_decision(),
        name=name,
        candidates=tuple(replace(c, name=name) for c in known_decision().candidates),
    )
    text = encounter_payload(
        "sighting",
        SightingType.UPDATE,
        event_id=uuid.uuid4(),
        origin=Origin("den-01", site, camera, ChipRef(file, captured, "exif")),
        encounter=EncounterRef("enc-1", 2, captured, captured),
        model=MODEL,
        decision=decision,
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
    text = event(origin=Origin("den-01", "s", camera, ChipRef(file, CAPTURED, "mtime")))
    doc = validate(text.encode("utf-8").decode("utf-8"), "sighting")
    raw = file.encode("utf-8", "surrogateescape")
    assert doc["file"] == raw.decode("utf-8", "replace")


def test_processed_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    doc = json.loads(sample_unknown(uuid.uuid4()))
    assert before <= datetime.fromisoformat(doc["processed_at"]) <= datetime.now(UTC)
