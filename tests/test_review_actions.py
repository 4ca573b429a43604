"""Review actions on a real agent database (the agent decided the visits itself): each is
one transaction with its audit row, its sightings, encounter and gallery changes and its
`correction` event; each can be undone exactly; each refuses what it cannot do with the
words the page shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlite_utils
from jsonschema import Draft202012Validator

from bearagent.gallery import find_by_name, get_individual
from bearagent.gallery.schema import gallery_state
from bearagent.review.actions import Reviewer, ReviewService, refusals
from bearagent.review.actions.embedding import ChipEmbedder
from bearagent.review.actions.picking import DUPLICATE, pick_unlike
from bearagent.review.errors import ActionRefused
from bearagent.review.queries.audit import recent_actions, undoable
from bearagent.review.queries.encounters import get_encounter, queue_page
from bearagent.review.queries.types import QueueFilters
from bearagent.review.schema import ensure_schema
from bearagent.runtime import RuntimeConfig
from bearagent.store import open_database
from bearagent.wire.payloads import load_schema
from support.review_world import ReviewWorld, build, copy_database

VALIDATOR = Draft202012Validator(load_schema())
ANNA = Reviewer("Anna", "127.0.0.1")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> ReviewWorld:
    return build(tmp_path_factory.mktemp("review-world"))


@dataclass
class Desk:
    """A copy of the agent's database and the review service on it."""

    rw: ReviewWorld
    db: sqlite_utils.Database
    service: ReviewService

    def encounter(self, encounter_id: str) -> Any:
        return get_encounter(self.db, encounter_id, references=4)

    def corrections(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT payload FROM outbox WHERE channel = 'correction' ORDER BY id"
        ).fetchall()
        events = [json.loads(r[0]) for r in rows]
        for event in events:
            VALIDATOR.validate(event)
        return events


def desk_for(built: ReviewWorld, tmp_path: Path, **review: Any) -> Desk:
    database = copy_database(built.database, tmp_path / "copy.db")
    cfg = built.config(database, review=review)
    db = open_database(database)
    ensure_schema(db)
    embedder = ChipEmbedder(
        RuntimeConfig(model=cfg.runtime.model, warm_up=False), cfg.watch.roots, 10**7
    )
    return Desk(built, db, ReviewService(cfg, embedder))


@pytest.fixture
def desk(built: ReviewWorld, tmp_path: Path) -> Iterator[Desk]:
    d = desk_for(built, tmp_path)
    yield d
    assert d.service.embedder is not None
    d.service.embedder.close()
    d.db.conn.close()


def state(db: sqlite_utils.Database) -> dict[str, Any]:
    """Everything an action may change, for comparing before and after an undo."""
    return {
        "individuals": db.execute("SELECT * FROM individuals ORDER BY id").fetchall(),
        "references": db.execute(
            "SELECT id, individual_id, embedding, source FROM reference_embeddings ORDER BY id"
        ).fetchall(),
        "thumbnails": db.execute(
            "SELECT kind, owner_id, length(jpeg) FROM thumbnails ORDER BY kind, owner_id"
        ).fetchall(),
        "sightings": db.execute(
            "SELECT id, individual_id, outcome FROM sightings ORDER BY id"
        ).fetchall(),
        "encounters": db.execute(
            "SELECT id, status, individual_id, decision FROM encounters ORDER BY id"
        ).fetchall(),
    }


def refs_of(db: sqlite_utils.Database, individual_id: str) -> list[int]:
    rows = db.execute(
        "SELECT id FROM reference_embeddings WHERE individual_id = ? ORDER BY id", [individual_id]
    )
    return [int(r[0]) for r in rows.fetchall()]


def test_the_queue_holds_the_review_and_the_unknown_encounter_newest_first(desk: Desk) -> None:
    page = queue_page(desk.db, QueueFilters(), page_size=25, references=4)
    assert [e.id for e in page.encounters] == [desk.rw.unknown, desk.rw.review]
    assert page.total == 2 and page.cameras == ("cam02", "cam03")
    review = page.encounters[1]
    assert review.status == "review" and review.individual_id is None
    assert review.chips and all(c.has_thumbnail for c in review.chips)
    assert len(review.candidates) == 3 and all(c.references for c in review.candidates)
    only_cam02 = queue_page(desk.db, QueueFilters(camera="cam02"), 25, 4)
    assert [e.id for e in only_cam02.encounters] == [desk.rw.review]
    assert queue_page(desk.db, QueueFilters(date_from="2026-07-02"), 25, 4).total == 0
    assert queue_page(desk.db, QueueFilters(status="unknown"), 25, 4).total == 1


