"""The changes each action makes, inside its transaction (through a `ChangeSet`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from bearagent.gallery.codec import stack_blobs
from bearagent.gallery.individuals import Individual
from bearagent.gallery.references import gallery_models
from bearagent.review.actions.changes import ChangeSet
from bearagent.review.actions.embedding import EmbeddedChips
from bearagent.review.actions.picking import pick_unlike
from bearagent.review.queries.types import ChipView, EncounterView


def chip_sources(chips: Iterable[ChipView], roots: Sequence[Path]) -> set[str]:
    """Every ``source`` a reference made from these chips may carry: the agent names the
    file relative to its watch root, the review page the file's absolute path."""
    out: set[str] = set()
    for chip in chips:
        out.add(chip.file)
        for root in roots:
            out.add(str(root / chip.file))
            out.add(str(root.resolve() / chip.file))
    return out


def references_from(db: sqlite_utils.Database, sources: set[str]) -> list[tuple[int, str]]:
    """(reference id, owner) of the references made from any of `sources`."""
    if not sources:
        return []
    wanted = sorted(sources)
    out: list[tuple[int, str]] = []
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        rows = db.execute(
            "SELECT id, individual_id FROM reference_embeddings"
            f" WHERE source IN ({', '.join('?' * len(part))}) ORDER BY id",
            part,
        ).fetchall()
        out += [(int(r[0]), str(r[1])) for r in rows]
    return out


def decision_of(db: sqlite_utils.Database, encounter_id: str) -> dict[str, Any]:
    """An encounter's stored decision (with its candidates)."""
    row = db.execute("SELECT decision FROM encounters WHERE id = ?", [encounter_id]).fetchone()
    value: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    return value


def embeddings_of(db: sqlite_utils.Database, individual_id: str) -> tuple[list[int], np.ndarray]:
    """Reference ids and (N, E) embeddings of one individual."""
    rows = db.execute(
        "SELECT id, embedding, dim FROM reference_embeddings WHERE individual_id = ? ORDER BY id",
        [individual_id],
    ).fetchall()
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    return [int(r[0]) for r in rows], stack_blobs([r[1] for r in rows], int(rows[0][2]))


def reviewed_decision(
    old: EncounterView | dict[str, Any],
    status: str,
    target: Individual | None,
    action_id: int,
    by: str,
    at: str,
) -> dict[str, Any]:
    """The encounter's stored decision after a person's: who it is, and that a person said so."""
    decision = dict(old.decision if isinstance(old, EncounterView) else old)
    decision.update(
        status=status,
        individual_id=None if target is None else target.id,
        name=None if target is None else target.name,
        provisional=target is not None and target.kind == "provisional",
        reviewed={"action_id": action_id, "by": by, "at": at},
    )
    return decision


def add_chip_references(
    db: sqlite_utils.Database,
    changes: ChangeSet,
    target: Individual,
    embedded: EmbeddedChips,
    cap: int,
) -> int:
    """Add the chips least like `target`'s references as references, up to `cap` in all;
    returns how many were added (a note says why when none could be)."""
    if not embedded.embeddings:
        return 0
    models = gallery_models(db)
    if models and models != [embedded.model_sha256]:
        changes.notes.append(
            "no chip became a reference: the review page's model differs from the gallery's "
            "(check runtime.model)"
        )
        return 0
    ref_ids, existing = embeddings_of(db, target.id)
    have = {
        str(r[0])
        for r in db.execute(
            "SELECT source FROM reference_embeddings WHERE individual_id = ?", [target.id]
        ).fetchall()
    }
    keep = [i for i, s in enumerate(embedded.sources) if s not in have]
    matrix = embedded.matrix()[keep]
    if existing.shape[0] and existing.shape[1] != matrix.shape[1]:
        changes.notes.append("no chip became a reference: the embedding sizes differ")
        return 0
    room = cap - len(ref_ids)
    if room <= 0:
        changes.notes.append(f"{target.label} has its {cap} references already: none added")
        return 0
    picked = [keep[i] for i in pick_unlike(existing, matrix, room)]
    changes.add_references(
        db,
        target.id,
        embedded.matrix()[picked],
        embedded.model_sha256,
        [embedded.sources[i] for i in picked],
        [embedded.thumbs[i] for i in picked],
        [embedded.chips[i].captured_at for i in picked],
    )
    return len(picked)


def trim_to_cap(
    db: sqlite_utils.Database,
    changes: ChangeSet,
    individual_id: str,
    newcomers: list[int],
    cap: int,
) -> int:
    """Remove newcomers (moved in by a merge) until the individual has at most `cap`
    references, keeping those least like the rest; returns how many went."""
    ids, matrix = embeddings_of(db, individual_id)
    surplus = len(ids) - cap
    if surplus <= 0:
        return 0
    new = set(newcomers)
    old_rows = [i for i, r in enumerate(ids) if r not in new]
    new_rows = [i for i, r in enumerate(ids) if r in new]
    room = max(0, len(new_rows) - surplus)
    kept = {new_rows[i] for i in pick_unlike(matrix[old_rows], matrix[new_rows], room)}
    gone = [ids[i] for i in new_rows if i not in kept]
    changes.remove_references(db, gone)
    return len(gone)
