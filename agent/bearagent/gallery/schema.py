"""The gallery's tables, their migrations, and the change counter the matcher watches.

Tables (component ``gallery`` in ``schema_versions``):

- ``individuals``: ``id`` (``bear-0001`` for named ones, ``unknown-0001`` for
  provisional ones the agent found), ``name`` (unique, case-insensitive; NULL for
  provisional), ``kind`` (``known`` | ``provisional``), ``created``, ``notes``;
- ``reference_embeddings``: float32 little-endian BLOBs with their ``dim``, the
  ``model_sha256`` they were made with, the ``source`` image path and ``created``;
  v2: the image's ``captured_at`` and the ``encounter`` it belongs to (so
  calibration can leave a whole encounter out);
- ``sightings``: one row per chip: file, camera, site, captured_at, processed_at,
  individual_id, similarity, encounter_id, model_sha256; v2: ``time_source``
  (sidecar, exif, filename, mtime), ``detection`` (the sidecar's, JSON) and the
  chip's own ``outcome`` (known, review, unknown);
- ``gallery_counters``: the next number per id prefix, so ids are never reused;
- ``calibrations`` (v2): decision thresholds calibrated on this gallery
  (`bearagent.gallery.calibration`), newest last, with the gallery key they
  were computed on (stale once the named individuals' references change);
- ``gallery_state``: ``generation``, a new random value on every change to
  individuals or references, so a matcher in another process knows when to
  reload; ``layout``, a new random value on every change that is more than adding
  individuals and references (rename, remove, promote, re-embed), after which a
  matcher must reload everything instead of only the new rows.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from bearagent.store import Migration, migrate, open_database

COMPONENT = "gallery"


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE individuals ("
        " id TEXT PRIMARY KEY,"
        " name TEXT,"
        " kind TEXT NOT NULL CHECK (kind IN ('known', 'provisional')),"
        " created TEXT NOT NULL,"
        " notes TEXT NOT NULL DEFAULT '')"
    )
    db.execute(
        "CREATE UNIQUE INDEX individuals_name ON individuals (name COLLATE NOCASE)"
        " WHERE name IS NOT NULL"
    )
    db.execute(
        "CREATE TABLE reference_embeddings ("
        " id INTEGER PRIMARY KEY,"
        " individual_id TEXT NOT NULL REFERENCES individuals (id) ON DELETE CASCADE,"
        " embedding BLOB NOT NULL,"
        " dim INTEGER NOT NULL CHECK (dim > 0 AND length(embedding) = 4 * dim),"
        " model_sha256 TEXT NOT NULL,"
        " source TEXT NOT NULL,"
        " created TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX reference_owner ON reference_embeddings (individual_id)")
    db.execute("CREATE INDEX reference_model ON reference_embeddings (model_sha256)")
    db.execute(
        "CREATE TABLE sightings ("
        " id INTEGER PRIMARY KEY,"
        " file TEXT NOT NULL,"
        " camera TEXT,"
        " site TEXT,"
        " captured_at TEXT,"
        " processed_at TEXT NOT NULL,"
        " individual_id TEXT,"
        " similarity REAL,"
        " encounter_id TEXT,"
        " model_sha256 TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX sighting_individual ON sightings (individual_id)")
    db.execute("CREATE INDEX sighting_encounter ON sightings (encounter_id)")
    db.execute("CREATE TABLE gallery_counters (prefix TEXT PRIMARY KEY, next INTEGER NOT NULL)")
    db.execute(
        "CREATE TABLE gallery_state (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " generation INTEGER NOT NULL, layout INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO gallery_state (id, generation, layout) VALUES (1, 0, 0)")


def _v2(db: sqlite_utils.Database) -> None:
    for sql in (
        "ALTER TABLE reference_embeddings ADD COLUMN captured_at TEXT",
        "ALTER TABLE reference_embeddings ADD COLUMN encounter TEXT",
        "ALTER TABLE sightings ADD COLUMN time_source TEXT",
        "ALTER TABLE sightings ADD COLUMN detection TEXT",
        "ALTER TABLE sightings ADD COLUMN outcome TEXT",
        "CREATE TABLE calibrations ("
        " id INTEGER PRIMARY KEY,"
        " created_at TEXT NOT NULL,"
        " model_sha256 TEXT NOT NULL,"
        " gallery_key TEXT NOT NULL,"
        " score TEXT NOT NULL,"
        " known REAL NOT NULL,"
        " unknown REAL NOT NULL,"
        " individuals INTEGER NOT NULL,"
        " encounters INTEGER NOT NULL,"
        " figures TEXT NOT NULL)",
    ):
        db.execute(sql)


def _v3(db: sqlite_utils.Database) -> None:
    # The review page and `gallery export` find a chip's sighting (and thumbnail) by file.
    db.execute("CREATE INDEX sighting_file ON sightings (file)")


#: The gallery's migrations, oldest first; append, never edit.
STEPS: list[Migration] = [_v1, _v2, _v3]


def ensure_schema(db: sqlite_utils.Database) -> sqlite_utils.Database:
    """Create or upgrade the gallery's tables in `db`; returns `db`."""
    migrate(db, COMPONENT, STEPS)
    return db


def open_gallery(path: Path) -> sqlite_utils.Database:
    """Open the database at `path` for this thread with the gallery's tables ready."""
    return ensure_schema(open_database(path))


def generation(db: sqlite_utils.Database) -> int:
    """The gallery's change token: a new value whenever individuals or references change."""
    return gallery_state(db)[0]


def gallery_state(db: sqlite_utils.Database) -> tuple[int, int]:
    """(generation, layout): see the module docstring."""
    row = db.execute("SELECT generation, layout FROM gallery_state WHERE id = 1").fetchone()
    return int(row[0]), int(row[1])


def bump_generation(db: sqlite_utils.Database, *, append_only: bool = False) -> None:
    """Mark the gallery changed; call inside the transaction that changes it.

    `append_only`: the change only added individuals or references, so a matcher
    may load just the new rows. Random tokens (not a counter) never repeat a value
    a reader saw before a rollback.
    """
    db.execute(
        "UPDATE gallery_state SET generation = random(),"
        " layout = CASE WHEN ? THEN layout ELSE random() END WHERE id = 1",
        [append_only],
    )


def db_path(db: sqlite_utils.Database) -> str:
    """The file behind `db`, for messages."""
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else "<memory>"
