"""Thumbnails of references: made at enrolment, import and re-embedding, and afterwards for
galleries enrolled before thumbnails existed (`bearagent gallery thumbnails`).

A reference's thumbnail comes from its source image; when that file is gone, from
the thumbnail of the sighting whose chip it was made from (the agent's provisional
references name their chip, relative to the watch root).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from bearagent.chips import ChipRejected, decode_chip
from bearagent.gallery.thumbnails import ensure_schema, make_thumbnail
from bearagent.gallery.writes import writing

#: Thumbnail as stored: JPEG bytes, width, height.
Thumb = tuple[bytes, int, int]


def last_reference_id(db: sqlite_utils.Database) -> int:
    """The highest reference row id so far (0 for an empty gallery)."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM reference_embeddings").fetchone()[0])


def store_new_thumbnails(
    db: sqlite_utils.Database, individual_id: str, after_id: int, thumbs: Sequence[Thumb | None]
) -> int:
    """Give the references of `individual_id` added after row `after_id` (in insertion
    order) their thumbnails; returns how many were stored. Inside the caller's
    transaction."""
    ids = [
        int(r[0])
        for r in db.execute(
            "SELECT id FROM reference_embeddings WHERE id > ? AND individual_id = ? ORDER BY id",
            [after_id, individual_id],
        ).fetchall()
    ]
    stored = 0
    for ref_id, thumb in zip(ids, thumbs, strict=False):
        if thumb is not None:
            store(db, ref_id, thumb)
            stored += 1
    return stored


def store(db: sqlite_utils.Database, reference_id: int, thumb: Thumb) -> None:
    """Keep one reference's thumbnail."""
    db.execute(
        "INSERT OR REPLACE INTO thumbnails (kind, owner_id, jpeg, width, height)"
        " VALUES ('reference', ?, ?, ?, ?)",
        [reference_id, thumb[0], thumb[1], thumb[2]],
    )


def thumb_of_file(path: Path) -> Thumb | None:
    """A thumbnail of the image at `path`, or None when it cannot be read."""
    try:
        return make_thumbnail(decode_chip(path.read_bytes(), source=str(path)))
    except (OSError, ChipRejected):
        return None


@dataclass
class BackfillReport:
    """What `backfill` did."""

    from_files: int = 0
    from_sightings: int = 0
    missing: int = 0
    already: int = 0


def backfill(db: sqlite_utils.Database, roots: Sequence[Path] = ()) -> BackfillReport:
    """Make the thumbnail of every reference that has none: from its source image (an
    absolute path, or a path relative to one of `roots`), else from its chip's sighting."""
    ensure_schema(db)
    report = BackfillReport()
    report.already = int(
        db.execute("SELECT count(*) FROM thumbnails WHERE kind = 'reference'").fetchone()[0]
    )
    rows = db.execute(
        "SELECT r.id, r.source FROM reference_embeddings r WHERE NOT EXISTS (SELECT 1 FROM"
        " thumbnails t WHERE t.kind = 'reference' AND t.owner_id = r.id) ORDER BY r.id"
    ).fetchall()
    for ref_id, source in rows:
        thumb, from_file = _thumb_for(db, str(source), roots)
        if thumb is None:
            report.missing += 1
            continue
        with writing(db):  # one row at a time: the agent never waits long
            store(db, int(ref_id), thumb)
        if from_file:
            report.from_files += 1
        else:
            report.from_sightings += 1
    return report


def _thumb_for(
    db: sqlite_utils.Database, source: str, roots: Sequence[Path]
) -> tuple[Thumb | None, bool]:
    path = Path(source)
    candidates = [path] if path.is_absolute() else [root / path for root in roots]
    for candidate in candidates:
        thumb = thumb_of_file(candidate)
        if thumb is not None:
            return thumb, True
    row = db.execute(
        "SELECT t.jpeg, t.width, t.height FROM sightings s JOIN thumbnails t"
        " ON t.kind = 'sighting' AND t.owner_id = s.id WHERE s.file = ? ORDER BY s.id DESC"
        " LIMIT 1",
        [source],
    ).fetchone()
    if row is None:
        return None, False
    return (bytes(row[0]), int(row[1]), int(row[2])), False
