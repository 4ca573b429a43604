"""Schema migrations with Alembic (scripts shipped in ``bearstation/alembic``).

`bear-station migrate` upgrades a database to the newest revision. Every other
command checks the revision first: an empty database is created at the newest
revision, an older one is refused with the command that upgrades it, so no
command writes to a schema it does not know.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, inspect

from bearstation.database import shown
from bearstation.errors import DatabaseError


def alembic_config() -> Config:
    """Alembic's configuration pointing at the packaged migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("bearstation") / "alembic"))
    return cfg


def head_revision() -> str:
    """The newest revision this bear-station knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # the package always ships its scripts
        raise DatabaseError("bearstation's migration scripts are missing: reinstall bearid")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or None when it has none (empty, or not ours)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade to `revision`; returns (revision before, revision after)."""
    before = current_revision(engine)
    _check_known(engine, before)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, current_revision(engine) or ""


def ensure_current(engine: Engine) -> None:
    """Create an empty database at the newest revision; refuse an out-of-date one."""
    revision = current_revision(engine)
    if revision is None:
        if inspect(engine).get_table_names():
            raise DatabaseError(
                f"database {shown(engine.url)} holds tables but no bear-station revision: "
                "give the station a database of its own"
            )
        upgrade(engine)
        return
    _check_known(engine, revision)
    head = head_revision()
    if revision != head:
        raise DatabaseError(
            f"database {shown(engine.url)} is at schema revision {revision}, this bear-station "
            f"needs {head}: back it up, then run 'bear-station migrate --db URL'"
        )


def _check_known(engine: Engine, revision: str | None) -> None:
    if revision is None:
        return
    script = ScriptDirectory.from_config(alembic_config())
    try:
        known = script.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise DatabaseError(
            f"database {shown(engine.url)} is at schema revision {revision}, which this "
            "bear-station does not know (written by a newer one?): upgrade bear-station"
        )
