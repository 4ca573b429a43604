"""Fixtures of the station tests: a PostgreSQL server for the session, and `station_db`,
a fresh empty database URL on SQLite and on PostgreSQL (the same tests run on both).

Imported by tests/conftest.py so every test module sees them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.station_postgres import Postgres, PostgresUnavailable, find_bindir

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A running PostgreSQL server. Missing: a skip on a developer machine, a failure in CI."""
    bindir = find_bindir()
    try:
        if bindir is None:
            raise PostgresUnavailable(
                "PostgreSQL is not installed (tools/setup.sh installs Debian's 'postgresql')"
            )
        server = Postgres(bindir).start()
    except PostgresUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e}; CI must run the station tests on a real PostgreSQL")
        pytest.skip(str(e))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def station_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An SQLAlchemy URL of a new, empty database: an SQLite file, or one on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'station.db'}"
    server: Postgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"station_{os.getpid()}_{next(_numbers)}")
