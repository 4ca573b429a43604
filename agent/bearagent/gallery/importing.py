"""Import a gallery export file (`bearagent.gallery.portable`) into a gallery, merging."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlite_utils

from bearagent.gallery.errors import GalleryModelMismatch
from bearagent.gallery.individuals import PROVISIONAL_PREFIX, find_by_name, named_prefix
from bearagent.gallery.portable import (
    PortableIndividual,
    decode_embedding,
    decode_thumbnail,
    read_portable,
)
from bearagent.gallery.reference_thumbnails import last_reference_id, store_new_thumbnails
from bearagent.gallery.references import add_references, gallery_models
from bearagent.gallery.schema import db_path
from bearagent.gallery.thumbnails import ensure_schema as ensure_thumbnails
from bearagent.gallery.writes import next_id, reserve_id, writing


@dataclass
class ImportReport:
    """Ids in the file -> ids in the gallery, and how many references were added."""

    created: dict[str, str] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    references_added: int = 0
    references_skipped: int = 0


def import_gallery(
    db: sqlite_utils.Database, path: Path, *, agent_id: str | None = None
) -> ImportReport:
    """Merge the export file at `path` into the gallery, in one transaction.

    A named individual whose name exists gets the file's references added (ones
    with a source it already has are skipped); others are created, keeping their
    id when it is free. A provisional one merges into the provisional individual with
    its id when that holds one of its images (the same file imported again); else it
    keeps its id when free, or gets a new one (a named one ``bear-<agent_id>-NNNN``).
    """
    portable = read_portable(path)
    report = ImportReport()
    ensure_thumbnails(db)
    with writing(db):
        theirs = portable.model_sha256
        ours = gallery_models(db)
        if theirs is not None and ours and ours != [theirs]:
            raise GalleryModelMismatch(
                f"{path} holds embeddings made with model {theirs[:12]}..., gallery "
                f"{db_path(db)} with {ours[0][:12]}...: import it into a gallery of the same "
                "model, or re-embed one of them with `bearagent gallery reembed` first"
            )
        for ind in portable.individuals:
            target, created = _target(db, ind, agent_id)
            (report.created if created else report.merged)[ind.id] = target
            added, skipped = _add(db, target, ind, portable.embedding_size, theirs, str(path))
            report.references_added += added
            report.references_skipped += skipped
    return report


def _target(
    db: sqlite_utils.Database, ind: PortableIndividual, agent_id: str | None
) -> tuple[str, bool]:
    """The gallery id for `ind`, creating the individual when needed; (id, created)."""
    if ind.kind == "known" and ind.name is not None:
        existing = find_by_name(db, ind.name)
        if existing is not None:
            return existing, False
    elif _same_provisional(db, ind):
        return ind.id, False
    taken = db.execute("SELECT 1 FROM individuals WHERE id = ?", [ind.id]).fetchone()
    if taken is None:
        new_id = ind.id
        reserve_id(db, new_id)
    else:
        prefix = ind.id.rpartition("-")[0] if ind.kind == "provisional" else named_prefix(agent_id)
        new_id = next_id(db, prefix or PROVISIONAL_PREFIX)
    name = ind.name if ind.name is None or find_by_name(db, ind.name) is None else None
    db.execute(
        "INSERT INTO individuals (id, name, kind, created, notes) VALUES (?, ?, ?, ?, ?)",
        [new_id, name, ind.kind, ind.created, ind.notes],
    )
    return new_id, True


def _same_provisional(db: sqlite_utils.Database, ind: PortableIndividual) -> bool:
    """A provisional individual with this id and one of its reference images is already here.

    That is the same bear imported again; two boxes' unrelated ``unknown-0002`` share
    no image, so they stay apart.
    """
    sources = [r.source for r in ind.references][:500]  # within SQLite's variable limit
    if not sources:
        return False
    marks = ", ".join("?" * len(sources))
    row = db.execute(
        "SELECT 1 FROM reference_embeddings r JOIN individuals i ON i.id = r.individual_id"
        f" WHERE i.id = ? AND i.kind = 'provisional' AND r.source IN ({marks}) LIMIT 1",
        [ind.id, *sources],
    ).fetchone()
    return row is not None


def _add(
    db: sqlite_utils.Database,
    target: str,
    ind: PortableIndividual,
    size: int | None,
    model_sha256: str | None,
    source: str,
) -> tuple[int, int]:
    have = {
        str(r[0])
        for r in db.execute(
            "SELECT source FROM reference_embeddings WHERE individual_id = ?", [target]
        ).fetchall()
    }
    new = [r for r in ind.references if r.source not in have]
    if not new or size is None or model_sha256 is None:
        return 0, len(ind.references) - len(new)
    matrix = np.stack([decode_embedding(r, size, source) for r in new])
    first = last_reference_id(db)
    add_references(db, target, matrix, model_sha256, [r.source for r in new])
    store_new_thumbnails(db, target, first, [decode_thumbnail(r) for r in new])
    return len(new), len(ind.references) - len(new)
