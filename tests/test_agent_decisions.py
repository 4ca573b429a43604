"""Decisions a biologist can trust, end to end: a real agent on real files with a real
gallery and a real broker. One encounter per bear at a camera, capture times from the
camera (sidecar, file name) rather than the copy, known / review / unknown, format-1
cards, and `identify` deciding as `run` does."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import pytest
from jsonschema import Draft202012Validator

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.gallery.fleet_ids import fleet_id_of
from bearagent.identify import identify_files
from bearagent.modelcard import METADATA_KEY, sha256_file, sidecar_path
from bearagent.store import open_database
from bearagent.wire.payloads import load_schema
from beartrain.synthetic import encode_jpeg
from support.agent_world import World, make_world
from support.broker import Mosquitto
from support.models import card_dict_v1
from support.pixel_model import DIM, SIZE
from support.subscriber import Message, Subscriber

T0 = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)
VALIDATOR = Draft202012Validator(load_schema())
Chip = tuple[str, np.ndarray, datetime]  # file name, BGR pixels, capture time


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def config(world: World, broker: Mosquitto, **sections: dict[str, Any]) -> AgentConfig:
    base: dict[str, Any] = {
        "agent": {"id": "box1", "database": str(world.database), "timezone": "UTC"},
        "watch": {"roots": [str(world.traps)], "stable_after_s": 0.3},
        "runtime": {"model": str(world.model)},
        "encounter": {"gap_s": 60, "end_after_s": 1.5},
        "mqtt": {"host": broker.host, "port": broker.port, "stats_interval_s": 3600},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return AgentConfig.model_validate(base)


@pytest.fixture
def running(world: World, broker: Mosquitto) -> Iterator[Callable[..., Agent]]:
    started: list[Agent] = []

    def start(**sections: dict[str, Any]) -> Agent:
        agent = Agent(config(world, broker, **sections))
        agent.start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def write_chips(world: World, camera: str, chips: Sequence[Chip], *, exif: bool = True) -> None:
    """Write chips like an upload: a temporary name, then a rename into place, in order."""
    folder = world.traps / "north" / camera
    folder.mkdir(parents=True, exist_ok=True)
    for name, pixels, when in chips:
        data = encode_jpeg(pixels, when) if exif else cv2.imencode(".jpg", pixels)[1].tobytes()
        temp = folder / f".{name}.part"
        temp.write_bytes(data)
        os.rename(temp, folder / name)


def until_ended(sub: Subscriber, encounters: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Encounter events until `encounters` `end` events arrived; each one checked against the
    schema."""
    got: list[dict[str, Any]] = []
    while sum(1 for e in got if e.get("type") == "end") < encounters:
        message: Message = sub.get(timeout)
        if message.channel not in ("sighting", "unknown"):
            continue  # status, and what is not an encounter event (feed, chip, stats)
        event = message.json()
        VALIDATOR.validate(event)
        got.append(event)
    return got


def pixels_of(world: World, who: str) -> list[np.ndarray]:
    return [chip for _, chip in world.unseen[who]]


def test_an_interleaved_two_bear_burst_gives_two_encounters_with_the_right_ids(
    world: World, broker: Mosquitto, running: Callable[..., Agent], subscribe: Callable[..., Any]
) -> None:
    sow, cub = sorted(world.unseen)[:2]
    a, b = pixels_of(world, sow), pixels_of(world, cub)
    n = min(len(a), len(b))
    stream: list[Chip] = []
    for i in range(n):  # a second apart, alternating, on one camera
        stream.append((f"cam01_{i:02d}a.jpg", a[i], T0 + timedelta(seconds=2 * i)))
        stream.append((f"cam01_{i:02d}b.jpg", b[i], T0 + timedelta(seconds=2 * i + 1)))
    sub = subscribe(broker, "bearid/box1/+")
    running()
    write_chips(world, "cam01", stream)
    events = until_ended(sub, 2)
    ends = [e for e in events if e["type"] == "end"]
    assert sorted((e["decision"]["name"], e["chip_count"]) for e in ends) == sorted(
        [(sow, n), (cub, n)]
    )
    for e in ends:  # each encounter holds only its own bear's chips
        suffix = "a" if e["decision"]["name"] == sow else "b"
        assert {Path(c["file"]).stem[-1] for c in e["chips"]} == {suffix}
    # No encounter ever flipped to the other bear.
    names = {(e["encounter_id"], e["decision"]["name"]) for e in events}
    assert len(names) == 2


def test_two_bears_one_after_the_other_within_the_gap_give_two_encounters(
    world: World, broker: Mosquitto, running: Callable[..., Agent], subscribe: Callable[..., Any]
) -> None:
    first, second = sorted(world.unseen)[:2]
    stream = [(f"f{i}.jpg", p, T0 + timedelta(seconds=i)) for i, p in
              enumerate(pixels_of(world, first))]  # fmt: skip
    stream += [(f"s{i}.jpg", p, T0 + timedelta(seconds=20 + i)) for i, p in
               enumerate(pixels_of(world, second))]  # fmt: skip
    sub = subscribe(broker, "bearid/box1/+")
    running()
    write_chips(world, "cam01", stream)
    ends = [e for e in until_ended(sub, 2) if e["type"] == "end"]
    assert sorted(e["decision"]["name"] for e in ends) == sorted([first, second])


