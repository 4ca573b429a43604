"""The tick that sends every box the fleet gallery's changes it has not applied yet.

Each round, for each box that reported a feed position: the changes after what was
sent to it go out as ``gallery`` {"changes": [...], "head": N} messages, in order, each
message at most `max_message_bytes` of JSON (a bigger single change goes alone), at
most `max_bytes_per_round` per box per round (a box a week behind catches up over a
few rounds). A ``references`` change goes out with the embeddings of its chips under
its model (``{"sha256", "embedding": base64 float32 little-endian}``). When what was
sent has not moved the box's position for `resend_s` (doubling with every try that
brings no answer, up to `max_resend_s`), or the box came back online since, it is sent
again. Nothing goes to a box whose retained status says it is offline: it gets
everything on its return.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from bearstation.fleet.feed import FeedChange, ensure_state, feed_head, feed_since
from bearstation.fleet.feed_positions import (
    FeedPosition,
    feed_positions,
    mark_sent,
    resend_stalled,
)
from bearstation.fleet.outbound import Outbound
from bearstation.fleet.reconcile import adopt_station_individuals
from bearstation.tables import embeddings, fleet_state

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024
MAX_BYTES_PER_ROUND = 4 * 1024 * 1024
RESEND_S = 30.0
MAX_RESEND_S = 600.0


class FeedTick:
    """Sends each box the feed's changes after its position (see the module)."""

    def __init__(
        self,
        resend_s: float = RESEND_S,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_bytes_per_round: int = MAX_BYTES_PER_ROUND,
        max_resend_s: float = MAX_RESEND_S,
    ) -> None:
        self.resend_s = resend_s
        self.max_resend_s = max_resend_s
        self.max_message_bytes = max_message_bytes
        self.max_bytes_per_round = max_bytes_per_round
        self._ready = False

    def tick(self, engine: Engine, outbound: Outbound) -> None:
        """Send what is due to every box."""
        if not self._ready:
            with engine.begin() as conn:
                _prepare(conn, outbound.station_id)
            self._ready = True
        now = datetime.now(UTC)
        with engine.begin() as conn:
            head, positions = feed_head(conn), feed_positions(conn)
            for seen in positions:
                if self._stalled(seen, now):
                    resend_stalled(conn, seen, now)
            positions = feed_positions(conn)
        for seen in positions:
            due = seen.retry_at is None or seen.retry_at <= now
            if seen.online and seen.sent_through < head and due:
                self._send(engine, outbound, seen, head, now)

    def _stalled(self, seen: FeedPosition, now: datetime) -> bool:
        """Sent, unanswered, and the box online: long enough ago, or it came back since."""
        if not seen.online or seen.sent_through <= seen.applied or seen.sent_at is None:
            return False
        if seen.reported_at > seen.sent_at:
            return False  # it answered (and its report decided)
        if seen.status_at is not None and seen.status_at > seen.sent_at:
            return True  # it (or its bridge) reconnected after the send
        wait = min(self.resend_s * 2 ** min(seen.resends, 16), self.max_resend_s)
        return now - seen.sent_at >= timedelta(seconds=wait)

    def _send(
        self, engine: Engine, outbound: Outbound, seen: FeedPosition, head: int, now: datetime
    ) -> None:
        through, spent = seen.sent_through, 0
        with engine.connect() as conn:
            for chunk, size in chunks(conn, seen.sent_through, self.max_message_bytes):
                if not outbound.send(seen.agent_id, "gallery", {"changes": chunk, "head": head}):
                    break
                through, spent = int(chunk[-1]["seq"]), spent + size
                if spent >= self.max_bytes_per_round:
                    break
        if through > seen.sent_through:
            with engine.begin() as conn:
                mark_sent(conn, seen, through, now)
            log.debug("fleet gallery: sent %s changes %d to %d", seen.agent_id,
                      seen.sent_through + 1, through)  # fmt: skip


def _prepare(conn: Connection, station_id: str) -> None:
    """Once per start: the station's id (for the ids it mints), the individuals the
    station knew before the fleet gallery."""
    ensure_state(conn)
    conn.execute(update(fleet_state).where(fleet_state.c.id == 1).values(station_id=station_id))
    adopted = adopt_station_individuals(conn)
    if adopted:
        log.info("fleet gallery: added %d individuals the station knew before it", adopted)


def chunks(
    conn: Connection, after: int, max_bytes: int, batch: int = 500
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """The feed after `after` as wire changes, in messages of at most `max_bytes` of
    JSON each (with their sizes)."""
    chunk: list[dict[str, Any]] = []
    size = 0
    while True:
        changes = feed_since(conn, after, batch)
        if not changes:
            break
        vectors = reference_vectors(conn, changes)
        for change in changes:
            wire = wire_change(change, vectors)
            cost = len(json.dumps(wire, ensure_ascii=False, separators=(",", ":"))) + 1
            if chunk and size + cost > max_bytes:
                yield chunk, size
                chunk, size = [], 0
            chunk.append(wire)
            size += cost
        after = changes[-1].seq
    if chunk:
        yield chunk, size


def reference_vectors(conn: Connection, changes: list[FeedChange]) -> dict[tuple[str, str], str]:
    """(chip SHA-256, model) -> base64 embedding, of every ``references`` change (one query
    per model)."""
    wanted: dict[str, set[str]] = {}
    for change in changes:
        if change.kind == "references":
            wanted.setdefault(change.body["model_sha256"], set()).update(change.body["sha256"])
    found: dict[tuple[str, str], str] = {}
    for model, shas in wanted.items():
        rows = conn.execute(
            select(embeddings.c.sha256, embeddings.c.vector).where(
                embeddings.c.model_sha256 == model, embeddings.c.sha256.in_(sorted(shas))
            )
        )
        for sha, vector in rows:
            found[(sha, model)] = base64.b64encode(bytes(vector)).decode("ascii")
    return found


def wire_change(change: FeedChange, vectors: dict[tuple[str, str], str]) -> dict[str, Any]:
    """A change as a box reads it: seq, kind and its body (references with embeddings)."""
    body = dict(change.body)
    if change.kind == "references":
        model = body["model_sha256"]
        body["references"] = [
            {"sha256": sha, "embedding": vectors[(sha, model)]}
            for sha in body.pop("sha256")
            if (sha, model) in vectors
        ]
    return {"seq": change.seq, "kind": change.kind, **body}
