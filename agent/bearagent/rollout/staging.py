"""Reference embeddings made with an offered model, kept aside until the switch.

The running model goes on using ``reference_embeddings``; `stage` keeps the offered
model's vectors in ``rollout_staged``, a few at a time in short transactions (the chip
worker keeps writing meanwhile). `flip`, inside the switch's transaction, moves them into
the gallery at once and marks the gallery's layout changed, so every matcher reloads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sqlite_utils

from bearagent.gallery.codec import to_blob
from bearagent.gallery.schema import bump_generation


def unstaged(db: sqlite_utils.Database, sha256: str, limit: int = -1) -> list[tuple[int, str]]:
    """(id, source) of references not made with model `sha256` and not staged for it."""
    rows = db.execute(
        "SELECT r.id, r.source FROM reference_embeddings r WHERE r.model_sha256 != ?1"
        " AND NOT EXISTS (SELECT 1 FROM rollout_staged s WHERE s.reference_id = r.id"
        " AND s.model_sha256 = ?1) ORDER BY r.id LIMIT ?2",
        [sha256, limit],
    ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def count_references(db: sqlite_utils.Database) -> int:
    """References in the gallery."""
    return int(db.execute("SELECT count(*) FROM reference_embeddings").fetchone()[0])


def stage(db: sqlite_utils.Database, sha256: str, ids: Sequence[int], vectors: np.ndarray) -> None:
    """Keep `vectors` (one row per id) as the references' embeddings under model `sha256`.
    Does not commit."""
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} reference ids but {len(vectors)} embeddings")
    db.conn.executemany(
        "INSERT OR REPLACE INTO rollout_staged (reference_id, model_sha256, embedding, dim)"
        " VALUES (?, ?, ?, ?)",
        [(int(i), sha256, to_blob(v), int(v.shape[0])) for i, v in zip(ids, vectors, strict=True)],
    )


def flip(db: sqlite_utils.Database, sha256: str) -> int:
    """Move the vectors staged for `sha256` into the gallery; returns how many.

    Call inside the switch's transaction, after `unstaged` came back empty.
    """
    moved = db.execute(
        "UPDATE reference_embeddings SET embedding = s.embedding, dim = s.dim,"
        " model_sha256 = s.model_sha256 FROM rollout_staged s"
        " WHERE s.reference_id = reference_embeddings.id AND s.model_sha256 = ?",
        [sha256],
    ).rowcount
    db.execute("DELETE FROM rollout_staged")
    bump_generation(db)
    return int(moved)


def discard(db: sqlite_utils.Database, keep: str | None = None) -> None:
    """Drop staged vectors of every model but `keep`. Does not commit."""
    db.execute("DELETE FROM rollout_staged WHERE model_sha256 IS NOT ?", [keep])
