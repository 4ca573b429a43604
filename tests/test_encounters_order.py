"""Encounters are a function of capture times and content, not of arrival order.

Property tests at the tracker level: random backlogs of several cameras, bears
(enrolled ones and strangers) and visits, fed in every order hypothesis picks, in
batches of random size, with the wall clock moving on between batches: each
visit of a bear at a camera is one encounter holding exactly its own chips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bearagent.decisions import DecisionRule, Outcome
from bearagent.encounters import ChipObservation, EncounterConfig, EncounterEvent, EncounterTracker
from bearagent.matching.knn import Candidate

DIM = 24
GAP_S = 60.0
T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
RULE = DecisionRule("best", 0.8, 0.8)


class Gallery:
    """The tracker's IdentityStore over numpy arrays (exact cosine k-NN)."""

    def __init__(self) -> None:
        self.refs: list[tuple[str, np.ndarray]] = []
        self.provisional = 0

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[Candidate]]:
        out = []
        for q in queries:
            best: dict[str, float] = {}
            for who, ref in self.refs:
                best[who] = max(best.get(who, -1.0), float(q @ ref))
            ranked = sorted(best.items(), key=lambda kv: -kv[1])[:k]
            kind = "provisional"
            out.append([Candidate(w, None, "known" if w.startswith("bear") else kind, s)
                        for w, s in ranked])  # fmt: skip
        return out

    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str:
        self.provisional += 1
        who = f"unknown-box-{self.provisional:04d}"
        self.refs += [(who, e) for e in embeddings]
        return who

    def add_references(
        self, individual_id: str, embeddings: np.ndarray, sources: list[str]
    ) -> None:
        self.refs += [(individual_id, e) for e in embeddings]


@dataclass(frozen=True)
class Visit:
    camera: str
    bear: int  # < KNOWN_BEARS: enrolled; otherwise a stranger
    start_s: float
    steps: tuple[float, ...]  # seconds between consecutive chips (each within the gap)


KNOWN_BEARS = 4
BEARS = 7


def base(bear: int) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[bear] = 1.0
    return v


@st.composite
def backlogs(draw: st.DrawFn) -> list[Visit]:
    """Visits at up to three cameras; one bear's visits to one camera are hours apart."""
    visits: list[Visit] = []
    for camera in [f"cam{c}" for c in range(draw(st.integers(1, 3)))]:
        for bear in draw(st.lists(st.integers(0, BEARS - 1), min_size=1, max_size=3, unique=True)):
            hours = draw(st.lists(st.integers(0, 8), min_size=1, max_size=3, unique=True))
            for hour in hours:
                steps = draw(st.lists(st.floats(1.0, GAP_S - 1.0), min_size=0, max_size=4))
                offset = draw(st.floats(0.0, 600.0))
                visits.append(Visit(camera, bear, hour * 3600.0 + offset, tuple(steps)))
    return visits


def chips_of(
    visits: list[Visit], rng: np.random.Generator, gallery: Gallery
) -> list[tuple[ChipObservation, int]]:
    """Every chip with the index of its visit (embeddings: the bear's axis plus noise)."""
    out: list[tuple[ChipObservation, int]] = []
    for v_index, visit in enumerate(visits):
        times = np.cumsum([visit.start_s, *visit.steps])
        for k, seconds in enumerate(times):
            e = base(visit.bear) + rng.normal(0, 0.05, DIM).astype(np.float32)
            e /= np.linalg.norm(e)
            chip = ChipObservation(
                file=f"site/{visit.camera}/v{v_index:03d}-{k}.jpg",
                camera=visit.camera,
                site="site",
                captured_at=T0 + timedelta(seconds=float(seconds)),
                time_source="exif",
                embedding=e,
                candidates=tuple(gallery.search(e[None], 5)[0]),
            )
            out.append((chip, v_index))
    return out


def partition(files: list[str], ids: list[str], merges: dict[str, str]) -> set[frozenset[str]]:
    """Chips grouped by their final encounter (following merges)."""

    def survivor(encounter: str) -> str:
        while encounter in merges:
            encounter = merges[encounter]
        return encounter

    groups: dict[str, set[str]] = {}
    for f, e in zip(files, ids, strict=True):
        groups.setdefault(survivor(e), set()).add(f)
    return {frozenset(g) for g in groups.values()}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(
    arrivals: list[ChipObservation], batches: list[int], moves: list[float], gallery: Gallery
) -> tuple[set[frozenset[str]], list[EncounterEvent]]:
    """Feed `arrivals` in batches, the clock moving on between them; the final partition."""
    clock = Clock()
    cfg = EncounterConfig.model_validate({"gap_s": GAP_S})
    tracker = EncounterTracker(cfg, lambda: RULE, 0.6, gallery, clock)
    files: list[str] = []
    ids: list[str] = []
    merges: dict[str, str] = {}
    events: list[EncounterEvent] = []
    i = 0
    for size, move in zip(batches, moves, strict=False):
        if i >= len(arrivals):
            break
        batch = arrivals[i : i + size]
        i += size
        observed = tracker.observe(batch)
        files += [c.file for c in batch]
        ids += observed.encounter_ids
        merges |= observed.merges
        events += observed.events
        clock.now += move
        events += tracker.expire()
    if i < len(arrivals):
        rest = arrivals[i:]
        observed = tracker.observe(rest)
        files += [c.file for c in rest]
        ids += observed.encounter_ids
        merges |= observed.merges
        events += observed.events
    events += tracker.end_all()
    return partition(files, ids, merges), events


