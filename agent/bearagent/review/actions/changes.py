"""`ChangeSet`: the changes of one action, applied and remembered with their old values.

Every write an action makes goes through here, so its audit row can hold the exact
inverse (``review_actions.inverse``) that `undo.revert` applies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import sqlite_utils

from bearagent import gallery
from bearagent.gallery.schema import bump_generation
from bearagent.gallery.thumbnails import make_thumbnail

#: Thumbnail of a new reference: JPEG bytes, width, height.
Thumb = tuple[bytes, int, int]


@dataclass
class ChangeSet:
    """What one action changed; the lists hold old and new values (JSON-ready)."""

    action_id: int
    sightings: list[list[Any]] = field(default_factory=list)  # id, old ind, old outcome, new ...
    encounters: list[list[Any]] = field(default_factory=list)  # id, old st, ind, decision, new ..
    moved: list[list[Any]] = field(default_factory=list)  # reference id, old owner, new owner
    added: list[int] = field(default_factory=list)  # reference ids
    removed: list[int] = field(default_factory=list)  # reference ids, saved by the action
    created: list[str] = field(default_factory=list)  # individual ids
    deleted: list[dict[str, Any]] = field(default_factory=list)  # individual rows
    renamed: list[list[Any]] = field(default_factory=list)  # id, old name, new name
    notes: list[str] = field(default_factory=list)  # what the summary adds
    reload: bool = False  # an undo: the agent reloads its whole index
    references_changed: bool = False  # an undo that touched references

    def as_inverse(self) -> dict[str, Any]:
        """The record kept in the audit row."""
        record = asdict(self)
        for key in ("action_id", "notes", "reload", "references_changed"):
            record.pop(key)
        return record

    @property
    def changed_references(self) -> bool:
        """Whether references changed (the thresholds are then calibrated again)."""
        return bool(
            self.moved or self.added or self.removed or self.deleted or self.references_changed
        )

    def finish(self, db: sqlite_utils.Database) -> None:
        """Tell a running agent the gallery changed: only additions let it load just the
        new rows; anything else reloads its index."""
        if self.reload or self.moved or self.removed or self.deleted or self.renamed:
            bump_generation(db)
        elif self.added:
            bump_generation(db, append_only=True)

    # --- sightings and encounters -------------------------------------------------------

    def set_sightings(
        self,
        db: sqlite_utils.Database,
        ids: Sequence[int],
        individual_id: str | None,
        outcome: str | None = None,
    ) -> None:
        """Give chips an individual (and, unless None, an outcome)."""
        for sid in ids:
            old = db.execute(
                "SELECT individual_id, outcome FROM sightings WHERE id = ?", [sid]
            ).fetchone()
            if old is None:
                continue
            new_outcome = old[1] if outcome is None else outcome
            if (old[0], old[1]) == (individual_id, new_outcome):
                continue
            db.execute(
                "UPDATE sightings SET individual_id = ?, outcome = ? WHERE id = ?",
                [individual_id, new_outcome, sid],
            )
            self.sightings.append([sid, old[0], old[1], individual_id, new_outcome])

    def set_encounter(
        self,
        db: sqlite_utils.Database,
        encounter_id: str,
        status: str,
        individual_id: str | None,
        decision: dict[str, Any],
    ) -> None:
        """Give an encounter a person's decision."""
        old = db.execute(
            "SELECT status, individual_id, decision FROM encounters WHERE id = ?", [encounter_id]
        ).fetchone()
        if old is None:
            return
        db.execute(
            "UPDATE encounters SET status = ?, individual_id = ?, decision = ? WHERE id = ?",
            [status, individual_id, json.dumps(decision, ensure_ascii=False), encounter_id],
        )
        self.encounters.append([encounter_id, old[0], old[1], old[2], status, individual_id])

    # --- references ---------------------------------------------------------------------

    def add_references(
        self,
        db: sqlite_utils.Database,
        individual_id: str,
        embeddings: np.ndarray,
        model_sha256: str,
        sources: Sequence[str],
        thumbs: Sequence[Thumb | None],
        captured_at: Sequence[str | None],
    ) -> list[int]:
        """New references (with their thumbnails); returns their ids."""
        if len(sources) == 0:
            return []
        (before,) = db.execute("SELECT coalesce(max(id), 0) FROM reference_embeddings").fetchone()
        gallery.add_references(
            db, individual_id, embeddings, model_sha256, list(sources),
            captured_at=list(captured_at),
        )  # fmt: skip
        ids = [
            int(r[0])
            for r in db.execute(
                "SELECT id FROM reference_embeddings WHERE id > ? AND individual_id = ?"
                " ORDER BY id",
                [before, individual_id],
            ).fetchall()
        ]
        for ref_id, thumb in zip(ids, thumbs, strict=True):
            if thumb is not None:
                store_thumb(db, "reference", ref_id, thumb)
        self.added += ids
        return ids

    def move_references(self, db: sqlite_utils.Database, ids: Sequence[int], owner: str) -> None:
        """Give references another owner."""
        for ref_id in ids:
            old = db.execute(
                "SELECT individual_id FROM reference_embeddings WHERE id = ?", [ref_id]
            ).fetchone()
            if old is None or old[0] == owner:
                continue
            db.execute(
                "UPDATE reference_embeddings SET individual_id = ? WHERE id = ?", [owner, ref_id]
            )
            self.moved.append([ref_id, old[0], owner])

    def remove_references(self, db: sqlite_utils.Database, ids: Sequence[int]) -> None:
        """Delete references, keeping them (and their thumbnails) for an undo."""
        for ref_id in ids:
            saved = db.execute(
                "INSERT INTO review_saved_references (action_id, id, individual_id, embedding,"
                " dim, model_sha256, source, created, captured_at, encounter, thumbnail, width,"
                " height) SELECT ?, r.id, r.individual_id, r.embedding, r.dim, r.model_sha256,"
                " r.source, r.created, r.captured_at, r.encounter, t.jpeg, t.width, t.height"
                " FROM reference_embeddings r LEFT JOIN thumbnails t ON t.kind = 'reference'"
                " AND t.owner_id = r.id WHERE r.id = ?",
                [self.action_id, ref_id],
            ).rowcount
            if saved:
                db.execute("DELETE FROM reference_embeddings WHERE id = ?", [ref_id])
                db.execute(
                    "DELETE FROM thumbnails WHERE kind = 'reference' AND owner_id = ?", [ref_id]
                )
                self.removed.append(ref_id)

    # --- individuals --------------------------------------------------------------------

    def create_individual(
        self, db: sqlite_utils.Database, name: str, notes: str, agent_id: str
    ) -> str:
        """A new named individual (``bear-<agent_id>-NNNN``); returns its id."""
        new_id = gallery.create_known(db, name, notes, agent_id=agent_id)
        self.created.append(new_id)
        return new_id

    def delete_individual(self, db: sqlite_utils.Database, individual_id: str) -> None:
        """Delete an individual whose references have gone elsewhere (its row is kept)."""
        row = db.execute(
            "SELECT id, name, kind, created, notes FROM individuals WHERE id = ?", [individual_id]
        ).fetchone()
        if row is None:
            return
        self.deleted.append(dict(zip(("id", "name", "kind", "created", "notes"), row, strict=True)))
        db.execute("DELETE FROM individuals WHERE id = ?", [individual_id])

    def rename(self, db: sqlite_utils.Database, individual_id: str, name: str) -> None:
        """Give an individual a new name (checked by the gallery)."""
        old = gallery.get_individual(db, individual_id)
        renamed = gallery.rename(db, individual_id, name)
        self.renamed.append([individual_id, old.name, renamed.name])


def store_thumb(db: sqlite_utils.Database, kind: str, owner_id: int, thumb: Thumb) -> None:
    """Keep a ready-made thumbnail (inside the caller's transaction)."""
    db.execute(
        "INSERT OR REPLACE INTO thumbnails (kind, owner_id, jpeg, width, height)"
        " VALUES (?, ?, ?, ?, ?)",
        [kind, owner_id, thumb[0], thumb[1], thumb[2]],
    )


def thumb_of(image_bgr: np.ndarray) -> Thumb:
    """A thumbnail of a decoded image."""
    return make_thumbnail(image_bgr)
