"""The encounter tracker: per-individual tracks per camera, decisions, events, merges,
online clustering of unknowns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from bearagent.decisions import DecisionRule, Outcome
from bearagent.encounters import ChipObservation, EncounterConfig, EncounterEvent, EncounterTracker
from bearagent.matching.knn import Candidate

DIM = 8
T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
BEST = DecisionRule("best", 0.8, 0.8)  # no review band: known at 0.8, else unknown


def unit(*values: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


class Store:
    """The tracker's IdentityStore over plain numpy arrays (exact cosine k-NN)."""

    def __init__(self) -> None:
        self.refs: list[tuple[str, str, np.ndarray]] = []  # id, kind, embedding
        self.provisional = 0

    def enrol(self, individual: str, embedding: np.ndarray) -> None:
        self.refs.append((individual, "known", embedding))

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[Candidate]]:
        out = []
        for q in queries:
            best: dict[str, Candidate] = {}
            for who, kind, ref in self.refs:
                sim = float(q @ ref)
                if who not in best or sim > best[who].similarity:
                    name = who.upper() if kind == "known" else None
                    best[who] = Candidate(who, name, kind, sim)
            out.append(sorted(best.values(), key=lambda c: -c.similarity)[:k])
        return out

    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str:
        self.provisional += 1
        who = f"unknown-box-{self.provisional:04d}"
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
        time_source="exif",
        embedding=embedding,
        candidates=tuple(store.search(embedding[None], 5)[0]),
    )


def make(
    store: Store,
    clock: Clock | None = None,
    rule: DecisionRule = BEST,
    same: float = 0.5,
    **cfg: float,
) -> EncounterTracker:
    config = EncounterConfig.model_validate({"gap_s": 60, **cfg})
    return EncounterTracker(config, lambda: rule, same, store, clock or Clock())


def feed(tracker: EncounterTracker, *chips: ChipObservation) -> list[EncounterEvent]:
    """Observe chips one batch each (as a slow camera upload arrives)."""
    return [e for c in chips for e in tracker.observe([c]).events]


def test_a_burst_is_one_encounter_of_a_known_bear() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    store.enrol("bear-b", unit(0, 1))
    tracker = make(store)
    events = feed(tracker, *(chip(store, unit(1, 0.1 * s), s) for s in (0, 1, 2)))
    assert [e.type for e in events] == ["new"]  # best chip stays the first: no update
    assert events[0].channel == "sighting"
    d = events[0].decision
    assert (d.outcome, d.individual_id, d.name) == (Outcome.KNOWN, "bear-a", "BEAR-A")
    assert [c.individual_id for c in d.candidates] == ["bear-a", "bear-b"]
    (end,) = tracker.end_all()
    assert (end.type, end.chip_count, end.encounter_id) == ("end", 3, events[0].encounter_id)
    assert [c.captured_at for c in end.chips] == [T0 + timedelta(seconds=s) for s in (0, 1, 2)]


def test_a_batch_of_one_burst_gives_one_new_event_and_every_chip_its_encounter() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    observed = tracker.observe([chip(store, unit(1, 0.05 * s), s) for s in range(4)])
    assert [e.type for e in observed.events] == ["new"]
    assert observed.events[0].chip_count == 4
    assert set(observed.encounter_ids) == {observed.events[0].encounter_id}


def test_a_chip_beyond_the_gap_ends_the_encounter_and_starts_another() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    first = feed(tracker, chip(store, unit(1, 0), 0))
    later = feed(tracker, chip(store, unit(1, 0), 61))
    assert [e.type for e in later] == ["end", "new"]
    assert later[0].encounter_id == first[0].encounter_id != later[1].encounter_id


def test_cameras_have_their_own_encounters() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    a = feed(tracker, chip(store, unit(1, 0), 0, "cam01"))
    b = feed(tracker, chip(store, unit(1, 0), 1, "cam02"))
    assert [e.type for e in a + b] == ["new", "new"]
    assert a[0].encounter_id != b[0].encounter_id


def test_two_bears_interleaved_at_one_camera_are_two_encounters_with_their_own_ids() -> None:
    """A sow and her cub: chips of two enrolled bears a second apart, alternating."""
    store = Store()
    store.enrol("sow", unit(1, 0))
    store.enrol("cub", unit(0, 1))
    tracker = make(store)
    stream = [
        chip(store, unit(1, 0.05 * (s % 3)) if s % 2 == 0 else unit(0.05 * (s % 3), 1), s)
        for s in range(12)
    ]
    events = feed(tracker, *stream) + tracker.end_all()
    ends = [e for e in events if e.type == "end"]
    assert sorted((e.decision.individual_id, e.chip_count) for e in ends) == [
        ("cub", 6),
        ("sow", 6),
    ]
    # Neither encounter ever flipped to the other bear.
    for e in events:
        assert e.decision.individual_id in ("sow", "cub")
    by_encounter = {e.encounter_id: e.decision.individual_id for e in events}
    assert len(by_encounter) == 2 and set(by_encounter.values()) == {"sow", "cub"}


