"""Undo: put back exactly the old values an action replaced, after checking that nothing
it changed has been changed again since (by the agent, or by hand)."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from bearagent.review.actions import refusals
from bearagent.review.actions.changes import ChangeSet, store_thumb
from bearagent.review.errors import ActionRefused
from bearagent.review.queries.audit import inverse_of


def revert(db: sqlite_utils.Database, action_id: int, undo: ChangeSet) -> None:
    """Reverse action `action_id` inside the caller's transaction; `undo` records it."""
    inv = inverse_of(db, action_id)
    _check(db, inv)
    for row in inv["deleted"]:
        db.execute(
            "INSERT INTO individuals (id, name, kind, created, notes) VALUES (?, ?, ?, ?, ?)",
            [row["id"], row["name"], row["kind"], row["created"], row["notes"]],
        )
    for individual_id, old_name, _ in reversed(inv["renamed"]):
        db.execute("UPDATE individuals SET name = ? WHERE id = ?", [old_name, individual_id])
    for ref_id, old_owner, _ in reversed(inv["moved"]):
        db.execute(
            "UPDATE reference_embeddings SET individual_id = ? WHERE id = ?", [old_owner, ref_id]
        )
    _restore_references(db, action_id, inv["removed"])
    for sid, old_ind, old_outcome, _, _ in reversed(inv["sightings"]):
        db.execute(
            "UPDATE sightings SET individual_id = ?, outcome = ? WHERE id = ?",
            [old_ind, old_outcome, sid],
        )
    for eid, old_status, old_ind, old_decision, _, _ in reversed(inv["encounters"]):
        db.execute(
            "UPDATE encounters SET status = ?, individual_id = ?, decision = ? WHERE id = ?",
            [old_status, old_ind, old_decision, eid],
        )
    for ref_id in inv["added"]:
        db.execute("DELETE FROM thumbnails WHERE kind = 'reference' AND owner_id = ?", [ref_id])
        db.execute("DELETE FROM reference_embeddings WHERE id = ?", [ref_id])
    for individual_id in inv["created"]:
        db.execute("DELETE FROM individuals WHERE id = ?", [individual_id])
    undo.reload = True  # anything but a pure addition: the running agent reloads its index
    undo.references_changed = bool(inv["moved"] or inv["added"] or inv["removed"] or inv["deleted"])


def _check(db: sqlite_utils.Database, inv: dict[str, Any]) -> None:
    """Refuse when something the action changed is no longer as it left it."""
    for sid, _, _, new_ind, new_outcome in inv["sightings"]:
        row = db.execute("SELECT individual_id, outcome FROM sightings WHERE id = ?", [sid])
        now = row.fetchone()
        if now is not None and (now[0], now[1]) != (new_ind, new_outcome):
            raise ActionRefused(refusals.undo_conflict(f"chip {sid}"))
    for eid, _, _, _, new_status, new_ind in inv["encounters"]:
        now = db.execute(
            "SELECT status, individual_id FROM encounters WHERE id = ?", [eid]
        ).fetchone()
        if now is not None and (now[0], now[1]) != (new_status, new_ind):
            raise ActionRefused(refusals.undo_conflict(f"encounter {eid}"))
    for ref_id, _, new_owner in inv["moved"]:
        now = db.execute(
            "SELECT individual_id FROM reference_embeddings WHERE id = ?", [ref_id]
        ).fetchone()
        if now is None or now[0] != new_owner:
            raise ActionRefused(refusals.undo_conflict(f"reference {ref_id}"))
    for individual_id, _, new_name in inv["renamed"]:
        now = db.execute("SELECT name FROM individuals WHERE id = ?", [individual_id]).fetchone()
        if now is None or now[0] != new_name:
            raise ActionRefused(refusals.undo_conflict(f"the name of {individual_id}"))
    for row in inv["deleted"]:
        if db.execute("SELECT 1 FROM individuals WHERE id = ?", [row["id"]]).fetchone():
            raise ActionRefused(refusals.undo_conflict(f"individual {row['id']}"))
        if (
            row["name"] is not None
            and db.execute(
                "SELECT 1 FROM individuals WHERE name = ? COLLATE NOCASE", [row["name"]]
            ).fetchone()
        ):
            raise ActionRefused(refusals.undo_conflict(f"the name {row['name']!r}"))
    _check_created(db, inv)


def _check_created(db: sqlite_utils.Database, inv: dict[str, Any]) -> None:
    """Individuals the action made hold nothing but what it gave them."""
    given_chips = {int(s[0]) for s in inv["sightings"]}
    given_encounters = {str(e[0]) for e in inv["encounters"]}
    given_refs = {int(r) for r in inv["added"]} | {int(m[0]) for m in inv["moved"]}
    for individual_id in inv["created"]:
        chips = {
            int(r[0])
            for r in db.execute(
                "SELECT id FROM sightings WHERE individual_id = ?", [individual_id]
            ).fetchall()
        }
        encounters = {
            str(r[0])
            for r in db.execute(
                "SELECT id FROM encounters WHERE individual_id = ?", [individual_id]
            ).fetchall()
        }
        refs = {
            int(r[0])
            for r in db.execute(
                "SELECT id FROM reference_embeddings WHERE individual_id = ?", [individual_id]
            ).fetchall()
        }
        extra = len(chips - given_chips) + len(encounters - given_encounters)
        if extra or refs - given_refs:
            raise ActionRefused(refusals.seen_since(individual_id, extra or len(refs - given_refs)))


def _restore_references(db: sqlite_utils.Database, action_id: int, ids: list[int]) -> None:
    """References the action deleted, back with their thumbnails (and their ids, unless
    a newer reference took one meanwhile)."""
    wanted = set(ids)
    rows = db.execute(
        "SELECT id, individual_id, embedding, dim, model_sha256, source, created, captured_at,"
        " encounter, thumbnail, width, height FROM review_saved_references WHERE action_id = ?"
        " ORDER BY id",
        [action_id],
    ).fetchall()
    for row in (r for r in rows if int(r[0]) in wanted):
        taken = db.execute("SELECT 1 FROM reference_embeddings WHERE id = ?", [row[0]]).fetchone()
        cursor = db.execute(
            "INSERT INTO reference_embeddings (id, individual_id, embedding, dim, model_sha256,"
            " source, created, captured_at, encounter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [None if taken else row[0], *row[1:9]],
        )
        if row[9] is not None:
            store_thumb(
                db, "reference", int(cursor.lastrowid or row[0]), (row[9], row[10], row[11])
            )
    db.execute("DELETE FROM review_saved_references WHERE action_id = ?", [action_id])
