"""Reference embeddings: adding them, provisional individuals, and the model they came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from bearagent.gallery.codec import stack_blobs, to_blob
from bearagent.gallery.errors import EmbeddingSizeMismatch, GalleryModelMismatch
from bearagent.gallery.individuals import get_individual, provisional_prefix
from bearagent.gallery.schema import bump_generation, db_path, gallery_state
from bearagent.gallery.writes import next_id, now_iso, reading, writing


def gallery_models(db: sqlite_utils.Database) -> list[str]:
    """The sha256 of every model the gallery's references were made with (usually one)."""
    rows = db.execute("SELECT DISTINCT model_sha256 FROM reference_embeddings ORDER BY 1")
    return [str(r[0]) for r in rows.fetchall()]


def check_gallery_model(db: sqlite_utils.Database, model_sha256: str, model_name: str = "") -> None:
    """Refuse to use the gallery with a model its references were not made with."""
    # Two index range scans (not `!=`, which reads every row of the current model).
    row = (
        db.execute(
            "SELECT model_sha256 FROM reference_embeddings WHERE model_sha256 < ?1 LIMIT 1",
            [model_sha256],
        ).fetchone()
        or db.execute(
            "SELECT model_sha256 FROM reference_embeddings WHERE model_sha256 > ?1 LIMIT 1",
            [model_sha256],
        ).fetchone()
    )
    if row is not None:
        others = [str(row[0])]
        which = f", {model_name}," if model_name else ""
        raise GalleryModelMismatch(
            f"gallery {db_path(db)} holds embeddings made with another model (sha256 "
            f"{others[0][:12]}...) than the model in use{which} (sha256 {model_sha256[:12]}...): "
            "run `bearagent gallery reembed --model MODEL` with the model in use to re-embed "
            "its references"
        )


def _check_embeddings(db: sqlite_utils.Database, embeddings: np.ndarray) -> np.ndarray:
    matrix = np.asarray(embeddings, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise EmbeddingSizeMismatch(
            f"expected embeddings of shape (N, E) with N, E > 0, got {matrix.shape}"
        )
    row = db.execute("SELECT dim FROM reference_embeddings LIMIT 1").fetchone()
    if row is not None and int(row[0]) != matrix.shape[1]:
        raise EmbeddingSizeMismatch(
            f"gallery {db_path(db)} holds embeddings of size {row[0]}, these have size "
            f"{matrix.shape[1]}: run `bearagent gallery reembed --model MODEL` first"
        )
    return matrix


def add_references(
    db: sqlite_utils.Database,
    individual_id: str,
    embeddings: np.ndarray,
    model_sha256: str,
    source: str | Sequence[str],
    *,
    captured_at: Sequence[str | None] | None = None,
    encounters: Sequence[str | None] | None = None,
) -> int:
    """Store (N, E) embeddings as references of `individual_id`; returns N.

    `source` is the image each came from (one path for all, or one per row);
    `captured_at` (ISO 8601) and `encounters` (a key shared by the references of
    one burst) per row, when known. Joins the caller's transaction if one is
    open, otherwise commits its own.
    """
    sources = [source] * len(embeddings) if isinstance(source, str) else list(source)
    times = list(captured_at) if captured_at is not None else [None] * len(sources)
    groups = list(encounters) if encounters is not None else [None] * len(sources)
    if not len(sources) == len(times) == len(groups) == len(embeddings):
        raise ValueError(f"{len(embeddings)} embeddings but {len(sources)} sources")
    with writing(db):
        get_individual(db, individual_id)  # a clear error for an unknown id
        check_gallery_model(db, model_sha256)
        matrix = _check_embeddings(db, embeddings)
        created = now_iso()
        db.conn.executemany(
            "INSERT INTO reference_embeddings (individual_id, embedding, dim, model_sha256,"
            " source, created, captured_at, encounter) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (individual_id, to_blob(v), matrix.shape[1], model_sha256, s, created, t, g)
                for v, s, t, g in zip(matrix, sources, times, groups, strict=True)
            ],
        )
        bump_generation(db, append_only=True)
    return len(sources)


