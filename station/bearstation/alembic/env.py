"""Alembic's environment for the station's migrations (run by `bearstation.migrations`).

The caller hands over an open connection in ``config.attributes["connection"]``;
offline (SQL script) mode is not used. SQLite gets batch mode, so later migrations
can alter tables it cannot ALTER in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bearstation.tables import metadata


def run_online(connection: Connection) -> None:
    """Run the pending migrations on `connection` in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_online(context.config.attributes["connection"])
