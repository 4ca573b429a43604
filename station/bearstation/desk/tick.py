"""`DeskTick`: each fleet round, settle the decisions their boxes have answered and send
the waiting ones that are due (never sent, or unanswered for ``desk.resend_s``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine

from bearstation.desk.commands import body_of, due, mark_sent, settle_answers
from bearstation.fleet.outbound import Outbound

log = logging.getLogger(__name__)


class DeskTick:
    """Sends desk decisions to their boxes until each box answers."""

    def __init__(self, resend_s: float = 30.0) -> None:
        self.resend_s = resend_s

    def tick(self, engine: Engine, outbound: Outbound) -> None:
        """Settle answered decisions, then send what is due."""
        now = datetime.now(UTC)
        with engine.begin() as conn:
            for answered in settle_answers(conn):
                log.info("desk decision %s (%s of encounter %s): %s", answered.command_id,
                         answered.what, answered.encounter_id, answered.status)  # fmt: skip
            sending = due(conn, now, self.resend_s)
        for command in sending:
            if outbound.send(command.agent_id, "decision", body_of(command)):
                with engine.begin() as conn:
                    mark_sent(conn, command.command_id, now)
