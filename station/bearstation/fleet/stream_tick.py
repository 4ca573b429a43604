"""The tick that confirms what the station holds of each box stream and asks for gaps."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from bearstation.fleet.outbound import Outbound
from bearstation.fleet.sequences import due_receipts, due_resends, mark_sent, utc_now

log = logging.getLogger(__name__)


class StreamTick:
    """Receipts when a stream's contiguous mark moved (and now and then again); resend
    requests for gaps that stayed quiet for `quiet_s`, at most every `resend_s`."""

    def __init__(self, receipt_s: float = 60.0, quiet_s: float = 3.0, resend_s: float = 15.0):
        self.receipt_s = receipt_s
        self.quiet_s = quiet_s
        self.resend_s = resend_s

    def tick(self, engine: Engine, outbound: Outbound) -> None:
        """Send the receipts and resend requests that are due."""
        now = utc_now()
        with engine.begin() as conn:
            receipts = due_receipts(conn, now, self.receipt_s)
            resends = due_resends(conn, now, self.quiet_s, self.resend_s)
        for due in receipts:
            if outbound.send(due.agent_id, "receipt", {"stream": due.stream,
                                                      "through": due.through}):  # fmt: skip
                with engine.begin() as conn:
                    mark_sent(conn, due, now, receipt=True)
        for due in resends:
            ranges = [[a, b] for a, b in due.ranges]
            if outbound.send(due.agent_id, "resend", {"stream": due.stream, "ranges": ranges}):
                n = sum(b - a + 1 for a, b in due.ranges)
                log.info("asked %s to send %d message(s) again (%d range(s))", due.agent_id, n,
                         len(ranges))  # fmt: skip
                with engine.begin() as conn:
                    mark_sent(conn, due, now, receipt=False)
