"""The desk's own settings in the station's database: the key that signs session cookies,
made once per database (a restart keeps people logged in; every desk process on the
database shares it)."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, select

from bearstation.ingest.sql import insert_ignore
from bearstation.tables import desk_settings

SESSION_SECRET = "session_secret"


def session_secret(engine: Engine) -> str:
    """The session-signing key, made on first use."""
    with engine.begin() as conn:
        insert_ignore(conn, desk_settings, {"key": SESSION_SECRET,
                                            "value": secrets.token_urlsafe(48)})  # fmt: skip
        value = conn.execute(
            select(desk_settings.c.value).where(desk_settings.c.key == SESSION_SECRET)
        ).scalar_one()
    return str(value)
