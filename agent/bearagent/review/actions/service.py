"""`ReviewService`: the review actions, each one transaction with its audit row and event.

Every public method takes the calling thread's database connection, reads what it
needs outside the transaction (and embeds chips there: the agent never waits for
the model), then re-checks and writes everything inside ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from bearagent.gallery import get_individual
from bearagent.gallery.individuals import Individual
from bearagent.gallery.writes import now_iso
from bearagent.review.actions import refusals
from bearagent.review.actions.apply import (
    add_chip_references,
    chip_sources,
    references_from,
    reviewed_decision,
)
from bearagent.review.actions.audit import (
    Correction,
    CorrectionAction,
    identity,
    open_row,
)
from bearagent.review.actions.base import ActionResult
from bearagent.review.actions.changes import ChangeSet
from bearagent.review.actions.individuals import IndividualActions
from bearagent.review.actions.reviewer import Reviewer
from bearagent.review.actions.undo import revert
from bearagent.review.errors import ActionRefused
from bearagent.review.queries.audit import get_action, undoable
from bearagent.review.queries.encounters import get_encounter
from bearagent.review.queries.types import EncounterView
from bearagent.store import transaction

REJECT_REASONS = {"not_a_bear": "not a bear", "unusable": "unusable"}


class ReviewService(IndividualActions):
    """The review actions over one agent's database (thread-safe: no state per call)."""

    # --- encounters ---------------------------------------------------------------------

    def confirm(self, db: sqlite_utils.Database, encounter_id: str, who: Reviewer) -> ActionResult:
        """Accept the proposal: the best candidate of a review encounter, the agent's own
        individual of a known one, or, for an unknown one, that it is a new bear."""
        view = self._decidable(db, encounter_id)
        if view.status == "unknown" and view.individual_id is not None:
            return self._confirm_new_bear(db, view, who)
        if view.individual_id is not None:
            target = get_individual(db, view.individual_id)
        elif view.candidates and view.candidates[0].kind != "gone":
            target = get_individual(db, view.candidates[0].individual_id)
        else:
            raise ActionRefused(refusals.nothing_to_confirm(encounter_id))
        return self._settle_on(db, view, target, who, "confirm")

    def assign(
        self, db: sqlite_utils.Database, encounter_id: str, individual: str, who: Reviewer
    ) -> ActionResult:
        """The encounter is `individual` (id or name). For an unknown encounter whose new
        provisional individual is really a named one, that is a merge of the two."""
        view = self._decidable(db, encounter_id)
        target = get_individual(db, individual)
        if view.individual_id == target.id:
            raise ActionRefused(refusals.same_individual(target.label))
        own = None if view.individual_id is None else get_individual(db, view.individual_id)
        if view.status == "unknown" and own is not None and own.kind == "provisional":
            if target.kind == "provisional":
                raise ActionRefused(refusals.provisional_to_provisional(own.id, target.id))
            return self.merge(db, own.id, target.id, who, encounter_id=encounter_id)
        return self._settle_on(db, view, target, who, "assign")

    def create(
        self, db: sqlite_utils.Database, encounter_id: str, name: str, who: Reviewer
    ) -> ActionResult:
        """The encounter is a bear not in the gallery yet: a new named individual called
        `name` (for an unknown encounter, its provisional individual gets the name)."""
        view = self._decidable(db, encounter_id)
        own = None if view.individual_id is None else get_individual(db, view.individual_id)
        if own is not None and own.kind == "provisional":
            return self.name_provisional(db, own.id, name, who, encounter_id=encounter_id)
        self._check_name_free(db, name)
        return self._settle_on(db, view, None, who, "create", new_name=name)

    def reject(
        self,
        db: sqlite_utils.Database,
        encounter_id: str,
        sighting_ids: Sequence[int],
        reason: str,
        who: Reviewer,
    ) -> ActionResult:
        """Chips that are not a bear, or unusable: out of the sightings and the gallery."""
        why = REJECT_REASONS.get(reason)
        if why is None:
            raise ActionRefused(f"unknown reason {reason!r}: use {' or '.join(REJECT_REASONS)}")
        view = self._decidable(db, encounter_id, allow_rejected=True)
        chips = [c for c in view.chips if c.sighting_id in set(sighting_ids) and not c.rejected]
        if not chips:
            raise ActionRefused(refusals.no_chips_selected())
        whole = len(chips) == len([c for c in view.chips if not c.rejected])
        before = identity(view.status, view.individual_id, view.name)
        with transaction(db):
            self._recheck(db, view)
            action_id = open_row(db, who, "reject")
            changes = ChangeSet(action_id)
            changes.set_sightings(db, [c.sighting_id for c in chips], None, "rejected")
            changes.remove_references(
                db, [r for r, _ in references_from(db, chip_sources(chips, self.roots))]
            )
            if whole:
                changes.set_encounter(db, view.id, "rejected", None,
                                      reviewed_decision(view, "rejected", None, action_id,
                                                        who.name, now_iso()))  # fmt: skip
                self._retire_empty_provisional(db, changes, view.individual_id)
            summary = (
                f"rejected {len(chips)} chip(s) of encounter {view.id} ({view.site}/"
                f"{view.camera}) as {why}" + ("; the encounter is rejected" if whole else "")
            )
            correction = Correction("reject", view.id, [c.file for c in chips], before,
                                    identity("rejected", None, None), note=why)  # fmt: skip
            result = self._finish(db, who, changes, correction, summary, None, whole)
        return self._committed(result)

    # --- undo ---------------------------------------------------------------------------

    def undo(self, db: sqlite_utils.Database, action_id: int, who: Reviewer) -> ActionResult:
        """Reverse action `action_id`, which must be the last one still in force."""
        last = undoable(db)
        if last != action_id:
            raise ActionRefused(refusals.not_last(action_id, last))
        with transaction(db):
            if undoable(db) != action_id:
                raise ActionRefused(refusals.not_last(action_id, undoable(db)))
            done = get_action(db, action_id)
            undo_id = open_row(db, who, "undo")
            changes = ChangeSet(undo_id)
            revert(db, action_id, changes)
            correction = Correction(
                "undo",
                done.encounter_id,
                list(done.files),
                identity(done.after["status"], done.after["individual_id"], done.after["name"]),
                identity(done.before["status"], done.before["individual_id"],
                         done.before["name"]),
                undoes=done.event_id,
            )  # fmt: skip
            summary = f"undid #{done.id} ({done.action}): {done.summary}"
            result = self._finish(db, who, changes, correction, summary, done.individual_id,
                                False, undoes=done.id)  # fmt: skip
        return self._committed(result)

    # --- plumbing -----------------------------------------------------------------------

    def _decidable(
        self, db: sqlite_utils.Database, encounter_id: str, *, allow_rejected: bool = False
    ) -> EncounterView:
        view = get_encounter(db, encounter_id, references=0)
        if view.merged_into:
            raise ActionRefused(refusals.merged(view.id, view.merged_into))
        if not view.ended:
            raise ActionRefused(refusals.still_open(view.id, f"{view.site}/{view.camera}"))
        if view.status == "rejected" and not allow_rejected:
            raise ActionRefused(refusals.all_rejected(view.id))
        return view

    def _recheck(self, db: sqlite_utils.Database, view: EncounterView) -> None:
        """Inside the transaction: the encounter is as it was shown."""
        now = get_encounter(db, view.id, references=0)
        if (now.updated_at, now.status, now.individual_id, now.chips) != (
            view.updated_at, view.status, view.individual_id, view.chips
        ):  # fmt: skip
            raise ActionRefused(refusals.changed(view.id))

    def _settle_on(
        self,
        db: sqlite_utils.Database,
        view: EncounterView,
        target: Individual | None,
        who: Reviewer,
        action: CorrectionAction,
        *,
        new_name: str | None = None,
    ) -> ActionResult:
        """The encounter is `target` (or a new individual called `new_name`): its chips,
        its row, references from its chips, in one transaction."""
        live = [c for c in view.chips if not c.rejected]
        embedded = self._embed(db, live)
        before = identity(view.status, view.individual_id, view.name)
        with transaction(db):
            self._recheck(db, view)
            action_id = open_row(db, who, action)
            changes = ChangeSet(action_id)
            if target is None:
                assert new_name is not None
                new_id = changes.create_individual(db, new_name, f"created on the review page "
                                                   f"from encounter {view.id}",
                                                   self.cfg.agent.id)  # fmt: skip
                target = get_individual(db, new_id)
            stale = [r for r, owner in references_from(db, chip_sources(live, self.roots))
                     if owner != target.id]  # fmt: skip
            changes.remove_references(db, stale)
            changes.set_sightings(db, [c.sighting_id for c in live], target.id, "known")
            changes.set_encounter(
                db, view.id, "known", target.id,
                reviewed_decision(view, "known", target, action_id, who.name, now_iso()),
            )  # fmt: skip
            added = add_chip_references(db, changes, target, embedded, self.cap)
            if embedded.missing and not embedded.embeddings:
                changes.notes.append("no chip could be embedded: " + "; ".join(embedded.missing))
            verb = {"confirm": "confirmed", "assign": "assigned", "create": "created"}[action]
            summary = (
                f"{verb} encounter {view.id} ({view.site}/{view.camera}, {len(live)} chips) as "
                f"{target.label}"
                + (" (new)" if action == "create" else "")
                + f"; {added} chip(s) became references"
            )
            after = identity("known", target.id, target.name)
            correction = Correction(action, view.id, [c.file for c in live], before, after)
            result = self._finish(db, who, changes, correction, summary, target.id, True)
        return self._committed(result)

    def _confirm_new_bear(
        self, db: sqlite_utils.Database, view: EncounterView, who: Reviewer
    ) -> ActionResult:
        """An unknown encounter is indeed a bear the gallery did not know."""
        assert view.individual_id is not None
        target = get_individual(db, view.individual_id)
        live = [c for c in view.chips if not c.rejected]
        state = identity(view.status, view.individual_id, view.name)
        with transaction(db):
            self._recheck(db, view)
            action_id = open_row(db, who, "confirm")
            changes = ChangeSet(action_id)
            changes.set_sightings(db, [c.sighting_id for c in live], target.id)
            changes.set_encounter(
                db, view.id, "unknown", target.id,
                reviewed_decision(view, "unknown", target, action_id, who.name, now_iso()),
            )  # fmt: skip
            summary = (
                f"confirmed encounter {view.id} ({view.site}/{view.camera}) as a new bear, "
                f"{target.label}, still waiting for a name"
            )
            correction = Correction("confirm", view.id, [c.file for c in live], state, state)
            result = self._finish(db, who, changes, correction, summary, target.id, True)
        return self._committed(result)