def test_names_carrying_times_hours_apart_give_separate_encounters_dated_by_the_name(
    world: World, broker: Mosquitto, running: Callable[..., Agent], subscribe: Callable[..., Any]
) -> None:
    """Chips an upstream cropper wrote without EXIF, copied in one go: the names are the
    only record of when they were taken."""
    who = sorted(world.unseen)[0]
    p = pixels_of(world, who)
    visits = [T0, T0 + timedelta(hours=3)]
    stream = [  # different pixels each: a copy of a processed chip is skipped as a duplicate
        (f"cam10_{t:%Y%m%d-%H%M%S}_{2 * v + i:05d}.jpg", p[(2 * v + i) % len(p)], t)
        for v, when in enumerate(visits)
        for i, t in enumerate([when, when + timedelta(seconds=1)])
    ]
    sub = subscribe(broker, "bearid/box1/+")
    running()
    write_chips(world, "cam10", stream, exif=False)
    events = until_ended(sub, 2)
    ends = sorted((e for e in events if e["type"] == "end"), key=lambda e: e["started_at"])
    assert [datetime.fromisoformat(e["started_at"]) for e in ends] == visits
    assert all(e["time_source"] == "filename" for e in events)
    assert all(c["time_source"] == "filename" for e in ends for c in e["chips"])
    db = open_database(world.database)
    assert (
        db.execute("SELECT COUNT(*) FROM sightings WHERE time_source = 'mtime'").fetchone()[0] == 0
    )


def test_a_sidecar_time_wins_over_mtime_and_the_sidecar_is_not_a_chip(
    world: World, broker: Mosquitto, running: Callable[..., Agent], subscribe: Callable[..., Any]
) -> None:
    who = sorted(world.unseen)[0]
    folder = world.traps / "north" / "cam03"
    folder.mkdir(parents=True)
    taken = datetime(2026, 6, 30, 5, 12, 7, tzinfo=UTC)
    sub = subscribe(broker, "bearid/box1/+")
    running()
    for i, pixels in enumerate(pixels_of(world, who)[:2]):
        chip = folder / f"crop_{i:04d}.jpg"
        # The detector writes the sidecar first, then renames the chip into place.
        sidecar_path(chip).write_text(json.dumps({
            "captured_at": (taken + timedelta(seconds=i)).isoformat(),
            "source_frame": f"DCIM/100RECNX/RCNX{i:04d}.JPG",
            "box": [12, 30, 200, 180],
            "score": 0.97,
        }))  # fmt: skip
        temp = folder / f".{chip.name}.part"
        temp.write_bytes(cv2.imencode(".jpg", pixels)[1].tobytes())
        os.rename(temp, chip)
    events = until_ended(sub, 1)
    first = events[0]
    assert (first["time_source"], datetime.fromisoformat(first["captured_at"])) == (
        "sidecar",
        taken,
    )
    assert first["detection"]["source_frame"] == "DCIM/100RECNX/RCNX0000.JPG"
    assert first["detection"]["box"] == [12.0, 30.0, 200.0, 180.0]
    db = open_database(world.database)
    files = db.execute("SELECT path, status FROM files ORDER BY path").fetchall()
    assert files == [("north/cam03/crop_0000.jpg", "processed"),
                     ("north/cam03/crop_0001.jpg", "processed")]  # fmt: skip
    detection = db.execute("SELECT detection FROM sightings ORDER BY id LIMIT 1").fetchone()[0]
    assert json.loads(detection)["score"] == 0.97


def write_v1_card(model: Path, threshold: float) -> None:
    """Replace the model's card with a format-1 one, inside the ONNX file and beside it."""
    card = card_dict_v1(
        model={"name": "pixel-test-v1", "backbone": "none"},
        input={"height": SIZE, "width": SIZE, "colour_order": "RGB", "resize": "stretch",
               "interpolation": "area", "mean": [0.5] * 3, "std": [0.25] * 3},
        embedding={"size": DIM, "l2_normalised": True},
        threshold={"value": threshold, "method": "manual"},
    )  # fmt: skip
    proto = onnx.load(str(model))
    for prop in proto.metadata_props:
        if prop.key == METADATA_KEY:
            prop.value = json.dumps(card)
    onnx.save(proto, str(model))
    card["model"]["sha256"] = sha256_file(model)
    sidecar_path(model).write_text(json.dumps(card))


