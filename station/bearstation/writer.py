"""The writer loop: take what the brokers delivered, store it in batches, then ack it.

One thread owns the database writes. It takes whatever is queued (up to
``intake.batch_max``; under load that makes large transactions, when idle a
message is stored at once), writes it with `write_batch` and only then
acknowledges each message to its broker. While the database is unavailable it
retries the same batch every ``intake.retry_s`` and acknowledges nothing, so the
brokers keep the events.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine

from bearstation.config import IntakeConfig
from bearstation.ingest.batch import StorageUnavailable, write_batch
from bearstation.intake import Delivery
from bearstation.media.store import MediaStore

log = logging.getLogger(__name__)


class Writer:
    """Stores deliveries from `inbox` into `engine`; counts results in `counts`."""

    def __init__(
        self,
        engine: Engine,
        inbox: queue.Queue[Delivery],
        intake: IntakeConfig,
        on_progress: Callable[[], object] = lambda: None,
        media: MediaStore | None = None,
        on_stored: Callable[[], object] = lambda: None,
    ) -> None:
        self._engine = engine
        self._inbox = inbox
        self._intake = intake
        self._on_progress = on_progress
        self._media = media
        self._on_stored = on_stored
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bear-station-writer", daemon=True)
        self.counts: Counter[str] = Counter()
        self.unavailable: str | None = None  # the last database error while it lasts

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand (stored and acked), then stop; the rest comes again."""
        self._stop.set()
        self._thread.join(timeout)

    def _take(self) -> list[Delivery]:
        try:
            batch = [self._inbox.get(timeout=0.5)]
        except queue.Empty:
            return []
        while len(batch) < self._intake.batch_max:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            self._on_progress()
            batch = self._take()
            if batch and self._store(batch):
                for delivery in batch:
                    delivery.link.ack(delivery)
                self._on_stored()

    def _store(self, batch: list[Delivery]) -> bool:
        """Store `batch`, retrying while the database is unavailable; False if stopped first."""
        prefix = self._intake.topic_prefix
        while True:
            try:
                messages = [d.message for d in batch]
                results = write_batch(self._engine, messages, prefix, self._media)
            except StorageUnavailable as e:
                if self.unavailable is None:
                    log.error("%s; holding %d events unacknowledged and retrying", e, len(batch))
                self.unavailable = str(e)
                self._on_progress()
                if self._stop.wait(self._intake.retry_s):
                    return False
                continue
            if self.unavailable is not None:
                log.info("database available again")
                self.unavailable = None
            self.counts.update(results)
            return True
