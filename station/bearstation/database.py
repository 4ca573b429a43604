"""Opening the station's database from an SQLAlchemy URL.

SQLite (the default, nothing to install) runs in WAL mode with ``synchronous =
FULL``: a commit is on disk before the station acknowledges the events in it, so
a power cut cannot lose what a broker already forgot. ``postgresql://`` URLs use
psycopg 3. Every failure becomes a `DatabaseError` that names the URL (never its
password) and the fix.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from bearstation.errors import DatabaseError

_EXAMPLES = "e.g. sqlite:///bearstation.db or postgresql+psycopg://station@dbhost/bearid"


def parse_url(url: str) -> URL:
    """`url` as an SQLAlchemy URL; plain ``postgresql://`` gets the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"database URL {url!r} is not an SQLAlchemy URL: {_EXAMPLES}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(
            f"database URL {shown(parsed)!r}: the station runs on SQLite or PostgreSQL, "
            f"not {parsed.get_backend_name()} ({_EXAMPLES})"
        )
    return parsed


def shown(url: URL | str) -> str:
    """A URL safe to print: the password masked."""
    return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)


def open_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`, checked by connecting once."""
    parsed = parse_url(url)
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as e:
        raise DatabaseError(
            f"no database driver for {shown(parsed)} ({e}): pip install 'bearid[station]'"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        engine.dispose()
        raise DatabaseError(f"cannot open database {shown(parsed)}: {first_line(e)}") from None
    return engine


def first_line(error: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's SQL echo and help link."""
    inner = getattr(error, "orig", None) or error
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.close()