def test_confirm_settles_a_review_encounter_on_its_best_candidate(desk: Desk) -> None:
    view = desk.encounter(desk.rw.review)
    best = view.candidates[0]
    generation, layout = gallery_state(desk.db)
    before_refs = refs_of(desk.db, best.individual_id)
    result = desk.service.confirm(desk.db, desk.rw.review, ANNA)
    after = desk.encounter(desk.rw.review)
    assert (after.status, after.individual_id, after.name) == ("known", best.individual_id,
                                                               best.name)  # fmt: skip
    assert after.settled is not None and after.settled.action_id == result.action_id
    assert {(c.individual_id, c.outcome) for c in after.chips} == {(best.individual_id, "known")}
    new_refs = refs_of(desk.db, best.individual_id)[len(before_refs) :]
    assert 1 <= len(new_refs) <= len(view.chips)
    thumbs = desk.db.execute(
        f"SELECT count(*) FROM thumbnails WHERE kind = 'reference' AND owner_id IN "
        f"({','.join(map(str, new_refs))})"
    ).fetchone()[0]
    assert thumbs == len(new_refs)
    new_generation, new_layout = gallery_state(desk.db)
    assert new_generation != generation and new_layout == layout  # the agent loads only the new
    (event,) = desk.corrections()
    assert event["event_id"] == result.event_id and event["action"] == "confirm"
    assert event["by"] == "Anna" and event["encounter_id"] == desk.rw.review
    assert event["before"] == {"status": "review", "individual_id": None, "name": None}
    assert event["after"] == {"status": "known", "individual_id": best.individual_id,
                              "name": best.name}  # fmt: skip
    assert sorted(event["files"]) == sorted(c.file for c in view.chips)
    assert [e.id for e in queue_page(desk.db, QueueFilters(), 25, 4).encounters] == [
        desk.rw.unknown
    ]


def test_assign_then_undo_restores_every_row(desk: Desk) -> None:
    view = desk.encounter(desk.rw.review)
    other = view.candidates[1]
    before = state(desk.db)
    result = desk.service.assign(desk.db, desk.rw.review, other.name or other.individual_id, ANNA)
    assert desk.encounter(desk.rw.review).individual_id == other.individual_id
    assert state(desk.db) != before
    undo = desk.service.undo(desk.db, result.action_id, ANNA)
    assert state(desk.db) == before
    assert undoable(desk.db) is None
    first, second = desk.corrections()
    assert second["action"] == "undo" and second["undoes"] == first["event_id"]
    assert (second["before"], second["after"]) == (first["after"], first["before"])
    assert second["event_id"] == undo.event_id
    log = recent_actions(desk.db)
    assert [(a.action, a.undone_by, a.undoes) for a in log] == [
        ("undo", None, result.action_id),
        ("assign", undo.action_id, None),
    ]
    assert desk.rw.review in [e.id for e in queue_page(desk.db, QueueFilters(), 25, 4).encounters]


def test_create_a_named_individual_from_a_review_encounter(desk: Desk) -> None:
    before = state(desk.db)
    result = desk.service.create(desk.db, desk.rw.review, "Juniper", ANNA)
    new_id = find_by_name(desk.db, "Juniper")
    assert new_id is not None and new_id.startswith("bear-")
    assert desk.encounter(desk.rw.review).individual_id == new_id
    assert refs_of(desk.db, new_id)  # its chips are its references
    (event,) = desk.corrections()
    assert event["action"] == "create" and event["after"]["individual_id"] == new_id
    desk.service.undo(desk.db, result.action_id, ANNA)
    assert state(desk.db) == before and find_by_name(desk.db, "Juniper") is None


def test_assigning_the_unknown_encounter_to_a_named_bear_merges_its_provisional_one(
    desk: Desk,
) -> None:
    rw = desk.rw
    target = get_individual(desk.db, rw.known_bear)
    provisional_refs = refs_of(desk.db, rw.provisional)
    assert provisional_refs  # the agent made it from the visit's chips
    before = state(desk.db)
    result = desk.service.assign(desk.db, rw.unknown, target.name or target.id, ANNA)
    assert result.action == "merge"
    assert (
        desk.db.execute("SELECT 1 FROM individuals WHERE id = ?", [rw.provisional]).fetchone()
        is None
    )
    assert set(provisional_refs) <= set(refs_of(desk.db, target.id))
    view = desk.encounter(rw.unknown)
    assert (view.status, view.individual_id) == ("known", target.id)
    assert view.settled is not None  # the encounter leaves the queue
    (event,) = desk.corrections()
    assert event["action"] == "merge" and event["encounter_id"] is None
    assert event["before"] == {"status": "unknown", "individual_id": rw.provisional, "name": None}
    assert event["after"] == {"status": "known", "individual_id": target.id, "name": target.name}
    desk.service.undo(desk.db, result.action_id, ANNA)
    assert state(desk.db) == before


