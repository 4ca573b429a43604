"""Small SQL helpers that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Executable, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """INSERT unless a unique key already holds the row; True when inserted.

    ``ON CONFLICT DO NOTHING`` is safe against a second writer on the same
    database (another station process): neither fails, one row stays.
    """
    statement = _insert_ignore(conn.dialect.name, table)
    return conn.execute(statement, dict(values)).first() is not None


@cache
def _insert_ignore(dialect_name: str, table: Table) -> Executable:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    # RETURNING, not rowcount: psycopg reports -1 for these statements.
    return dialect.insert(table).on_conflict_do_nothing().returning(key)  # type: ignore[no-any-return]


def update_row(conn: Connection, table: Table, row_id: int, values: Mapping[str, Any]) -> None:
    """UPDATE one row by ``id`` (statements built once per set of columns)."""
    params = {f"v_{k}": v for k, v in values.items()}
    conn.execute(_update_row(table, frozenset(values)), {**params, "_row_id": row_id})


@cache
def _update_row(table: Table, columns: frozenset[str]) -> Executable:
    return (
        update(table)
        .where(table.c.id == bindparam("_row_id"))
        .values({c: bindparam(f"v_{c}") for c in sorted(columns)})
    )


def upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Sequence[str],
) -> None:
    """INSERT, or on a conflict of `keys` set the `update` columns from `values`."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).values(**values)
    statement = insert.on_conflict_do_update(
        index_elements=list(keys), set_={c: insert.excluded[c] for c in update}
    )
    conn.execute(statement)


def find_id(conn: Connection, table: Table, **keys: Any) -> int | None:
    """The ``id`` of the row matching `keys`, or None."""
    query = select(table.c.id).where(*(table.c[k] == v for k, v in keys.items()))
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two optional times."""
    return b if a is None else a if b is None else min(a, b)


def latest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two optional times."""
    return b if a is None else a if b is None else max(a, b)
