"""What every review action shares: its result, the configuration, and the last steps
inside its transaction (event, audit row, change token) and after its commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from bearagent.config import AgentConfig
from bearagent.gallery import find_by_name, get_individual
from bearagent.gallery.individuals import Individual, validate_name
from bearagent.review.actions import refusals
from bearagent.review.actions.audit import Correction, close_row, publish
from bearagent.review.actions.changes import ChangeSet
from bearagent.review.actions.embedding import ChipEmbedder, EmbeddedChips, EmbedderUnavailable
from bearagent.review.actions.reviewer import Reviewer
from bearagent.review.errors import ActionRefused
from bearagent.review.queries.gallery import open_encounters_of
from bearagent.review.queries.types import ChipView


@dataclass(frozen=True)
class ActionResult:
    """What an action did."""

    action_id: int
    action: str
    summary: str
    event_id: str
    notes: tuple[str, ...] = ()
    references_changed: bool = False


class ActionBase:
    """The configuration and plumbing of `ReviewService`."""

    def __init__(
        self,
        cfg: AgentConfig,
        embedder: ChipEmbedder | None = None,
        on_references_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.cfg = cfg
        self.cap = cfg.review.max_references_per_individual
        self.roots = list(cfg.watch.roots)
        self.embedder = embedder
        self.on_references_changed = on_references_changed

    def _embed(self, db: sqlite_utils.Database, chips: list[ChipView]) -> EmbeddedChips:
        """The chips' embeddings; none (with a note) when the model cannot run here."""
        if self.embedder is None:
            return EmbeddedChips(missing=[c.file for c in chips])
        try:
            return self.embedder.embed(db, chips)
        except EmbedderUnavailable as e:
            return EmbeddedChips(missing=[str(e)])

    def _finish(
        self,
        db: sqlite_utils.Database,
        who: Reviewer,
        changes: ChangeSet,
        correction: Correction,
        summary: str,
        individual_id: str | None,
        settles: bool,
        *,
        undoes: int | None = None,
        encounter_id: str | None = None,
    ) -> ActionResult:
        """Inside the transaction: the event, the audit row, the gallery's change token."""
        event_id = publish(db, self.cfg.agent.id, who, correction)
        text = summary + "".join(f"; {n}" for n in changes.notes)
        close_row(
            db, changes.action_id, correction=correction, individual_id=individual_id,
            settles=settles, summary=text, inverse=changes.as_inverse(), event_id=event_id,
            undoes=undoes, encounter_id=encounter_id,
        )  # fmt: skip
        changes.finish(db)
        return ActionResult(changes.action_id, correction.action, text, event_id,
                            tuple(changes.notes), changes.changed_references)  # fmt: skip

    def _committed(self, result: ActionResult) -> ActionResult:
        """After the commit: calibrate the thresholds again when references changed."""
        if result.references_changed:
            self.on_references_changed()
        return result

    def _check_name_free(self, db: sqlite_utils.Database, name: str) -> None:
        clean = validate_name(name)
        owner = find_by_name(db, clean)
        if owner is not None:
            raise ActionRefused(refusals.name_taken(clean, get_individual(db, owner).label))

    def _check_not_open(self, db: sqlite_utils.Database, individual: Individual) -> None:
        still = open_encounters_of(db, individual.id)
        if still:
            raise ActionRefused(refusals.individual_open(individual.label, still[0][0]))

    def _retire_empty_provisional(
        self, db: sqlite_utils.Database, changes: ChangeSet, individual_id: str | None
    ) -> None:
        """A provisional individual left with no reference and no encounter goes."""
        if individual_id is None:
            return
        row = db.execute(
            "SELECT kind, (SELECT count(*) FROM reference_embeddings WHERE individual_id = ?),"
            " (SELECT count(*) FROM encounters WHERE individual_id = ? AND status != 'rejected')"
            " FROM individuals WHERE id = ?",
            [individual_id, individual_id, individual_id],
        ).fetchone()
        if row is not None and row[0] == "provisional" and row[1] == 0 and row[2] == 0:
            changes.delete_individual(db, individual_id)