@settings(max_examples=120, deadline=None)
@given(
    visits=backlogs(),
    seed=st.integers(0, 2**32 - 1),
    batches=st.lists(st.integers(1, 5), min_size=1, max_size=60),
    moves=st.lists(st.sampled_from([0.0, 0.1, 5.0, 61.0, 400.0]), min_size=60, max_size=60),
)
def test_any_arrival_order_gives_one_encounter_per_visit(
    visits: list[Visit], seed: int, batches: list[int], moves: list[float]
) -> None:
    rng = np.random.default_rng(seed)
    gallery = Gallery()
    gallery.refs = [(f"bear-{b}", base(b)) for b in range(KNOWN_BEARS)]
    chips = chips_of(visits, rng, gallery)
    order = rng.permutation(len(chips))
    arrivals = [chips[k][0] for k in order]
    expected = {
        frozenset(c.file for c, v in chips if v == v_index) for v_index in range(len(visits))
    }
    got, events = run(arrivals, batches, moves, gallery)
    assert got == expected
    # Every visit's final event names the right individual for an enrolled bear.
    final: dict[str, EncounterEvent] = {}
    for e in events:
        if e.type in ("end", "amended", "merged"):
            final[e.encounter_id] = e
    for e in final.values():
        if e.type == "merged":
            continue
        bears = {chips[[c.file for c, _ in chips].index(x.file)][1] for x in e.chips}
        assert len(bears) == 1
        visit = visits[bears.pop()]
        if visit.bear < KNOWN_BEARS:
            assert (e.decision.outcome, e.decision.individual_id) == (
                Outcome.KNOWN,
                f"bear-{visit.bear}",
            )
        else:
            assert e.decision.individual_id is not None
            assert e.decision.individual_id.startswith("unknown-box-")


def test_a_shuffled_backlog_of_three_visits_is_three_encounters() -> None:
    """The field report: bear A at 06:00, bear B at 08:00, bear A at 10:00 at one camera,
    three chips each, arriving in reverse order one by one."""
    gallery = Gallery()
    gallery.refs = [("bear-0", base(0)), ("bear-1", base(1))]
    visits = [
        Visit("cam0", 0, 0.0, (5.0, 5.0)),
        Visit("cam0", 1, 7200.0, (5.0, 5.0)),
        Visit("cam0", 0, 14400.0, (5.0, 5.0)),
    ]
    chips = chips_of(visits, np.random.default_rng(0), gallery)
    arrivals = [c for c, _ in reversed(chips)]
    got, events = run(arrivals, [1] * len(arrivals), [0.0] * len(arrivals), gallery)
    assert got == {frozenset(c.file for c, v in chips if v == k) for k in range(3)}
    starts = {e.encounter_id: e.started_at for e in events if e.type in ("end", "amended")}
    assert sorted(starts.values()) == [T0 + timedelta(seconds=s) for s in (0, 7200, 14400)]


def test_a_late_chip_amends_its_ended_encounter_and_never_one_hours_away() -> None:
    gallery = Gallery()
    gallery.refs = [("bear-0", base(0))]
    chips = [c for c, _ in chips_of([Visit("cam0", 0, 0.0, (10.0, 10.0))], np.random.default_rng(1),
                                    gallery)]  # fmt: skip
    hours_later = chips_of([Visit("cam0", 0, 3 * 3600.0, ())], np.random.default_rng(2), gallery)
    clock = Clock()
    tracker = EncounterTracker(
        EncounterConfig.model_validate({"gap_s": GAP_S}), lambda: RULE, 0.6, gallery, clock
    )
    first = tracker.observe([chips[0], chips[2]])
    clock.now += 120  # the camera is quiet: the encounter ends
    (end,) = [e for e in tracker.expire() if e.type == "end"]
    assert end.chip_count == 2
    late = tracker.observe([chips[1]])  # captured between the two: joins, opens it again
    assert late.encounter_ids == [end.encounter_id] and late.reopened == [end.encounter_id]
    other = tracker.observe([hours_later[0][0]])  # the same bear three hours later
    assert other.encounter_ids != [end.encounter_id] and other.merges == {}
    clock.now += 120
    events = other.events + tracker.expire()  # the later chip ended it (beyond the gap)
    amended = [e for e in events if e.encounter_id == end.encounter_id]
    assert [e.type for e in amended] == ["amended"]
    assert amended[0].chip_count == 3
    assert [c.file for c in amended[0].chips] == [c.file for c in chips]
    assert first.encounter_ids == [end.encounter_id] * 2


def test_tracks_of_one_known_bear_hours_apart_never_merge() -> None:
    """Both decided as the same bear, but their spans lie hours apart: two encounters."""
    gallery = Gallery()
    gallery.refs = [("bear-0", base(0))]
    visits = [Visit("cam0", 0, 3 * 3600.0, (5.0,)), Visit("cam0", 0, 0.0, (5.0,))]
    chips = chips_of(visits, np.random.default_rng(3), gallery)
    tracker = EncounterTracker(
        EncounterConfig.model_validate({"gap_s": GAP_S}), lambda: RULE, 0.6, gallery, Clock()
    )
    observed = tracker.observe([chips[0][0], chips[2][0]])  # 09:00, then 06:00 (a later batch)
    observed2 = tracker.observe([chips[1][0], chips[3][0]])
    assert observed.merges == {} and observed2.merges == {}
    final = {
        e.encounter_id: e
        for e in observed.events + observed2.events + tracker.end_all()
        if e.type in ("end", "amended")
    }
    assert sorted((e.started_at, e.chip_count) for e in final.values()) == [
        (T0, 2),
        (T0 + timedelta(hours=3), 2),
    ]