def create_provisional(
    db: sqlite_utils.Database,
    embeddings: np.ndarray,
    model_sha256: str,
    source: str | Sequence[str],
    notes: str = "",
    *,
    agent_id: str | None = None,
) -> str:
    """Allocate the next ``unknown-<agent_id>-NNNN`` and store its references; returns the id.

    Joins the caller's transaction if one is open (so the new id, its references,
    the sighting and the outbox row commit together), otherwise commits its own.
    Without `agent_id` the id is the older, box-local ``unknown-NNNN``.
    """
    with writing(db):
        new_id = next_id(db, provisional_prefix(agent_id))
        db.execute(
            "INSERT INTO individuals (id, name, kind, created, notes) "
            "VALUES (?, NULL, 'provisional', ?, ?)",
            [new_id, now_iso(), notes],
        )
        add_references(db, new_id, embeddings, model_sha256, source)
    return new_id


@dataclass(frozen=True)
class ReferenceSet:
    """References of the gallery (all, or those added after a row id), grouped by owner.

    Rows of `matrix` are sorted by owner, so `starts[j]` is the first row of
    individual `ids[j]`; every individual in `ids` has at least one row. `last_id`
    is the highest reference row id included; `generation` and `layout` are the
    gallery state the rows belong to (see `bearagent.gallery.schema`).
    """

    matrix: np.ndarray
    starts: np.ndarray
    ids: list[str]
    names: list[str | None]
    kinds: list[str]
    last_id: int
    generation: int
    layout: int


#: Rows fetched at a time while loading, so memory holds the matrix and little more.
_FETCH = 8192


def load_references(db: sqlite_utils.Database, after_id: int = 0) -> ReferenceSet:
    """Read the references with row id above `after_id` (all by default), in one snapshot."""
    with reading(db):  # one snapshot: the state matches the rows read
        gen, layout = gallery_state(db)
        count, low, dim, last_id = db.execute(
            "SELECT count(*), min(dim), max(dim), max(id) FROM reference_embeddings WHERE id > ?",
            [after_id],
        ).fetchone()
        if low != dim:
            raise EmbeddingSizeMismatch(
                f"gallery {db_path(db)} holds embeddings of sizes {low} and {dim}: run "
                "`bearagent gallery reembed --model MODEL` to make them all with one model"
            )
        matrix = np.empty((count, dim or 0), dtype=np.float32)
        starts: list[int] = []
        ids: list[str] = []
        names: list[str | None] = []
        kinds: list[str] = []
        # For a few new rows, `+` makes SQLite take the id range and sort those rows
        # instead of walking the whole owner index in order.
        order = "+r.individual_id, r.id" if after_id else "r.individual_id, r.id"
        cursor = db.execute(
            "SELECT r.individual_id, i.name, i.kind, r.embedding "
            "FROM reference_embeddings r JOIN individuals i ON i.id = r.individual_id "
            f"WHERE r.id > ? ORDER BY {order}",
            [after_id],
        )
        row = 0
        while chunk := cursor.fetchmany(_FETCH):
            matrix[row : row + len(chunk)] = stack_blobs([r[3] for r in chunk], dim)
            for owner, name, kind, _ in chunk:
                if not ids or ids[-1] != owner:
                    starts.append(row)
                    ids.append(str(owner))
                    names.append(None if name is None else str(name))
                    kinds.append(str(kind))
                row += 1
    return ReferenceSet(
        matrix=matrix[:row],  # fewer only if a reference lost its individual (no JOIN row)
        starts=np.asarray(starts, dtype=np.int64),
        ids=ids,
        names=names,
        kinds=kinds,
        last_id=int(last_id) if last_id is not None else after_id,
        generation=gen,
        layout=layout,
    )
