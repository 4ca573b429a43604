"""Where the pictures come from: thumbnails in the database first, files second."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from bearagent.gallery.thumbnails import thumbnail


@dataclass(frozen=True)
class ImageSource:
    """A stored thumbnail, or the file to read (relative to a watch root, or absolute)."""

    jpeg: bytes | None
    relative: str | None = None  # a chip below one of the watch roots
    absolute: str | None = None  # a reference's source image


def sighting_image(db: sqlite_utils.Database, sighting_id: int) -> ImageSource | None:
    """The chip of a sighting: its thumbnail, else its file below a watch root."""
    jpeg = thumbnail(db, "sighting", sighting_id)
    if jpeg is not None:
        return ImageSource(jpeg)
    row = db.execute("SELECT file FROM sightings WHERE id = ?", [sighting_id]).fetchone()
    return None if row is None else ImageSource(None, relative=str(row[0]))


def sighting_file(db: sqlite_utils.Database, sighting_id: int) -> str | None:
    """A sighting's file, relative to its watch root."""
    row = db.execute("SELECT file FROM sightings WHERE id = ?", [sighting_id]).fetchone()
    return None if row is None else str(row[0])


def reference_image(db: sqlite_utils.Database, reference_id: int) -> ImageSource | None:
    """A reference's picture: its thumbnail; else the thumbnail of the sighting it was made
    from (the agent's provisional references name their chip); else its source file."""
    jpeg = thumbnail(db, "reference", reference_id)
    if jpeg is not None:
        return ImageSource(jpeg)
    row = db.execute(
        "SELECT source FROM reference_embeddings WHERE id = ?", [reference_id]
    ).fetchone()
    if row is None:
        return None
    source = str(row[0])
    chip = db.execute(
        "SELECT t.jpeg FROM sightings s JOIN thumbnails t ON t.kind = 'sighting'"
        " AND t.owner_id = s.id WHERE s.file = ? ORDER BY s.id DESC LIMIT 1",
        [source],
    ).fetchone()
    if chip is not None:
        return ImageSource(bytes(chip[0]))
    if source.startswith("/"):
        return ImageSource(None, absolute=source)
    return ImageSource(None, relative=source)
