"""Actions on individuals: merge a provisional one into a named one, name a provisional
one, rename. Each moves everything that points at the old individual (references,
sightings, encounters) through the action's `ChangeSet`, so undo can move it back.
"""

from __future__ import annotations

import sqlite_utils

from bearagent.gallery import get_individual
from bearagent.gallery.individuals import Individual
from bearagent.gallery.writes import now_iso
from bearagent.review.actions import refusals
from bearagent.review.actions.apply import decision_of, reviewed_decision, trim_to_cap
from bearagent.review.actions.audit import Correction, CorrectionAction, identity, open_row
from bearagent.review.actions.base import ActionBase, ActionResult
from bearagent.review.actions.changes import ChangeSet
from bearagent.review.actions.reviewer import Reviewer
from bearagent.review.errors import ActionRefused
from bearagent.store import transaction


class IndividualActions(ActionBase):
    """Merge, name and rename (the individuals' half of `ReviewService`)."""

    def merge(
        self,
        db: sqlite_utils.Database,
        provisional: str,
        named: str,
        who: Reviewer,
        *,
        encounter_id: str | None = None,
    ) -> ActionResult:
        """Provisional individual `provisional` is really named individual `named`: its
        references (up to the cap), sightings and encounters become `named`'s."""
        source, target = get_individual(db, provisional), get_individual(db, named)
        if source.kind != "provisional":
            raise ActionRefused(refusals.not_provisional(source.label))
        if target.kind != "known" or target.name is None:
            raise ActionRefused(refusals.not_named(target.label))
        self._check_not_open(db, source)
        with transaction(db):
            source, target = get_individual(db, source.id), get_individual(db, target.id)
            self._check_not_open(db, source)  # again, now that the agent cannot write
            action_id = open_row(db, who, "merge")
            changes = ChangeSet(action_id)
            moved, files = fold(db, changes, source, target, who.name)
            trimmed = trim_to_cap(db, changes, target.id, moved, self.cap)
            summary = (
                f"merged {source.label} into {target.label}: {len(moved) - trimmed} of its "
                f"{len(moved)} references, {len(changes.encounters)} encounter(s) and "
                f"{len(files)} chip(s) moved"
            )
            correction = Correction(
                "merge", None, files, identity("unknown", source.id, source.name),
                identity("known", target.id, target.name),
            )  # fmt: skip
            result = self._finish(db, who, changes, correction, summary, target.id,
                                  encounter_id is not None, encounter_id=encounter_id)  # fmt: skip
        return self._committed(result)

    def name_provisional(
        self,
        db: sqlite_utils.Database,
        provisional: str,
        name: str,
        who: Reviewer,
        *,
        encounter_id: str | None = None,
    ) -> ActionResult:
        """A provisional individual becomes a new named one called `name` (a new
        ``bear-<agent_id>-NNNN``; the provisional id is retired, everything moves over)."""
        source = get_individual(db, provisional)
        if source.kind != "provisional":
            return self.rename(db, source.id, name, who)
        self._check_name_free(db, name)
        self._check_not_open(db, source)
        action: CorrectionAction = "create" if encounter_id is not None else "rename"
        with transaction(db):
            source = get_individual(db, source.id)
            self._check_not_open(db, source)  # again, now that the agent cannot write
            action_id = open_row(db, who, action)
            changes = ChangeSet(action_id)
            new_id = changes.create_individual(
                db, name, f"named on the review page, was {source.id}", self.cfg.agent.id
            )
            target = get_individual(db, new_id)
            moved, files = fold(db, changes, source, target, who.name)
            summary = (
                f"named {source.label} {target.label}: {len(moved)} references, "
                f"{len(changes.encounters)} encounter(s) and {len(files)} chip(s) moved"
            )
            correction = Correction(
                "rename", None, files, identity("unknown", source.id, source.name),
                identity("known", target.id, target.name),
            )  # fmt: skip
            result = self._finish(db, who, changes, correction, summary, target.id,
                                  encounter_id is not None, encounter_id=encounter_id)  # fmt: skip
        return self._committed(result)

    def rename(
        self, db: sqlite_utils.Database, individual: str, name: str, who: Reviewer
    ) -> ActionResult:
        """A new name for an individual (a provisional one becomes a named one)."""
        current = get_individual(db, individual)
        if current.kind == "provisional":
            return self.name_provisional(db, current.id, name, who)
        with transaction(db):
            action_id = open_row(db, who, "rename")
            changes = ChangeSet(action_id)
            changes.rename(db, current.id, name)
            renamed = get_individual(db, current.id)
            summary = f"renamed {current.label} to {renamed.name}"
            correction = Correction(
                "rename", None, [], identity("known", current.id, current.name),
                identity("known", renamed.id, renamed.name),
            )  # fmt: skip
            result = self._finish(db, who, changes, correction, summary, current.id, False)
        return self._committed(result)


def fold(
    db: sqlite_utils.Database,
    changes: ChangeSet,
    source: Individual,
    target: Individual,
    by: str,
) -> tuple[list[int], list[str]]:
    """Move everything of `source` to `target` and delete `source`; returns the moved
    reference ids and the files of the chips that changed."""
    refs = [
        int(r[0])
        for r in db.execute(
            "SELECT id FROM reference_embeddings WHERE individual_id = ? ORDER BY id", [source.id]
        ).fetchall()
    ]
    changes.move_references(db, refs, target.id)
    encounters = [
        str(r[0])
        for r in db.execute(
            "SELECT id FROM encounters WHERE individual_id = ? ORDER BY started_at", [source.id]
        ).fetchall()
    ]
    chips = db.execute(
        "SELECT id, file FROM sightings WHERE (individual_id = ? OR encounter_id IN"
        " (SELECT id FROM encounters WHERE individual_id = ?)"
        " OR encounter_id IN (SELECT e.id FROM encounters e JOIN encounters k"
        "  ON e.merged_into = k.id WHERE k.individual_id = ?))"
        " AND coalesce(outcome, '') != 'rejected' ORDER BY id",
        [source.id, source.id, source.id],
    ).fetchall()
    changes.set_sightings(db, [int(c[0]) for c in chips], target.id, "known")
    at = now_iso()
    for encounter_id in encounters:
        decision = reviewed_decision(decision_of(db, encounter_id), "known", target,
                                     changes.action_id, by, at)  # fmt: skip
        changes.set_encounter(db, encounter_id, "known", target.id, decision)
    changes.delete_individual(db, source.id)
    return refs, [str(c[1]) for c in chips]
