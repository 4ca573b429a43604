"""Login throttling: after a few wrong passwords from one address, each further attempt
waits, twice as long every time.

In memory (a restart forgets, which costs an attacker a restart of a service they
cannot restart); bounded, so a flood of addresses cannot grow it without limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Addresses remembered at most (the least recently failing are forgotten first).
MAX_ADDRESSES = 10_000


@dataclass
class _Record:
    failures: int
    blocked_until: float


class LoginThrottle:
    """Counts wrong passwords per client address and says how long it must wait."""

    def __init__(
        self,
        free_attempts: int,
        backoff_s: float,
        backoff_max_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_attempts = free_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Whole seconds `address` must still wait before trying again (0: it may try now)."""
        with self._lock:
            record = self._records.get(address)
            if record is None:
                return 0
            left = record.blocked_until - self.clock()
        return math.ceil(left) if left > 0 else 0

    def failed(self, address: str) -> int:
        """Count a wrong password from `address`; returns the seconds it must now wait."""
        with self._lock:
            record = self._records.pop(address, None) or _Record(0, 0.0)
            record.failures += 1
            over = record.failures - self.free_attempts
            if over >= 0:
                wait = min(self.backoff_max_s, self.backoff_s * 2.0 ** min(over, 60))
                record.blocked_until = self.clock() + wait
            self._records[address] = record
            while len(self._records) > MAX_ADDRESSES:
                self._records.popitem(last=False)
        return self.retry_after(address)

    def succeeded(self, address: str) -> None:
        """A right password: `address` starts afresh."""
        with self._lock:
            self._records.pop(address, None)
