"""Alembic migrations make exactly the tables the station's code uses, on SQLite and
PostgreSQL; a database at an unknown revision, or someone else's, is refused; and the
broker URLs of the configuration mean what they say."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bearagent.wire.errors import BrokerUrlError
from bearstation.config import BrokerConfig, StationConfig, client_id_for
from bearstation.database import open_engine
from bearstation.errors import DatabaseError
from bearstation.migrations import current_revision, ensure_current, head_revision, upgrade
from bearstation.tables import metadata


def test_migrations_build_exactly_the_tables_of_the_code(station_db: str) -> None:
    engine = open_engine(station_db)
    assert current_revision(engine) is None
    assert upgrade(engine) == (None, head_revision())
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    ensure_current(engine)  # at head: nothing to do, nothing refused


def test_unknown_or_foreign_databases_are_refused(station_db: str) -> None:
    engine = open_engine(station_db)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE someone_elses (id INTEGER)"))
    with pytest.raises(DatabaseError, match="holds tables but no bear-station revision"):
        ensure_current(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE someone_elses"))
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(DatabaseError) as e:
        ensure_current(engine)
    assert str(e.value).endswith(
        "is at schema revision f00d, which this bear-station does not know (written by a "
        "newer one?): upgrade bear-station"
    )


def test_an_unreachable_database_names_itself_without_its_password() -> None:
    with pytest.raises(DatabaseError) as e:
        open_engine(
            "postgresql://station:s3cret@127.0.0.1:1/bears", connect_args={"connect_timeout": 2}
        )
    assert str(e.value).startswith(
        "cannot open database postgresql+psycopg://station:***@127.0.0.1:1/bears: "
    )
    assert "s3cret" not in str(e.value)


def test_broker_urls() -> None:
    tls = BrokerConfig.model_validate(
        {"url": "mqtts://station@broker.example", "password_file": "pw", "tls": {"ca_file": "/ca"}}
    )
    assert (tls.host, tls.port, tls.username, tls.tls.enabled) == (
        "broker.example",
        8883,
        "station",
        True,
    )
    assert str(tls.tls.ca_file) == "/ca"
    plain = BrokerConfig.model_validate({"url": "mqtt://10.0.0.5"})
    assert (plain.port, plain.tls.enabled, plain.username) == (1883, False, None)
    for url, message in [
        ("mqtt://h:99999", "the port must be a number 1-65535"),
        ("mqtt:///", "names no host"),
        ("mqtt://h/topic", "only scheme, user, host and port are read"),
    ]:
        with pytest.raises(BrokerUrlError, match=message):
            BrokerConfig.model_validate({"url": url})
    config = StationConfig.model_validate(
        {"station": {"id": "hq"}, "brokers": [{"url": "mqtt://a"}]}
    )
    assert client_id_for(config, config.brokers[0]) == "bear-station-hq"
