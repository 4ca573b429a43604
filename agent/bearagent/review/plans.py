"""What an action will change, in words, before a person takes it (the page shows these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from bearagent.gallery import get_individual
from bearagent.gallery.individuals import Individual
from bearagent.review.actions.apply import chip_sources, references_from
from bearagent.review.queries.types import EncounterView

SENT = "a correction event goes to the broker; the audit page can undo it"


@dataclass(frozen=True)
class Plan:
    """One action a person may take, and what it will change."""

    action: str
    label: str
    changes: tuple[str, ...]
    target: str | None = None  # the individual it settles on, when it names one


def _counts(db: sqlite_utils.Database, individual_id: str) -> tuple[int, int]:
    """(references, encounters) of an individual."""
    refs, encounters = db.execute(
        "SELECT (SELECT count(*) FROM reference_embeddings WHERE individual_id = ?),"
        " (SELECT count(*) FROM encounters WHERE individual_id = ? AND merged_into IS NULL)",
        [individual_id, individual_id],
    ).fetchone()
    return int(refs), int(encounters)


def _live(view: EncounterView) -> int:
    return sum(1 for c in view.chips if not c.rejected)


def _references_line(db: sqlite_utils.Database, target: Individual, chips: int, cap: int) -> str:
    have, _ = _counts(db, target.id)
    room = max(0, cap - have)
    if room == 0:
        return f"{target.label} has its {cap} references already: no chip is added to them"
    return (
        f"up to {min(room, chips)} of them become references of {target.label} (it has {have} "
        f"of at most {cap}; the chips least like those first)"
    )


def assign_plan(
    db: sqlite_utils.Database,
    view: EncounterView,
    target: Individual,
    cap: int,
    roots: Sequence[Path] = (),
) -> Plan:
    """Assigning the encounter to `target` (a merge, for an unknown encounter's new bear)."""
    own = None if view.individual_id is None else get_individual(db, view.individual_id)
    if view.status == "unknown" and own is not None and own.kind == "provisional":
        return merge_plan(db, own, target, cap)
    live = [c for c in view.chips if not c.rejected]
    others = sorted({owner for _, owner in references_from(db, chip_sources(live, roots))
                     if owner != target.id})  # fmt: skip
    lines = [
        f"the encounter's {len(live)} chips become sightings of {target.label}",
        _references_line(db, target, len(live), cap),
    ]
    if others:
        lines.append(f"the references made from these chips for {', '.join(others)} are removed")
    return Plan("assign", f"Assign to {target.label}", (*lines, SENT), target.id)


def merge_plan(db: sqlite_utils.Database, source: Individual, target: Individual, cap: int) -> Plan:
    """Merging provisional `source` into named `target`."""
    refs, encounters = _counts(db, source.id)
    have, _ = _counts(db, target.id)
    kept = min(refs, max(0, cap - have))
    return Plan(
        "merge",
        f"Merge {source.id} into {target.label}",
        (
            f"{source.id}'s {encounters} encounter(s) and their chips become {target.label}'s",
            f"{kept} of its {refs} references join {target.label}'s {have} (at most {cap})",
            f"{source.id} is retired",
            SENT,
        ),
        target.id,
    )


def encounter_plans(
    db: sqlite_utils.Database, view: EncounterView, cap: int, roots: Sequence[Path] = ()
) -> list[Plan]:
    """The confirm, create and reject actions of an encounter (assign and merge are
    planned per chosen individual with `assign_plan`)."""
    chips = _live(view)
    plans: list[Plan] = []
    own = None if view.individual_id is None else get_individual(db, view.individual_id)
    if view.status == "unknown" and own is not None:
        refs, encounters = _counts(db, own.id)
        plans.append(Plan("confirm", f"Confirm: a new bear, {own.label}", (
            f"{own.label} stays a provisional bear (waiting for a name) with its {refs} "
            f"references", "the encounter leaves the queue", SENT)))  # fmt: skip
        plans.append(Plan("create", "Name this new bear", (
            f"{own.label} becomes a named individual (a new bear-NNNN id): its {refs} "
            f"references and {encounters} encounter(s) go with it", SENT)))  # fmt: skip
    else:
        proposal = own or (
            get_individual(db, view.candidates[0].individual_id)
            if view.candidates and view.candidates[0].kind != "gone"
            else None
        )
        if proposal is not None:
            confirm = assign_plan(db, view, proposal, cap, roots)
            plans.append(Plan("confirm", f"Confirm: it is {proposal.label}", confirm.changes,
                              proposal.id))  # fmt: skip
        plans.append(Plan("create", "Create a new named individual", (
            f"a new named individual (bear-NNNN) is made from the encounter's {chips} chips "
            f"(up to {min(chips, cap)} become its references)", SENT)))  # fmt: skip
    plans.append(Plan("reject", "Reject the selected chips", (
        "the chips you tick are marked 'not a bear' or 'unusable': out of the individual's "
        "sightings, and references made from them are removed",
        "rejecting every chip rejects the encounter", SENT)))  # fmt: skip
    return plans
