"""Encounters do not depend on the order files arrive in, end to end.

Through the agent (`bearagent run`'s `Agent`, and the real command once), with files
written the way cameras and copy tools write them (a temporary name, then a rename;
card names that are counters, not times): a backlog copied in any order while the
agent is stopped, and live chips arriving out of order, give one encounter per visit
and bear, each holding only its own visit's chips, with the right ``started_at``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.store import open_database
from beartrain.synthetic import encode_jpeg
from support.agent_world import World, make_world
from support.broker import Mosquitto
from support.subscriber import Message, Subscriber

DAY = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Visit:
    camera: str
    who: str  # a known bear's name, or "stranger"
    hour: float


@dataclass(frozen=True)
class ChipFile:
    name: str  # as written into the camera's folder
    data: bytes
    visit: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("arrival"))


def pixels(world: World, who: str) -> list[np.ndarray]:
    chips = world.stranger[0] if who == "stranger" else world.unseen[who]
    return [chip for _, chip in chips][:3]


def card_files(world: World, visits: list[Visit], names: list[int]) -> list[ChipFile]:
    """Each visit's chips (EXIF capture times 20 s apart) named IMG_<counter>.JPG."""
    files: list[ChipFile] = []
    for v_index, visit in enumerate(visits):
        start = DAY + timedelta(hours=visit.hour)
        for k, chip in enumerate(pixels(world, visit.who)):
            # Sensor noise of its own: no two shots are the same bytes (else duplicates).
            noise = np.random.default_rng([v_index, k]).integers(-3, 4, chip.shape)
            shot = np.clip(chip.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            data = encode_jpeg(shot, start + timedelta(seconds=20 * k))
            files.append(ChipFile(f"IMG_{names[len(files)]:04d}.JPG", data, v_index))
    return files


def copy_in(folder: Path, files: list[ChipFile], pause_s: float = 0.0) -> None:
    """As a copy tool writes: a temporary name, then a rename into place."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        temp = folder / f".{f.name}.part"
        temp.write_bytes(f.data)
        os.rename(temp, folder / f.name)
        time.sleep(pause_s)


def agent_config(traps: Path, database: Path, model: Path) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "agent": {
                "id": "box1",
                "database": str(database),
                "timezone": "UTC",
                "publisher": "stdout",
            },
            "watch": {"roots": [str(traps)], "stable_after_s": 0.3},
            "runtime": {"model": str(model)},
            "pipeline": {"batch_size": 4},
            "encounter": {"gap_s": 60, "end_after_s": 1.0},
        }
    )


def settle(database: Path, n_files: int, timeout: float = 60.0) -> None:
    """Until every file is recorded and no encounter is open."""
    db = open_database(database)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            tables = set(db.table_names())
            if {"files", "encounters"} <= tables:
                done = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
                open_ = db.execute("SELECT COUNT(*) FROM encounters WHERE ended = 0").fetchone()[0]
                if done >= n_files and open_ == 0:
                    return
            time.sleep(0.2)
        raise AssertionError(f"the agent did not record {n_files} files in {timeout} s")
    finally:
        db.conn.close()


def partition(database: Path) -> set[frozenset[str]]:
    """The chips' file names grouped by the encounter the agent recorded them in."""
    db = open_database(database)
    try:
        groups: dict[str, set[str]] = {}
        for file, encounter in db.execute("SELECT file, encounter_id FROM sightings"):
            groups.setdefault(encounter, set()).add(Path(file).name)
        return {frozenset(g) for g in groups.values()}
    finally:
        db.conn.close()


def expected(files: list[ChipFile], visits: list[Visit]) -> set[frozenset[str]]:
    return {frozenset(f.name for f in files if f.visit == v) for v in range(len(visits))}


@st.composite
def field_days(draw: st.DrawFn) -> list[Visit]:
    """Visits at two cameras; a bear's visits to one camera are hours apart."""
    visits: list[Visit] = []
    for camera in ("cam01", "cam02"):
        for who in draw(st.lists(st.sampled_from(["Otis", "Holly", "Grazer", "stranger"]),
                                 min_size=1, max_size=3, unique=True)):  # fmt: skip
            for hour in draw(st.lists(st.integers(5, 20), min_size=1, max_size=2, unique=True)):
                visits.append(Visit(camera, who, hour + draw(st.sampled_from([0.0, 0.25]))))
    return visits


@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # an agent run is too slow to shrink
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(visits=field_days(), data=st.data())
def test_a_card_copied_in_any_order_gives_one_encounter_per_visit(
    world: World, tmp_path_factory: pytest.TempPathFactory, visits: list[Visit], data: st.DataObject
) -> None:
    """A card's backlog copied into the watch folder while the agent is stopped, in an
    order hypothesis picks; then the agent runs through it."""
    base = tmp_path_factory.mktemp("card")
    traps, database = base / "traps", base / "state" / "bearagent.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(world.database.read_bytes())  # the gallery of three known bears
    n = sum(len(pixels(world, v.who)) for v in visits)
    names = data.draw(st.permutations(range(1000, 1000 + n)))
    files = card_files(world, visits, list(names))
    order = data.draw(st.permutations(range(len(files))))
    for k in order:
        f = files[k]
        copy_in(traps / "north" / visits[f.visit].camera, [f])
    agent = Agent(agent_config(traps, database, world.model))
    agent.start()
    try:
        settle(database, len(files))
    finally:
        agent.stop()
    assert partition(database) == expected(files, visits)


def test_live_chips_out_of_order_give_one_encounter_per_visit(world: World, tmp_path: Path) -> None:
    """Chips of one visit written in reverse order, a little apart, while the agent runs:
    the reorder window puts them in order, and late ones amend their encounter."""
    traps, database = tmp_path / "traps", tmp_path / "state" / "bearagent.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(world.database.read_bytes())
    visits = [Visit("cam01", "Otis", 6.0), Visit("cam01", "Holly", 8.0), Visit("cam01", "Otis", 10)]
    files = card_files(world, visits, list(range(2000, 2009)))
    (traps / "north").mkdir(parents=True)
    agent = Agent(agent_config(traps, database, world.model))
    agent.start()
    try:
        copy_in(traps / "north" / "cam01", list(reversed(files)), pause_s=0.3)
        settle(database, len(files))
    finally:
        agent.stop()
    assert partition(database) == expected(files, visits)


def named_without_exif(chip: np.ndarray, when: datetime, k: int) -> ChipFile:
    """A camera-trap file name that carries the time; no EXIF."""
    noise = np.random.default_rng(k).integers(-3, 4, chip.shape)
    ok, jpeg = cv2.imencode(".jpg", np.clip(chip.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    assert ok
    return ChipFile(f"cam01_{when:%Y%m%d-%H%M%S}_{k:05d}.jpg", jpeg.tobytes(), -1)


@pytest.fixture
def subscriber(broker: Mosquitto) -> Iterator[Subscriber]:
    sub = Subscriber(broker, "bearid/box1/sighting", client_id="arrival-test").connect()
    yield sub
    sub.close()


def test_bearagent_run_live_chips_named_hours_apart(
    world: World, broker: Mosquitto, subscriber: Subscriber, tmp_path: Path
) -> None:
    """The field report: chips named 14:00, 17:00 and 20:00 (one bear, no EXIF) arrive in
    the order 20:00, 14:00, 17:00 through `bearagent run`: three encounters, each `new`
    and `end` with its own visit's start."""
    traps, database = tmp_path / "traps", tmp_path / "state" / "bearagent.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(world.database.read_bytes())
    folder = traps / "north" / "cam01"
    folder.mkdir(parents=True)
    chip = pixels(world, "Otis")
    hours = [20, 14, 17]
    files = [named_without_exif(chip[k % len(chip)], DAY + timedelta(hours=h), k)
             for k, h in enumerate(hours)]  # fmt: skip
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[agent]\nid = "box1"\ndatabase = "{database}"\ntimezone = "UTC"\n'
        f'[watch]\nroots = ["{traps}"]\nstable_after_s = 0.3\n'
        f'[runtime]\nmodel = "{world.model}"\n'
        "[encounter]\ngap_s = 60\nend_after_s = 1.0\n"
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nstats_interval_s = 3600\n'
    )
    agent = subprocess.Popen(
        [str(Path(sys.executable).parent / "bearagent"), "run", "--config", str(config)],
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        for f in files:
            copy_in(folder, [f], pause_s=0.05)
        got: list[Message] = []
        deadline = time.monotonic() + 60
        while sum(m.json()["type"] == "end" for m in got) < 3 and time.monotonic() < deadline:
            got.append(subscriber.get(60))
    finally:
        agent.terminate()
        assert agent.wait(30) == 0
    events = [m.json() for m in got]
    by_encounter: dict[str, list[dict[str, object]]] = {}
    for e in events:
        by_encounter.setdefault(str(e["encounter_id"]), []).append(e)
    assert len(by_encounter) == 3
    starts = set()
    for evs in by_encounter.values():
        seen = [(e["type"], e["started_at"], e["decision"]) for e in evs]
        assert {e["started_at"] for e in evs} == {evs[0]["started_at"]}, seen  # they agree
        # `new` opens it, unless its first chip alone looked like a stranger: the tracker
        # then waits for more chips before announcing it, and only the `end` says it.
        assert evs[-1]["type"] == "end", seen
        assert [e["type"] for e in evs].count("new") <= 1, seen
        assert evs[0]["type"] == "new" or len(evs) == 1, seen
        starts.add(evs[0]["started_at"])
    assert starts == {(DAY + timedelta(hours=h)).isoformat() for h in hours}
