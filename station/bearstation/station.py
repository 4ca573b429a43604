"""The station: opens the database, starts the writer and one link per broker, stops them.

Start order: database (checked at its newest revision), writer, brokers; stop in
reverse, except that the writer finishes its batch first, while the brokers can
still take the acknowledgements. Under systemd (``Type=notify``) it says READY
once every link is started and pings the watchdog from the writer loop.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections import Counter
from types import FrameType

from sqlalchemy import Engine

from bearagent import sdnotify
from bearstation.config import StationConfig, client_id_for
from bearstation.database import open_engine, shown
from bearstation.errors import StationError
from bearstation.fleet.outbound import Outbound
from bearstation.fleet.rounds import FleetRound, Tick
from bearstation.fleet.ticks import default_ticks
from bearstation.intake import BrokerLink, Delivery
from bearstation.media.store import MediaStore
from bearstation.migrations import ensure_current
from bearstation.writer import Writer

log = logging.getLogger(__name__)


class Station:
    """Every broker's events into one database, until `stop`."""

    def __init__(self, config: StationConfig, ticks: list[Tick] | None = None) -> None:
        if not config.brokers:
            raise StationError(
                "no broker to subscribe to: give --broker URL (e.g. mqtt://localhost:1883) "
                "or [[brokers]] in the config"
            )
        self.config = config
        self.engine: Engine | None = None
        self.links: list[BrokerLink] = []
        self.writer: Writer | None = None
        self.round: FleetRound | None = None
        self.outbound: Outbound | None = None
        self._ticks = ticks
        self._inbox: queue.Queue[Delivery] = queue.Queue()
        self._pinger = sdnotify.WatchdogPinger()
        self._stopped = threading.Event()
        self._signalled = threading.Event()

    def start(self) -> None:
        """Open the database and subscribe on every broker."""
        # Credentials and TLS files first: a mistake there is reported before anything opens.
        self.links = [
            BrokerLink(b, self.config.intake, client_id_for(self.config, b), self._inbox)
            for b in self.config.brokers
        ]
        self.engine = open_engine(self.config.station.database)
        ensure_current(self.engine)
        media = MediaStore.from_config(self.config.media, self.config.station.database)
        fleet = self.config.fleet
        self.outbound = Outbound(self.config.station.id, self.links, fleet.station_topic_prefix)
        ticks = self._ticks if self._ticks is not None else default_ticks(self.config)
        self.round = FleetRound(self.engine, self.outbound, ticks, fleet.round_s)
        self.writer = Writer(
            self.engine,
            self._inbox,
            self.config.intake,
            self._pinger.tick,
            media=media,
            on_stored=self.round.wake,
        )
        self.writer.start()
        for link in self.links:
            link.start()
        self.round.start()
        where = ", ".join(link.where for link in self.links)
        log.info("collecting from %s into %s", where, shown(self.engine.url))
        sdnotify.ready()
        sdnotify.status(f"collecting from {where}")

    def stop(self) -> None:
        """Finish the batch in hand, disconnect, close the database."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        sdnotify.stopping()
        if self.round is not None:
            self.round.stop()
        if self.writer is not None:
            self.writer.stop()
        for link in reversed(self.links):
            link.stop()
        if self.engine is not None:
            self.engine.dispose()
        if self.writer is not None:
            log.info("stopped: %s", dict(self.counts))

    @property
    def counts(self) -> Counter[str]:
        """Messages by result so far: stored, duplicate, status, quarantined."""
        return self.writer.counts if self.writer is not None else Counter()

    def wait_connected(self, timeout: float) -> bool:
        """Whether every link is connected within `timeout` seconds (for tests and tools)."""
        deadline = time.monotonic() + timeout
        return all(
            link.connected.wait(max(0.0, deadline - time.monotonic())) for link in self.links
        )

    def run_until_signal(self) -> None:
        """Start, then run until SIGTERM or SIGINT; stop cleanly."""

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            self._signalled.set()

        previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            self._signalled.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.stop()
