"""The scripted reviewer of bench_loop: a person at the station's review desk who knows every
cow, deciding each of the box's field encounters through the desk's own library calls
(`bearstation.desk.actions`, what its pages and ``bear-station encounters`` call).

Per encounter (the box's, as the station holds it; merged ones are decided through the
one they joined), its true individual is the one most of its chips show. The reviewer
confirms the proposal when it is right (the box's own individual, or in review its best
candidate), else assigns the encounter to the true individual by name; each decision
waits for its box's correction. Rounds repeat until every encounter is the true
individual decided by a person (a merge on the box changes other encounters, which the
next round confirms), at most `MAX_ROUNDS`.

The fleet gallery learns a box's named individuals only when an event names them: the
bench registers the box's enrolled individuals first, as the station's ingest registers
a named individual an event carries (`register_box_individual`), so that the desk can
assign an encounter to a cow the box has never decided automatically.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from bearagent.gallery.fleet_ids import fleet_id_of
from bearstation.desk import actions
from bearstation.desk.errors import DeskNotFound, DeskRefused
from bearstation.desk.views import DeskUser
from bearstation.fleet.gallery_errors import FleetGalleryError
from bearstation.fleet.gallery_ingest import register_box_individual
from bearstation.fleet.gallery_rows import resolve_root
from bearstation.tables import desk_commands, encounters, individuals, sightings
from loop_fleet import AGENT_ID, box_query, wait

MAX_ROUNDS = 5
REVIEWER = DeskUser("bench reviewer", "bench_loop")


@dataclass
class ReviewTally:
    """What the reviewer did: decisions by action, refusals, rounds, and the result."""

    actions: Counter[str] = field(default_factory=Counter)
    refused_at_desk: Counter[str] = field(default_factory=Counter)
    refused_by_box: int = 0
    rounds: int = 0
    encounters: int = 0
    decided: int = 0  # the true individual, decided by a person
    machine: Counter[str] = field(default_factory=Counter)  # the box's outcomes, first seen
    machine_right: int = 0  # known, and the right individual


def register_enrolled(engine: Engine, box_database: Path) -> int:
    """The box's enrolled named individuals into the fleet gallery; how many."""
    named = box_query(box_database, "SELECT id, name FROM individuals WHERE kind = 'known'")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for individual_id, name in named:
            register_box_individual(conn, AGENT_ID, str(individual_id), name=str(name),
                                    provisional=False, seen_at=now)  # fmt: skip
    return len(named)


def _root_id(conn: Connection, ref: str) -> str | None:
    try:
        return resolve_root(conn, ref).id
    except FleetGalleryError:
        return None


def _files(conn: Connection) -> dict[int, list[str]]:
    rows = conn.execute(
        select(sightings.c.encounter_ref, sightings.c.file).where(sightings.c.agent_id == AGENT_ID)
    )
    out: dict[int, list[str]] = {}
    for ref, file in rows:
        out.setdefault(int(ref), []).append(str(file))
    return out


def _encounters(conn: Connection) -> list[Any]:
    return list(conn.execute(
        select(encounters.c.id, encounters.c.encounter_id, encounters.c.status,
               encounters.c.decided_by, encounters.c.candidates, individuals.c.individual_id)
        .outerjoin(individuals, individuals.c.id == encounters.c.individual_ref)
        .where(encounters.c.agent_id == AGENT_ID, encounters.c.state == "ended")
        .order_by(encounters.c.started_at)
    ))  # fmt: skip


def _choice(conn: Connection, row: Any, truth: str) -> str | None:
    """'confirm', 'assign' or None (nothing to do) for one encounter whose truth is known."""
    target = _root_id(conn, truth)
    own = None if row.individual_id is None else _root_id(
        conn, fleet_id_of(AGENT_ID, str(row.individual_id)))  # fmt: skip
    if own is not None and own == target:
        return None if row.decided_by == "human" else "confirm"
    if row.status == "review" and row.candidates:
        best = _root_id(conn, fleet_id_of(AGENT_ID, str(row.candidates[0]["individual_id"])))
        if best is not None and best == target:
            return "confirm"
    return "assign"


def _waiting(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(
            select(func.count()).select_from(desk_commands)
            .where(desk_commands.c.state == "waiting")
        ).scalar_one())  # fmt: skip


def _one_round(
    engine: Engine, truth: dict[str, str], box_ids: dict[str, set[str]], tally: ReviewTally,
    *, act: bool = True,
) -> int:  # fmt: skip
    """Decide every encounter that needs it (with `act`; else only count); decisions made."""
    made = 0
    with engine.connect() as conn:
        files, rows = _files(conn), _encounters(conn)
    tally.encounters, tally.decided = 0, 0
    for row in rows:
        cows = Counter(truth[f] for f in files.get(row.id, []) if f in truth)
        if not cows:
            continue  # not a field encounter
        tally.encounters += 1
        who = cows.most_common(1)[0][0]
        if tally.rounds == 1:  # what the machine decided, before anyone looked
            tally.machine[row.status] += 1
            mine = row.individual_id is not None and str(row.individual_id) in box_ids[who]
            tally.machine_right += int(row.status == "known" and mine)
        with engine.begin() as conn:
            choice = _choice(conn, row, who)
            if choice is None:
                tally.decided += 1
                continue
            if not act:
                continue
            try:
                if choice == "confirm":
                    actions.confirm(conn, AGENT_ID, row.encounter_id, REVIEWER)
                else:
                    actions.assign(conn, AGENT_ID, row.encounter_id, who, REVIEWER)
            except (DeskRefused, DeskNotFound, FleetGalleryError) as e:
                tally.refused_at_desk[type(e).__name__] += 1
                continue
        tally.actions[choice] += 1
        made += 1
    return made


def review_field(engine: Engine, box_database: Path, truth: dict[str, str]) -> ReviewTally:
    """Decide every field encounter as its true individual; what it took."""
    box_ids: dict[str, set[str]] = {who: set() for who in set(truth.values())}
    for individual_id, name in box_query(box_database, "SELECT id, name FROM individuals"):
        if name in box_ids:
            box_ids[str(name)].add(str(individual_id))
    tally = ReviewTally()
    while tally.rounds < MAX_ROUNDS:
        tally.rounds += 1
        if _one_round(engine, truth, box_ids, tally) == 0:
            break
        wait(lambda: _waiting(engine) == 0, "answer from the box to every desk decision", 900)
    else:
        _one_round(engine, truth, box_ids, tally, act=False)
    with engine.connect() as conn:
        tally.refused_by_box = int(conn.execute(
            select(func.count()).select_from(desk_commands)
            .where(desk_commands.c.state == "refused")
        ).scalar_one())  # fmt: skip
    return tally
