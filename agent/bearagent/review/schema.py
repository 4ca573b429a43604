"""The review page's tables (component ``review`` in ``schema_versions``).

- ``review_actions``: the audit log, one row per action a person took: when, who
  (the name given at login, and the client address), the action, the encounter
  and individual it concerned, a sentence saying what it did, the identity before
  and after (JSON, as in the ``correction`` event), the chips it changed, the
  ``correction`` event's id, and ``inverse``: every old value it replaced, so
  that undo restores exactly them. ``settles``: the encounter has been decided
  and leaves the queue. ``undoes`` / ``undone_by`` link an undo and its action.
- ``review_saved_references``: references an action deleted (a rejected chip's,
  those over the cap of a merge), kept with their thumbnail until undone.
- ``review_settings``: the session-cookie signing key, made once per database.
"""

from __future__ import annotations

import secrets

import sqlite_utils

from bearagent.encounters import store as encounter_store
from bearagent.gallery import thumbnails
from bearagent.gallery.schema import ensure_schema as ensure_gallery_schema
from bearagent.mqtt import outbox
from bearagent.store import Migration, migrate
from bearagent.store import transaction as write_transaction

COMPONENT = "review"


def _v1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE review_actions ("
        " id INTEGER PRIMARY KEY,"
        " at TEXT NOT NULL,"
        " by TEXT NOT NULL,"
        " client TEXT NOT NULL DEFAULT '',"
        " action TEXT NOT NULL CHECK (action IN"
        "  ('confirm', 'assign', 'create', 'merge', 'rename', 'reject', 'undo')),"
        " encounter_id TEXT,"
        " individual_id TEXT,"
        " settles INTEGER NOT NULL DEFAULT 0,"
        " summary TEXT NOT NULL,"
        " before TEXT NOT NULL,"
        " after TEXT NOT NULL,"
        " files TEXT NOT NULL,"
        " inverse TEXT NOT NULL,"
        " event_id TEXT NOT NULL,"
        " undoes INTEGER REFERENCES review_actions (id),"
        " undone_by INTEGER REFERENCES review_actions (id))"
    )
    db.execute("CREATE INDEX review_by_encounter ON review_actions (encounter_id)")
    db.execute(
        "CREATE TABLE review_saved_references ("
        " action_id INTEGER NOT NULL REFERENCES review_actions (id),"
        " id INTEGER NOT NULL,"
        " individual_id TEXT NOT NULL,"
        " embedding BLOB NOT NULL,"
        " dim INTEGER NOT NULL,"
        " model_sha256 TEXT NOT NULL,"
        " source TEXT NOT NULL,"
        " created TEXT NOT NULL,"
        " captured_at TEXT,"
        " encounter TEXT,"
        " thumbnail BLOB,"
        " width INTEGER,"
        " height INTEGER,"
        " PRIMARY KEY (action_id, id))"
    )
    db.execute("CREATE TABLE review_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


#: Migrations of the review tables, oldest first; append, never edit.
STEPS: list[Migration] = [_v1]


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create or upgrade every table the review page reads or writes (the agent's too)."""
    ensure_gallery_schema(db)
    encounter_store.ensure_schema(db)
    thumbnails.ensure_schema(db)
    outbox.ensure_schema(db)
    migrate(db, COMPONENT, STEPS)


def session_secret(db: sqlite_utils.Database) -> str:
    """The key that signs session cookies: made once, kept in the database (so a restart
    keeps people logged in), readable only by whoever can read the database."""
    row = db.execute("SELECT value FROM review_settings WHERE key = 'session_secret'").fetchone()
    if row is not None:
        return str(row[0])
    with write_transaction(db):
        db.execute(
            "INSERT INTO review_settings (key, value) VALUES ('session_secret', ?)"
            " ON CONFLICT(key) DO NOTHING",
            [secrets.token_urlsafe(48)],
        )
    return str(
        db.execute("SELECT value FROM review_settings WHERE key = 'session_secret'").fetchone()[0]
    )
