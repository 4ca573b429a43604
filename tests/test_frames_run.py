"""Frames and clips in, end to end: the agent with a real ONNX detector (the grid
detector of support.detector_models) in front of a real embedder, gallery and
database. Frames with 0, 1 and 2 bears give 0, 1 and 2 chips with sidecars and the
encounters their bears make; blanks are counted and never embedded; a clip's chips
are dated from its start; damaged frames and clips are rejected with reasons; a
detector that does not fit its card is refused at start."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.detection import DetectorIncompatible, mark_blanks_published, unpublished_blanks
from bearagent.status import database_status
from bearagent.store import open_database, transaction
from beartrain.synthetic import encode_jpeg
from support.agent_checks import BEARAGENT
from support.agent_world import World, make_world
from support.detector_frames import (
    compose,
    drop_file,
    drop_frame,
    set_mp4_creation_time,
    slot_box,
    write_clip,
)
from support.detector_models import grid_card, write_grid_detector

T0 = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def settings(world: World, detector: Path, **detector_cfg: object) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "agent": {
                "id": "box1",
                "database": str(world.database),
                "state_dir": str(world.database.parent),
                "timezone": "UTC",
                "publisher": "stdout",
            },
            "watch": {"roots": [str(world.traps)], "stable_after_s": 0.3},
            "runtime": {"model": str(world.model)},
            "encounter": {"gap_s": 60, "end_after_s": 1.0},
            # The test embedder compares pixels: chips cut exactly at the box, no margin.
            "detector": {"model": str(detector), "margin": 0.0, **detector_cfg},
        }
    )


@pytest.fixture
def running(world: World, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    started: list[Agent] = []

    def start(**detector_cfg: object) -> Agent:
        detector = write_grid_detector(tmp_path / "faces.onnx")
        agent = Agent(settings(world, detector, **detector_cfg))
        agent.start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the agent")
        time.sleep(0.1)


def rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = open_database(db_path)
    try:
        if not {"frames", "sightings"} <= set(db.table_names()):
            return []
        return [tuple(r) for r in db.execute(sql).fetchall()]
    finally:
        db.conn.close()


def count(db_path: Path, sql: str) -> int:
    found = rows(db_path, sql)
    return int(found[0][0]) if found else 0


def test_frames_with_0_1_2_bears_give_0_1_2_chips_and_their_encounters(
    world: World, running: Callable[..., Agent]
) -> None:
    agent = running()
    (one, chips_one), (a, chips_a), (b, chips_b) = list(world.unseen.items())
    north = world.traps / "north"
    for i in range(2):  # wind in the grass
        drop_frame(north / "cam01" / f"IMG_{i:04d}.JPG", compose([]), T0 + timedelta(seconds=i))
    truth: dict[str, list[str]] = {}  # chip name -> who, slot by slot
    for i in range(3):
        when = T0 + timedelta(seconds=10 + i)
        drop_frame(north / "cam02" / f"IMG_{i:04d}.JPG", compose([chips_one[i][1]]), when)
        truth[f"cam02/IMG_{i:04d}"] = [one]
        both = compose([chips_a[i][1], chips_b[i][1]])
        drop_frame(north / "cam03" / f"IMG_{i:04d}.JPG", both, when)
        truth[f"cam03/IMG_{i:04d}"] = [a, b]
    wait_for(lambda: count(world.database, "SELECT COUNT(*) FROM sightings") == 9)
    wait_for(lambda: count(world.database, "SELECT COUNT(*) FROM frames") == 8)

    chips_root = world.database.parent / "chips"
    chips = sorted(chips_root.rglob("*.jpg"))
    per_frame = Counter(f"{p.parent.name}/{p.stem.rsplit('_', 1)[0]}" for p in chips)
    assert per_frame == Counter({f"cam02/IMG_{i:04d}": 1 for i in range(3)}) + Counter(
        {f"cam03/IMG_{i:04d}": 2 for i in range(3)}
    )
    for chip in chips:  # every chip has its sidecar, and it tells where the chip came from
        side = json.loads(chip.with_name(chip.name + ".json").read_text())
        frame = f"{chip.parent.name}/{chip.stem.rsplit('_', 1)[0]}"
        k = int(chip.stem.rsplit("_", 1)[1])
        assert side["source_frame"] == f"north/{frame}.JPG"
        assert side["box"] == pytest.approx(slot_box(k), abs=1.0)
        assert side["detector"] == "grid-yolov8" and side["score"] > 0.5
        i = int(frame[-4:])
        assert datetime.fromisoformat(side["captured_at"]) == T0 + timedelta(seconds=10 + i)

    # Encounters: one for the lone bear at cam02, one per bear at cam03, three chips each.
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for encounter, camera, name, file in rows(
        world.database,
        "SELECT s.encounter_id, s.camera, i.name, s.file FROM sightings s"
        " LEFT JOIN individuals i ON i.id = s.individual_id",
    ):
        k = int(Path(str(file)).stem.rsplit("_", 1)[1])
        frame = f"{Path(str(file)).parent.name}/{Path(str(file)).stem.rsplit('_', 1)[0]}"
        found[str(encounter)].append((str(camera), truth[frame][k]))
        assert name == truth[frame][k]  # each chip recognised as the bear pasted there
    assert sorted(Counter(v).most_common(1)[0] for v in found.values()) == sorted(
        [(("cam02", one), 3), (("cam03", a), 3), (("cam03", b), 3)]
    )

    # Blanks: recorded, counted per camera, never embedded.
    assert dict(rows(world.database, "SELECT status, COUNT(*) FROM frames GROUP BY status")) == {
        "blank": 2,
        "detected": 6,
    }
    snapshot = agent.stats.snapshot()
    assert snapshot["blanks_by_camera"] == {"north/cam01": 2}
    assert snapshot["counts"]["processed"] == 9  # type: ignore[index]
    assert count(world.database, "SELECT COUNT(*) FROM files") == 9
    assert count(world.database, "SELECT COUNT(*) FROM sightings WHERE camera = 'cam01'") == 0
    assert database_status(world.database)["frames"]["blanks_by_camera"] == {"north/cam01": 2}

    # The publisher's side: the blanks waiting, then marked published.
    db = open_database(world.database)
    blanks = unpublished_blanks(db)
    assert [(x.camera, x.captured_at, x.file) for x in blanks] == [
        ("cam01", T0 + timedelta(seconds=i), f"north/cam01/IMG_{i:04d}.JPG") for i in range(2)
    ]
    with transaction(db):
        assert mark_blanks_published(db, [x.id for x in blanks]) == 2
    assert unpublished_blanks(db) == []
    db.conn.close()

    # A restart sees every frame again (the backlog scan): nothing new happens.
    agent.stop()
    again = running()
    time.sleep(2.0)
    assert count(world.database, "SELECT COUNT(*) FROM frames") == 8
    assert count(world.database, "SELECT COUNT(*) FROM sightings") == 9
    assert sorted(chips_root.rglob("*.jpg")) == chips
    assert "frames" not in again.stats.snapshot()["counts"]  # type: ignore[operator]


def test_a_clip_yields_chips_dated_from_its_start(
    world: World, running: Callable[..., Agent], tmp_path: Path
) -> None:
    running(clip_sample_fps=1.0)
    who, chips = next(iter(world.unseen.items()))
    frames = [compose([]) for _ in range(5)] + [compose([chips[0][1]]) for _ in range(10)]
    clip = write_clip(tmp_path / "clip.mp4", frames, fps=5.0)  # 3 s: 1 s empty, 2 s of a bear
    start = datetime(2026, 7, 2, 6, 30, tzinfo=UTC)
    set_mp4_creation_time(clip, start)
    drop_file(world.traps / "north" / "cam04" / "PICT0001.MP4", clip.read_bytes())
    wait_for(lambda: count(world.database, "SELECT COUNT(*) FROM sightings") == 2)

    (row,) = rows(world.database, "SELECT kind, status, captured_at, time_source FROM frames")
    assert row == ("clip", "detected", start.isoformat(), "metadata")
    chips_root = world.database.parent / "chips" / "north" / "cam04"
    sidecars = [json.loads(p.read_text()) for p in sorted(chips_root.glob("*.jpg.json"))]
    assert [s["captured_at"] for s in sidecars] == [
        (start + timedelta(seconds=t)).isoformat() for t in (1, 2)
    ]
    assert [s["source_frame"] for s in sidecars] == [
        "north/cam04/PICT0001.MP4#t=1.000",
        "north/cam04/PICT0001.MP4#t=2.000",
    ]
    names = rows(world.database, "SELECT DISTINCT i.name FROM sightings s JOIN individuals i"
                 " ON i.id = s.individual_id")  # fmt: skip
    assert names == [(who,)]


def test_damaged_frames_and_clips_are_rejected_with_their_reasons(
    world: World, running: Callable[..., Agent]
) -> None:
    agent = running()
    cam = world.traps / "north" / "cam05"
    drop_file(cam / "noise.jpg", b"\xff\xd8\xff\xe0 this is not a picture")
    drop_file(cam / "empty.jpg", b"")
    whole = encode_jpeg(compose([]), T0)
    drop_file(cam / "cut.jpg", whole[: len(whole) // 2])
    drop_file(cam / "PICT0002.AVI", b"RIFF\x10\x00\x00\x00AVI LIST" + os.urandom(200))
    long_ago = time.time() - 3600  # not fresh: no grace for files still being written
    for f in cam.iterdir():
        os.utime(f, (long_ago, long_ago))
    wait_for(lambda: count(world.database, "SELECT COUNT(*) FROM frames") == 4)
    found = dict(rows(world.database, "SELECT path, reason FROM frames WHERE status = 'rejected'"))
    assert str(found["north/cam05/noise.jpg"]).startswith("not_an_image: north/cam05/noise.jpg")
    assert str(found["north/cam05/empty.jpg"]) == (
        "empty: north/cam05/empty.jpg: the file is empty (0 bytes)"
    )
    assert str(found["north/cam05/cut.jpg"]) == (
        "truncated: north/cam05/cut.jpg: the JPEG has no end marker (truncated file)"
    )
    assert str(found["north/cam05/PICT0002.AVI"]) == (
        "corrupt: north/cam05/PICT0002.AVI: OpenCV cannot open it as a video clip"
    )
    assert agent.stats.snapshot()["rejected_by_reason"] == {
        "frame_not_an_image": 1,
        "frame_empty": 1,
        "frame_truncated": 1,
        "clip_corrupt": 1,
    }
    assert count(world.database, "SELECT COUNT(*) FROM sightings") == 0


def test_a_detector_that_does_not_fit_its_card_is_refused_at_start(
    world: World, tmp_path: Path
) -> None:
    # A one-class graph whose card lists two classes: the output has one row too few.
    detector = write_grid_detector(tmp_path / "faces.onnx", card=grid_card(classes=("face", "cub")))
    expected = (
        f"detector {detector} does not fit its card: output 'output0' has shape [1, 5, 64], "
        "but format 'yolov8' with 2 classes needs [1, 6, N] (it looks like a 'yolov8' output "
        "with 1 class). Fix faces.onnx.json: set output.format to the model's layout "
        "('yolov8' [1, 4+nc, N], 'yolov5' [1, N, 5+nc], 'nms' [1, N, 6]) and list in "
        "'classes' every class the model was trained on"
    )
    with pytest.raises(DetectorIncompatible) as refused:
        Agent(settings(world, detector)).start()
    assert str(refused.value) == expected

    result = subprocess.run(
        [BEARAGENT, "run", "--no-mqtt", "--watch", str(world.traps), "--model",
         str(world.model), "--db", str(world.database), "--detector", str(detector)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"Error: {expected}"
