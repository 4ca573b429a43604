"""When to send again an event the broker refused (an ACL, a quota): doubling waits.

A refusal is usually a configuration problem someone fixes on the broker (with
Mosquitto: edit the ACL, ``systemctl reload mosquitto``); the row stays in the
outbox and is offered again after ``mqtt.reconnect_min_s``, then twice as long
each time, up to ``mqtt.reconnect_max_s``, so the fix takes effect without a
restart of the agent and a broker that keeps refusing is not flooded.
"""

from __future__ import annotations


class RefusedRows:
    """Outbox rows the broker refused, each with its next try and its attempt count."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._next: dict[int, float] = {}  # row id -> monotonic time of its next try
        self._attempts: dict[int, int] = {}  # refusals so far, until it is delivered

    def refused(self, row_id: int, now: float) -> float:
        """Note a refusal of `row_id`; return how long until it is tried again (s)."""
        attempts = self._attempts.get(row_id, 0) + 1
        self._attempts[row_id] = attempts
        wait = min(self.max_s, self.first_s * float(2 ** min(attempts - 1, 30)))
        self._next[row_id] = now + wait
        return wait

    def attempts(self, row_id: int) -> int:
        """How many times the broker has refused `row_id`."""
        return self._attempts.get(row_id, 0)

    def delivered(self, row_id: int) -> None:
        """The broker took `row_id` in the end: forget it."""
        self._attempts.pop(row_id, None)
        self._next.pop(row_id, None)

    def due(self, now: float, limit: int) -> list[int]:
        """Up to `limit` rows whose wait is over, oldest first (no longer waiting)."""
        ready = sorted(r for r, at in self._next.items() if at <= now)[: max(0, limit)]
        for row_id in ready:
            del self._next[row_id]
        return ready

    def postpone(self, row_ids: list[int], now: float) -> None:
        """Rows taken by `due` that could not be sent after all: due again at once."""
        for row_id in row_ids:
            self._next[row_id] = now

    def next_in(self, now: float) -> float | None:
        """Seconds until the next row is due (0 when one is), None when none waits."""
        return max(0.0, min(self._next.values()) - now) if self._next else None

    @property
    def waiting(self) -> int:
        """Rows waiting for their next try."""
        return len(self._next)