def test_two_bears_one_after_the_other_within_the_gap_are_two_encounters() -> None:
    store = Store()
    store.enrol("otis", unit(1, 0))
    store.enrol("holly", unit(0, 1))
    tracker = make(store)
    events = feed(
        tracker,
        *(chip(store, unit(1, 0.02 * s), s) for s in range(4)),
        *(chip(store, unit(0.02 * s, 1), 10 + s) for s in range(4)),
    )
    events += tracker.end_all()
    ends = sorted((e.decision.individual_id, e.chip_count) for e in events if e.type == "end")
    assert ends == [("holly", 4), ("otis", 4)]


def test_two_tracks_decided_as_one_bear_merge_with_one_end() -> None:
    """A bear turns its head: its chips fall below the same-individual similarity of its
    first track but are still decided as the same bear, so the tracks merge."""
    store = Store()
    store.enrol("otis", unit(1, 0.3))
    store.enrol("holly", unit(0, 0, 1))
    tracker = make(store, same=0.99, rule=DecisionRule("best", 0.85, 0.85))
    first = feed(tracker, chip(store, unit(1, 0.15), 0), chip(store, unit(1, 0.18), 1))
    turned = feed(tracker, chip(store, unit(1, 0.45), 2))  # below 0.99 to the first track
    assert first[0].type == "new"
    # The new track was the same bear at once: it merged before it was ever announced,
    # and changed neither the decision nor the best chip of the first.
    assert turned == [] and tracker.open_count == 1
    (end,) = tracker.end_all()
    assert (end.encounter_id, end.chip_count, end.decision.individual_id) == (
        first[0].encounter_id,
        3,
        "otis",
    )


def test_an_announced_track_that_merges_says_which_encounter_it_merged_into() -> None:
    """Two tracks of one camera, both announced in review, then both decided as one bear."""
    store = Store()
    store.enrol("otis", unit(1, 0))
    store.enrol("holly", unit(0, 0, 1))
    tracker = make(
        store, same=0.9, rule=DecisionRule("best", 0.97, 0.3), proposal_merge_similarity=0.99
    )
    a = feed(tracker, chip(store, unit(1, 0.3), 0))  # ~0.958: review
    b = feed(tracker, chip(store, unit(1, -0.3), 1))  # another track, also in review
    assert [e.decision.outcome for e in a + b] == [Outcome.REVIEW, Outcome.REVIEW]
    assert a[0].encounter_id != b[0].encounter_id
    both = feed(tracker, chip(store, unit(1, 0.1), 2), chip(store, unit(1, -0.1), 3))
    merged = [e for e in both if e.type == "merged"]
    assert len(merged) == 1
    assert merged[0].encounter_id == b[0].encounter_id
    assert merged[0].merged_into == a[0].encounter_id
    (end,) = tracker.end_all()
    assert (end.encounter_id, end.chip_count, end.decision.individual_id) == (
        a[0].encounter_id,
        4,
        "otis",
    )


def test_tracks_the_gallery_gives_the_same_proposal_merge_at_a_lower_likeness() -> None:
    """A bear's second track is only ~0.83 like its first (below the 0.9 same-individual
    similarity), but both propose the same bear: one encounter, whose chips together are
    plainly that bear (each alone was only good enough for review)."""
    store = Store()
    store.enrol("otis", unit(1, 0))
    store.enrol("holly", unit(0, 0, 1))
    rule = DecisionRule("best", 0.99, 0.3)  # everything here is in review
    apart = make(store, same=0.9, rule=rule, proposal_merge_similarity=0.95)
    joined = make(store, same=0.9, rule=rule, proposal_merge_similarity=0.5)
    chips = [chip(store, unit(1, 0.3), 0), chip(store, unit(1, -0.3), 1)]
    feed(apart, *chips)
    feed(joined, *chips)
    assert apart.open_count == 2 and joined.open_count == 1
    (end,) = joined.end_all()
    assert (end.chip_count, end.decision.outcome, end.decision.individual_id) == (
        2,
        Outcome.KNOWN,
        "otis",
    )


def test_two_bears_with_the_same_proposal_stay_apart_when_unlike() -> None:
    store = Store()
    store.enrol("otis", unit(1, 0, 0))
    rule = DecisionRule("best", 0.99, 0.1)
    tracker = make(store, same=0.9, rule=rule, proposal_merge_similarity=0.5)
    feed(tracker, chip(store, unit(1, 1, 0), 0), chip(store, unit(1, -1, 0), 1))
    assert tracker.open_count == 2  # both nearest otis, but only 0.0 alike


