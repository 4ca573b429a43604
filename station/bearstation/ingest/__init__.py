"""From parsed messages to rows: one module per kind of event, and the batch writer."""

from bearstation.ingest.batch import StorageUnavailable, write_batch
from bearstation.ingest.store import Result

__all__ = ["Result", "StorageUnavailable", "write_batch"]
