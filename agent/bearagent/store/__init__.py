"""The agent's SQLite state: one file, one connection per thread, versioned schemas."""

from bearagent.store.database import (
    DatabaseLocked,
    DiskFull,
    StoreError,
    open_database,
    sqlite_error,
    store_errors,
    transaction,
)
from bearagent.store.migrations import Migration, SchemaTooNew, migrate, schema_version

__all__ = [
    "DatabaseLocked",
    "DiskFull",
    "Migration",
    "SchemaTooNew",
    "StoreError",
    "migrate",
    "open_database",
    "schema_version",
    "sqlite_error",
    "store_errors",
    "transaction",
]