def test_naming_the_unknown_encounter_makes_its_provisional_bear_a_named_one(desk: Desk) -> None:
    rw = desk.rw
    refs = refs_of(desk.db, rw.provisional)
    result = desk.service.create(desk.db, rw.unknown, "Bramble", ANNA)
    named = get_individual(desk.db, "Bramble")
    assert named.kind == "known" and named.id.startswith("bear-")
    assert refs_of(desk.db, named.id) == refs
    (event,) = desk.corrections()
    assert (event["action"], event["encounter_id"]) == ("rename", None)
    assert event["before"]["individual_id"] == rw.provisional
    assert event["after"] == {"status": "known", "individual_id": named.id, "name": "Bramble"}
    assert desk.encounter(rw.unknown).settled is not None
    desk.service.undo(desk.db, result.action_id, ANNA)
    assert get_individual(desk.db, rw.provisional).kind == "provisional"


def test_confirming_an_unknown_encounter_keeps_its_new_provisional_bear(desk: Desk) -> None:
    rw = desk.rw
    desk.service.confirm(desk.db, rw.unknown, ANNA)
    view = desk.encounter(rw.unknown)
    assert (view.status, view.individual_id) == ("unknown", rw.provisional)
    assert {c.individual_id for c in view.chips} == {rw.provisional}
    (event,) = desk.corrections()
    assert event["before"] == event["after"] == {
        "status": "unknown", "individual_id": rw.provisional, "name": None
    }  # fmt: skip
    assert queue_page(desk.db, QueueFilters(), 25, 4).total == 1


def test_rejecting_chips_takes_them_out_of_sightings_and_gallery(desk: Desk) -> None:
    rw = desk.rw
    view = desk.encounter(rw.unknown)
    before = state(desk.db)
    first = view.chips[0]
    part = desk.service.reject(desk.db, rw.unknown, [first.sighting_id], "not_a_bear", ANNA)
    after = desk.encounter(rw.unknown)
    assert after.chips[0].rejected and after.status == "unknown" and after.settled is None
    rest = [c.sighting_id for c in view.chips[1:]]
    whole = desk.service.reject(desk.db, rw.unknown, rest, "unusable", ANNA)
    gone = desk.encounter(rw.unknown)
    assert gone.status == "rejected" and gone.settled is not None
    # Its provisional bear was made of these chips only: it is retired with them.
    assert (
        desk.db.execute("SELECT 1 FROM individuals WHERE id = ?", [rw.provisional]).fetchone()
        is None
    )
    events = desk.corrections()
    assert [(e["action"], e["note"], len(e["files"])) for e in events] == [
        ("reject", "not a bear", 1), ("reject", "unusable", len(rest))
    ]  # fmt: skip
    assert events[0]["after"]["status"] == "rejected"
    desk.service.undo(desk.db, whole.action_id, ANNA)
    desk.service.undo(desk.db, part.action_id, ANNA)
    assert state(desk.db) == before


def test_rename_and_undo(desk: Desk) -> None:
    bear = get_individual(desk.db, desk.rw.known_bear)
    result = desk.service.rename(desk.db, bear.id, "Old Grey", ANNA)
    assert get_individual(desk.db, bear.id).name == "Old Grey"
    (event,) = desk.corrections()
    assert event["before"]["name"] == bear.name and event["after"]["name"] == "Old Grey"
    desk.service.undo(desk.db, result.action_id, ANNA)
    assert get_individual(desk.db, bear.id).name == bear.name


