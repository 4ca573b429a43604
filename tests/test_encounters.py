"""The encounter tracker: grouping per camera, decisions, events, online clustering of unknowns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from bearagent.encounters import ChipObservation, EncounterConfig, EncounterTracker

DIM = 8
T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


def unit(*values: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class Cand:
    individual_id: str
    name: str | None
    similarity: float
    kind: str


class Store:
    """The tracker's IdentityStore over plain numpy arrays (exact cosine k-NN)."""

    def __init__(self) -> None:
        self.refs: list[tuple[str, str, np.ndarray]] = []  # id, kind, embedding
        self.provisional = 0

    def enrol(self, individual: str, embedding: np.ndarray) -> None:
        self.refs.append((individual, "known", embedding))

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[Cand]]:
        out = []
        for q in queries:
            best: dict[str, Cand] = {}
            for who, kind, ref in self.refs:
                sim = float(q @ ref)
                if who not in best or sim > best[who].similarity:
                    best[who] = Cand(who, who.upper() if kind == "known" else None, sim, kind)
            out.append(sorted(best.values(), key=lambda c: -c.similarity)[:k])
        return out

    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str:
        self.provisional += 1
        who = f"unknown-{self.provisional:04d}"
        self.refs += [(who, "provisional", e) for e in embeddings]
        return who

    def add_references(
        self, individual_id: str, embeddings: np.ndarray, sources: list[str]
    ) -> None:
        self.refs += [(individual_id, "provisional", e) for e in embeddings]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def chip(
    store: Store, embedding: np.ndarray, seconds: float, camera: str = "cam01"
) -> ChipObservation:
    return ChipObservation(
        file=f"site/{camera}/{seconds}.jpg",
        camera=camera,
        site="site",
        captured_at=T0 + timedelta(seconds=seconds),
        embedding=embedding,
        candidates=tuple(store.search(embedding[None], 5)[0]),
    )


def make(store: Store, clock: Clock | None = None) -> EncounterTracker:
    return EncounterTracker(EncounterConfig(gap_s=60), 0.8, store, clock or Clock())


def test_a_burst_is_one_encounter_of_a_known_bear() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    store.enrol("bear-b", unit(0, 1))
    tracker = make(store)
    events = [e for s in (0, 1, 2) for e in tracker.observe(chip(store, unit(1, 0.1 * s), s))]
    assert [e.type for e in events] == ["new"]  # best chip stays the first: no update
    assert events[0].channel == "sighting"
    assert events[0].decision.individual_id == "bear-a" and events[0].decision.name == "BEAR-A"
    assert [c.individual_id for c in events[0].decision.candidates] == ["bear-a", "bear-b"]
    (end,) = tracker.end_all()
    assert (end.type, end.chip_count, end.encounter_id) == ("end", 3, events[0].encounter_id)


def test_a_chip_beyond_the_gap_ends_the_encounter_and_starts_another() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    first = tracker.observe(chip(store, unit(1, 0), 0))
    later = tracker.observe(chip(store, unit(1, 0), 61))
    assert [e.type for e in later] == ["end", "new"]
    assert later[0].encounter_id == first[0].encounter_id != later[1].encounter_id


def test_cameras_have_their_own_encounters() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    a = tracker.observe(chip(store, unit(1, 0), 0, "cam01"))
    b = tracker.observe(chip(store, unit(1, 0), 1, "cam02"))
    assert [e.type for e in a + b] == ["new", "new"]
    assert a[0].encounter_id != b[0].encounter_id


def test_quiet_camera_ends_its_encounter_by_wall_clock() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    clock = Clock()
    tracker = make(store, clock)
    tracker.observe(chip(store, unit(1, 0), 0))
    clock.now += 59
    assert tracker.expire() == []
    clock.now += 1
    (end,) = tracker.expire()
    assert end.type == "end" and tracker.open == {}


def test_unknown_bear_gets_one_provisional_id_and_one_alert_across_visits() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    stranger = unit(0, 0, 1)
    visit1 = [e for s in (0, 1, 2) for e in tracker.observe(chip(store, stranger, s))]
    assert visit1[0].type == "new" and visit1[0].channel == "unknown"
    assert visit1[0].decision.individual_id == "unknown-0001"
    assert visit1[0].decision.similarity < 0.8  # why it is unknown: its best gallery match
    assert all(e.channel == "sighting" for e in visit1[1:])
    # The next visit of the same bear is a sighting of its provisional id, not a new alert.
    visit2 = tracker.observe(chip(store, stranger, 3600))
    assert [(e.type, e.channel) for e in visit2] == [("end", "sighting"), ("new", "sighting")]
    assert visit2[1].decision.individual_id == "unknown-0001"
    assert visit2[1].decision.kind == "provisional"
    assert store.provisional == 1
    provisional_refs = [r for r in store.refs if r[0] == "unknown-0001"]
    assert len(provisional_refs) == 3  # the first chip made it, the two others refined it


def test_one_blurry_first_frame_raises_no_unknown_alert() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    blurry = unit(1, 1.2)  # similarity to bear-a ~0.64: unknown on its own
    assert tracker.observe(chip(store, blurry, 0)) == []  # too early to call it a new bear
    events = [e for s in (1, 2, 3) for e in tracker.observe(chip(store, unit(1, 0), s))]
    assert [(e.type, e.channel) for e in events] == [("new", "sighting")]
    assert events[0].decision.individual_id == "bear-a" and events[0].chip_count == 2
    assert store.provisional == 0
    assert tracker.end_all()[0].decision.individual_id == "bear-a"


def test_a_lone_unknown_chip_is_announced_when_its_encounter_ends() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    assert tracker.observe(chip(store, unit(0, 1), 0)) == []
    new, end = tracker.end_all()
    assert (new.type, new.channel, new.decision.individual_id) == ("new", "unknown", "unknown-0001")
    assert (end.type, end.chip_count) == ("end", 1)


def test_an_encounter_can_change_its_mind() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = EncounterTracker(
        EncounterConfig(gap_s=60, unknown_after_chips=1), 0.8, store, Clock()
    )
    blurry = unit(1, 1.2)  # announced at once as a new bear (unknown_after_chips = 1)
    events = tracker.observe(chip(store, blurry, 0))
    assert events[0].decision.individual_id == "unknown-0001"
    for s in (1, 2, 3, 4):
        events += tracker.observe(chip(store, unit(1, 0), s))
    updates = [e for e in events if e.type == "update"]
    assert updates and updates[-1].decision.individual_id == "bear-a"
    assert tracker.end_all()[0].decision.individual_id == "bear-a"
