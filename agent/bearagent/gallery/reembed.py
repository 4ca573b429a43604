"""Re-embed every reference with a new model, from the images they were made from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from bearagent.gallery.codec import to_blob
from bearagent.gallery.embedfiles import embed_files
from bearagent.gallery.errors import MissingReferenceImages
from bearagent.gallery.reference_thumbnails import store as store_thumbnail
from bearagent.gallery.schema import bump_generation
from bearagent.gallery.thumbnails import ensure_schema as ensure_thumbnails
from bearagent.gallery.writes import writing
from bearagent.runtime.base import Embedder

#: How many missing images a message lists by name.
_SHOWN = 5


@dataclass
class ReembedReport:
    """References re-embedded, already up to date, and dropped (with the reason)."""

    reembedded: int = 0
    up_to_date: int = 0
    dropped: dict[str, str] = field(default_factory=dict)


def reembed(
    db: sqlite_utils.Database, embedder: Embedder, *, drop_missing: bool = False
) -> ReembedReport:
    """Re-embed references not made with `embedder`'s model, from their source images.

    When a source image is gone or unreadable nothing is changed and
    `MissingReferenceImages` names them, unless `drop_missing`, which deletes
    those references instead. All updates commit in one transaction.
    """
    sha = embedder.card.model.sha256 or ""
    rows = db.execute(
        "SELECT id, source, model_sha256 FROM reference_embeddings ORDER BY id"
    ).fetchall()
    stale = [(int(r[0]), str(r[1])) for r in rows if r[2] != sha]
    report = ReembedReport(up_to_date=len(rows) - len(stale))
    sources = sorted({Path(s) for _, s in stale})
    embedded = embed_files(sources, embedder, thumbnails=True)
    if embedded.rejected and not drop_missing:
        shown = "; ".join(list(embedded.rejected.values())[:_SHOWN])
        more = len(embedded.rejected) - _SHOWN
        raise MissingReferenceImages(
            f"{len(embedded.rejected)} reference image(s) cannot be read: {shown}"
            + (f" (and {more} more)" if more > 0 else "")
            + ". Restore them, or run again with --drop-missing to remove those references"
        )
    by_source = dict(zip(embedded.paths, embedded.embeddings, strict=True))
    thumbs = dict(zip(embedded.paths, embedded.thumbs, strict=True))
    ensure_thumbnails(db)
    with writing(db):
        for ref_id, source in stale:
            vector = by_source.get(Path(source))
            if vector is None:
                db.execute("DELETE FROM reference_embeddings WHERE id = ?", [ref_id])
                report.dropped[source] = embedded.rejected[Path(source)]
                continue
            db.execute(
                "UPDATE reference_embeddings SET embedding = ?, dim = ?, model_sha256 = ?"
                " WHERE id = ?",
                [to_blob(vector), int(vector.shape[0]), sha, ref_id],
            )
            store_thumbnail(db, ref_id, thumbs[Path(source)])
            report.reembedded += 1
        bump_generation(db)
    return report
