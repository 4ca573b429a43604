"""Small JPEG thumbnails of references and sightings, kept in the database.

The review page and `gallery export` show them, so they never depend on chip
files that may since have been moved or deleted. A thumbnail is at most
`MAX_SIDE` pixels on its longer side (aspect kept), about 3-6 KB: a year of a busy
camera's chips in a few hundred MB.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import sqlite_utils

from bearagent.store import Migration, migrate

COMPONENT = "thumbnails"
#: Longest side of a thumbnail, in pixels.
MAX_SIDE = 160
#: JPEG quality of thumbnails.
QUALITY = 80

Kind = Literal["reference", "sighting"]


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE thumbnails ("
        " kind TEXT NOT NULL CHECK (kind IN ('reference', 'sighting')),"
        " owner_id INTEGER NOT NULL,"
        " jpeg BLOB NOT NULL,"
        " width INTEGER NOT NULL,"
        " height INTEGER NOT NULL,"
        " PRIMARY KEY (kind, owner_id)) WITHOUT ROWID"
    )


#: Migrations of the thumbnails table, oldest first; append, never edit.
STEPS: list[Migration] = [_v1]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the thumbnails table."""
    migrate(db, COMPONENT, STEPS)


def make_thumbnail(image_bgr: np.ndarray, max_side: int = MAX_SIDE) -> tuple[bytes, int, int]:
    """(JPEG bytes, width, height) of `image_bgr` shrunk to at most `max_side` pixels."""
    h, w = image_bgr.shape[:2]
    scale = min(1.0, max_side / max(h, w, 1))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image_bgr = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise ValueError("could not encode a thumbnail")
    return data.tobytes(), int(image_bgr.shape[1]), int(image_bgr.shape[0])


def store_thumbnail(
    db: sqlite_utils.Database, kind: Kind, owner_id: int, image_bgr: np.ndarray
) -> None:
    """Keep the thumbnail of a reference or sighting row (inside the caller's transaction)."""
    jpeg, width, height = make_thumbnail(image_bgr)
    db.execute(
        "INSERT OR REPLACE INTO thumbnails (kind, owner_id, jpeg, width, height)"
        " VALUES (?, ?, ?, ?, ?)",
        [kind, owner_id, jpeg, width, height],
    )


def thumbnail(db: sqlite_utils.Database, kind: Kind, owner_id: int) -> bytes | None:
    """The JPEG thumbnail of a reference or sighting row, if one was kept."""
    row = db.execute(
        "SELECT jpeg FROM thumbnails WHERE kind = ? AND owner_id = ?", [kind, owner_id]
    ).fetchone()
    return None if row is None else bytes(row[0])
