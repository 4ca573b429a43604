"""The fleet round: every `fleet.round_s` the station runs its ticks, each sending what is
due to boxes (receipts, resend requests, the gallery feed, desk decisions, model offers).

A tick reads what must reach a box from the database and sends it with `Outbound`; what
it sent is remembered in its own tables, and it sends again until the box's answer (an
event) shows the box has it. One tick failing (a database error) is logged; the round
goes on, and so does the station.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bearstation.database import first_line
from bearstation.fleet.outbound import Outbound

log = logging.getLogger(__name__)


class Tick(Protocol):
    """One kind of message the station keeps sending boxes until they have it."""

    def tick(self, engine: Engine, outbound: Outbound) -> None:
        """Send what is due now."""


class FleetRound:
    """Runs the ticks every `round_s` seconds on a thread of its own, until stopped."""

    def __init__(
        self,
        engine: Engine,
        outbound: Outbound,
        ticks: Sequence[Tick],
        round_s: float,
        on_round: Callable[[], object] = lambda: None,
    ) -> None:
        self.engine = engine
        self.outbound = outbound
        self.ticks = list(ticks)
        self.round_s = round_s
        self.on_round = on_round
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bear-station-fleet", daemon=True)

    def start(self) -> None:
        """Start the round's thread."""
        self._thread.start()

    def wake(self) -> None:
        """Run a round now (something arrived that may call for an answer)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the tick in hand."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self) -> None:
        """One round: every tick once."""
        for tick in self.ticks:
            if self._stop.is_set():
                return
            try:
                tick.tick(self.engine, self.outbound)
            except OperationalError as e:  # busy (SQLite under a large ingest), or down
                log.warning(
                    "fleet round: %s could not use the database (%s); trying again next round",
                    type(tick).__name__,
                    first_line(e),
                )
            except Exception:  # a tick's failure must not stop the others or the station
                log.exception(
                    "fleet round: %s failed; trying again next round", type(tick).__name__
                )

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self.on_round()
            self._wake.wait(self.round_s)
            self._wake.clear()