def test_refusals_name_the_problem(desk: Desk) -> None:
    rw = desk.rw
    db = desk.db
    db.execute("UPDATE encounters SET ended = 0 WHERE id = ?", [rw.review])
    db.conn.commit()
    with pytest.raises(ActionRefused) as e:
        desk.service.confirm(db, rw.review, ANNA)
    assert str(e.value) == (
        f"encounter {rw.review} at north/cam02 is still open (the agent is adding chips to "
        "it): decide it once it has ended"
    )
    db.execute("UPDATE encounters SET ended = 1 WHERE id = ?", [rw.review])
    db.execute("UPDATE encounters SET ended = 0 WHERE id = ?", [rw.unknown])
    db.conn.commit()
    with pytest.raises(ActionRefused) as e:  # the agent still adds chips to the new bear
        desk.service.merge(db, rw.provisional, rw.known_bear, ANNA)
    assert str(e.value) == (
        f"{rw.provisional} has an encounter still open at north/cam03: try again once it has ended"
    )
    db.execute("UPDATE encounters SET ended = 1 WHERE id = ?", [rw.unknown])
    db.conn.commit()
    with pytest.raises(ActionRefused) as e:
        desk.service.create(db, rw.review, rw.known_bear.upper(), ANNA)
    known = get_individual(db, rw.known_bear)
    assert str(e.value) == (
        f"the name {rw.known_bear.upper()!r} is already used by {known.label}: assign the "
        "encounter to it, or choose another name"
    )
    with pytest.raises(ActionRefused) as e:
        desk.service.merge(db, known.id, rw.provisional, ANNA)
    assert str(e.value) == refusals.not_provisional(known.label)
    with pytest.raises(ActionRefused) as e:
        desk.service.assign(db, rw.known, known.id, ANNA)
    assert str(e.value) == f"the encounter is already {known.label}: use confirm"
    with pytest.raises(ActionRefused) as e:
        desk.service.reject(db, rw.review, [], "unusable", ANNA)
    assert str(e.value) == "select the chips to reject first"
    with pytest.raises(ActionRefused) as e:
        desk.service.undo(db, 1, ANNA)
    assert str(e.value) == "there is nothing to undo"
    first = desk.service.rename(db, known.id, "Old Grey", ANNA)
    desk.service.rename(db, known.id, "Older Grey", ANNA)
    with pytest.raises(ActionRefused) as e:
        desk.service.undo(db, first.action_id, ANNA)
    assert (
        str(e.value)
        == f"only the last action can be undone (#{first.action_id + 1}), not #{first.action_id}"
    )
    assert desk.corrections()  # the refused ones wrote nothing: 2 renames only
    assert len(desk.corrections()) == 2


def test_undo_refuses_once_the_agent_has_matched_the_new_individual(desk: Desk) -> None:
    result = desk.service.create(desk.db, desk.rw.review, "Juniper", ANNA)
    new_id = find_by_name(desk.db, "Juniper")
    desk.db.execute(  # the agent's next chip of that bear, decided as it
        "INSERT INTO sightings (file, processed_at, individual_id, model_sha256)"
        " VALUES ('north/cam02/later.jpg', '2026-07-01T16:00:00+00:00', ?, 'x')",
        [new_id],
    )
    desk.db.conn.commit()
    with pytest.raises(ActionRefused) as e:
        desk.service.undo(desk.db, result.action_id, ANNA)
    assert str(e.value) == (
        f"cannot undo: the agent has matched 1 chip(s) to {new_id} since; undoing would leave "
        "them pointing at an individual that no longer exists"
    )


def test_references_stop_at_the_cap(built: ReviewWorld, tmp_path: Path) -> None:
    d = desk_for(built, tmp_path, max_references_per_individual=1)
    result = d.service.create(d.db, built.review, "Juniper", ANNA)
    new_id = find_by_name(d.db, "Juniper")
    assert new_id is not None and len(refs_of(d.db, new_id)) == 1
    assert "1 chip(s) became references" in result.summary


def naive_pick(existing: np.ndarray, candidates: np.ndarray, room: int) -> list[int]:
    """The same choice, one candidate and one comparison at a time."""
    taken: list[int] = []
    pool = [existing[i] for i in range(existing.shape[0])]
    if not pool:
        mean = candidates.mean(axis=0)
        first = max(range(len(candidates)), key=lambda i: float(candidates[i] @ mean))
        taken.append(first)
        pool.append(candidates[first])
    while len(taken) < room:
        best, best_sim = None, np.inf
        for i in range(len(candidates)):
            if i in taken:
                continue
            sim = max(float(candidates[i] @ p) for p in pool)
            if sim < DUPLICATE and sim < best_sim:
                best, best_sim = i, sim
        if best is None:
            break
        taken.append(best)
        pool.append(candidates[best])
    return taken[:room]


@pytest.mark.parametrize("seed", range(6))
def test_pick_unlike_matches_a_naive_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)

    def unit(n: int) -> np.ndarray:
        m = rng.normal(size=(n, 8)).astype(np.float32)
        out: np.ndarray = m / np.linalg.norm(m, axis=1, keepdims=True)
        return out

    existing, candidates = unit(int(rng.integers(0, 4))), unit(int(rng.integers(1, 9)))
    candidates = np.concatenate([candidates, candidates[:1]])  # a duplicate is never taken twice
    room = int(rng.integers(1, 8))
    assert pick_unlike(existing, candidates, room) == naive_pick(existing, candidates, room)