def test_quiet_track_ends_by_wall_clock() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    clock = Clock()
    tracker = make(store, clock)
    feed(tracker, chip(store, unit(1, 0), 0))
    clock.now += 59
    assert tracker.expire() == []
    clock.now += 1
    (end,) = tracker.expire()
    assert end.type == "end" and tracker.open_count == 0


def test_unknown_bear_gets_one_provisional_id_and_one_alert_across_visits() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    stranger = unit(0, 0, 1)
    visit1 = feed(tracker, *(chip(store, stranger, s) for s in (0, 1, 2)))
    assert visit1[0].type == "new" and visit1[0].channel == "unknown"
    d = visit1[0].decision
    assert (d.outcome, d.individual_id, d.provisional) == (
        Outcome.UNKNOWN,
        "unknown-box-0001",
        True,
    )
    assert d.similarity < 0.8  # why it is unknown: its best gallery match
    assert all(e.channel == "sighting" for e in visit1[1:])
    # The next visit of the same bear is a known sighting of its provisional id.
    visit2 = feed(tracker, chip(store, stranger, 3600))
    assert [(e.type, e.channel) for e in visit2] == [("end", "sighting"), ("new", "sighting")]
    again = visit2[1].decision
    assert (again.outcome, again.individual_id, again.provisional) == (
        Outcome.KNOWN,
        "unknown-box-0001",
        True,
    )
    assert store.provisional == 1
    provisional_refs = [r for r in store.refs if r[0] == "unknown-box-0001"]
    assert len(provisional_refs) == 3  # two chips made it, the third refined it


def test_review_creates_nothing_and_unknown_creates_exactly_one_alert() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    rule = DecisionRule("best", 0.9, 0.5)  # 0.5 <= best < 0.9: review
    tracker = make(store, rule=rule, same=0.95)
    doubtful = unit(1, 0.8)  # best similarity ~0.78
    stranger = unit(0, 0, 1)  # best similarity 0
    events = feed(tracker, *(chip(store, doubtful, s) for s in (0, 1, 2)))
    events += feed(tracker, *(chip(store, stranger, s) for s in (3, 4, 5)))
    events += tracker.end_all()
    review = [e for e in events if e.decision.outcome is Outcome.REVIEW]
    assert review and all(e.decision.individual_id is None for e in review)
    assert all(e.channel == "sighting" for e in review)
    alerts = [e for e in events if e.channel == "unknown"]
    assert len(alerts) == 1 and alerts[0].decision.individual_id == "unknown-box-0001"
    assert store.provisional == 1
    ends = {e.decision.outcome for e in events if e.type == "end"}
    assert ends == {Outcome.REVIEW, Outcome.UNKNOWN}


def test_one_blurry_first_frame_raises_no_unknown_alert() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    blurry = unit(1, 1.2)  # similarity to bear-a ~0.64: unknown on its own
    assert feed(tracker, chip(store, blurry, 0)) == []  # too early to call it a new bear
    events = feed(tracker, *(chip(store, unit(1, 0), s) for s in (1, 2, 3)))
    assert [(e.type, e.channel) for e in events] == [("new", "sighting")]
    assert events[0].decision.individual_id == "bear-a" and events[0].chip_count == 2
    assert store.provisional == 0
    assert tracker.end_all()[-1].decision.individual_id == "bear-a"


def test_a_lone_unknown_chip_is_announced_when_its_encounter_ends() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    assert feed(tracker, chip(store, unit(0, 1), 0)) == []
    new, end = tracker.end_all()
    assert (new.type, new.channel, new.decision.individual_id) == (
        "new",
        "unknown",
        "unknown-box-0001",
    )
    assert (end.type, end.chip_count) == ("end", 1)


def test_an_encounter_can_change_its_mind() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store, unknown_after_chips=1)
    blurry = unit(1, 1.2)  # announced at once as a new bear (unknown_after_chips = 1)
    events = feed(tracker, chip(store, blurry, 0))
    assert events[0].decision.individual_id == "unknown-box-0001"
    events += feed(tracker, *(chip(store, unit(1, 0), s) for s in (1, 2, 3, 4)))
    updates = [e for e in events if e.type == "update"]
    assert updates and updates[-1].decision.individual_id == "bear-a"
    assert tracker.end_all()[-1].decision.individual_id == "bear-a"


def test_forget_drops_open_tracks_without_events() -> None:
    store = Store()
    store.enrol("bear-a", unit(1, 0))
    tracker = make(store)
    feed(tracker, chip(store, unit(1, 0), 0))
    tracker.forget()
    assert tracker.open_count == 0 and tracker.end_all() == []