def test_a_format_1_card_still_runs_with_one_threshold_and_no_review(
    tmp_path: Path, broker: Mosquitto, subscribe: Callable[..., Any]
) -> None:
    world = make_world(tmp_path)
    write_v1_card(world.model, 0.9)
    # The gallery was enrolled with the same weights, but the file (and its sha) changed.
    open_database(world.database).execute(
        "UPDATE reference_embeddings SET model_sha256 = ?", [sha256_file(world.model)]
    ).connection.commit()
    sub = subscribe(broker, "bearid/box1/+")
    agent = Agent(config(world, broker))
    agent.start()
    try:
        who = sorted(world.unseen)[0]
        write_chips(world, "cam01", [(f"{i}.jpg", p, T0 + timedelta(seconds=i))
                                     for i, p in enumerate(pixels_of(world, who))])  # fmt: skip
        end = next(e for e in until_ended(sub, 1) if e["type"] == "end")
    finally:
        agent.stop()
    assert end["decision"]["name"] == who and end["decision"]["status"] == "known"
    assert end["decision"]["thresholds"] == {"known": 0.9, "unknown": 0.9, "source": "card"}
    assert end["decision"]["score"]["name"] == "best"


def provisional_count(world: World) -> int:
    db = open_database(world.database)
    n: int = db.execute("SELECT COUNT(*) FROM individuals WHERE kind = 'provisional'").fetchone()[0]
    return n


def test_review_creates_no_individual_and_unknown_creates_exactly_one_alert(
    world: World, broker: Mosquitto, running: Callable[..., Agent], subscribe: Callable[..., Any]
) -> None:
    """The stranger scores ~0.87 against the gallery under the test model: with the
    review band from 0.85 it is left to a person; with it from 0.9, it is a new bear."""
    sub = subscribe(broker, "bearid/box1/+")
    agent = running(decision={"known_threshold": 0.95, "unknown_threshold": 0.85})
    stranger = [c for _, c in world.stranger[0]]
    write_chips(world, "cam01", [(f"a{i}.jpg", p, T0 + timedelta(seconds=i))
                                 for i, p in enumerate(stranger)])  # fmt: skip
    events = until_ended(sub, 1)
    assert {e["decision"]["status"] for e in events} == {"review"}
    assert all(e["event"] == "sighting" and e["decision"]["individual_id"] is None for e in events)
    assert events[-1]["top_k"] and provisional_count(world) == 0
    agent.stop()
    running(decision={"known_threshold": 0.95, "unknown_threshold": 0.9})
    second = [c for _, c in world.stranger[1]]
    write_chips(world, "cam02", [(f"b{i}.jpg", p, T0 + timedelta(hours=2, seconds=i))
                                 for i, p in enumerate(second)])  # fmt: skip
    events = until_ended(sub, 1)
    alerts = [e for e in events if e["event"] == "unknown"]
    assert len(alerts) == 1 and alerts[0]["provisional_id"] == "unknown-box1-0001"
    assert events[-1]["decision"] == {**events[-1]["decision"], "status": "unknown",
                                      "individual_id": "unknown-box1-0001"}  # fmt: skip
    assert provisional_count(world) == 1


def test_identify_and_run_agree_on_the_same_chips(
    world: World, broker: Mosquitto, running: Callable[..., Agent], subscribe: Callable[..., Any]
) -> None:
    who = sorted(world.unseen)[1]
    chips = [
        (f"{i}.jpg", p, T0 + timedelta(seconds=i)) for i, p in enumerate(pixels_of(world, who))
    ] + [
        (f"s{i}.jpg", p, T0 + timedelta(hours=1, seconds=i))
        for i, (_, p) in enumerate(world.stranger[0])
    ]
    cfg = config(world, broker, decision={"known_threshold": 0.95, "unknown_threshold": 0.85})
    files = []
    for name, pixels, when in chips:
        path = world.traps.parent / "copies" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(encode_jpeg(pixels, when))
        files.append(path)
    _, alone = identify_files(cfg, files)
    _, known_encounter = identify_files(cfg, files[: len(world.unseen[who])], encounter=True)
    sub = subscribe(broker, "bearid/box1/+")
    running(decision={"known_threshold": 0.95, "unknown_threshold": 0.85})
    write_chips(world, "cam01", chips)
    ends = [e for e in until_ended(sub, 2) if e["type"] == "end"]
    (theirs,) = known_encounter
    mine = next(e for e in ends if e["decision"]["status"] == "known")
    assert theirs.decision.individual_id is not None
    assert (mine["decision"]["individual_id"], mine["decision"]["status"]) == (
        fleet_id_of("box1", theirs.decision.individual_id),  # the agent's start gave it box1's id
        theirs.decision.outcome.value,
    )
    assert mine["decision"]["score"]["value"] == pytest.approx(theirs.decision.score, abs=1e-5)
    db = open_database(world.database)
    run_outcomes = dict(db.execute("SELECT file, outcome FROM sightings").fetchall())
    for path, result in zip(files, alone, strict=True):
        assert run_outcomes[f"north/cam01/{path.name}"] == result.decision.outcome.value
