"""The rollout's tables in the box's database (component ``rollout``).

- ``rollout_offers``: one row per offered model (by SHA-256): its name, size, card and
  chunk size, when the station sent the newest offer of it (the station's clock, which
  orders offers), and where the box stands with it: ``fetching``, ``verifying``,
  ``staging`` (re-embedding the gallery), ``switched``, ``refused`` (with the reason) or
  ``superseded`` (a newer offer came first);
- ``rollout_model``: the model the box switched to last (its file, SHA-256, name) and
  the configuration's ``runtime.model`` at that time: a restart runs it while the
  configuration still names that model (a model set by hand afterwards wins);
- ``rollout_staged``: reference embeddings made with an offered model before the switch
  (the running model keeps using the gallery meanwhile); the switch moves them into
  ``reference_embeddings`` in one transaction.
"""

from __future__ import annotations

import sqlite_utils

from bearagent.store import Migration, migrate

COMPONENT = "rollout"


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE rollout_offers ("
        " sha256 TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " size INTEGER NOT NULL,"
        " card TEXT NOT NULL,"
        " chunk_size INTEGER NOT NULL,"
        " offered_at TEXT NOT NULL,"
        " state TEXT NOT NULL CHECK (state IN ('fetching', 'verifying', 'staging', 'switched',"
        " 'refused', 'superseded')),"
        " reason TEXT,"
        " updated_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE rollout_model ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " path TEXT NOT NULL,"
        " sha256 TEXT NOT NULL,"
        " name TEXT NOT NULL,"
        " config_model TEXT NOT NULL,"
        " switched_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE rollout_staged ("
        " reference_id INTEGER NOT NULL,"
        " model_sha256 TEXT NOT NULL,"
        " embedding BLOB NOT NULL,"
        " dim INTEGER NOT NULL CHECK (dim > 0 AND length(embedding) = 4 * dim),"
        " PRIMARY KEY (reference_id, model_sha256))"
    )


#: The rollout's migrations, oldest first; append, never edit.
STEPS: list[Migration] = [_v1]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade the rollout's tables."""
    migrate(db, COMPONENT, STEPS)


def has_tables(db: sqlite_utils.Database) -> bool:
    """Whether the rollout's tables exist (without creating them)."""
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollout_model'"
    ).fetchone()
    return row is not None
