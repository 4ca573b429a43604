"""The rollout's tick on the fleet thread: offers until answered, chunks for fetches.

Offers: an open offer (no ``switched``, ``running`` or ``refused`` report yet) is sent
when it was never sent, and again when the box has been heard from since, at least
``rollout.offer_resend_s`` after the last send, without reporting on it (it never got
the offer, or lost it); a box that is away is not flooded, since its broker session keeps
the first one.

Fetches: each box's asked-for ranges are answered with ``chunk`` messages of at most
``rollout.chunk_bytes`` (256 KiB: about 350 kB of JSON), up to
``rollout.box_bytes_per_round`` per box and ``rollout.round_bytes`` in all per round, so
one box's model cannot starve the others or the broker. A file the
station does not hold is answered with one chunk of ``size`` 0.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, delete, or_, select, update

from bearagent.wire.channels import StationChannel
from bearstation.config import StationConfig
from bearstation.media.errors import MediaNotFound
from bearstation.media.store import MediaStore
from bearstation.rollout.config import RolloutConfig
from bearstation.rollout.files import ModelFiles, read_range
from bearstation.tables import boxes, media, model_fetches, model_offers, models

log = logging.getLogger(__name__)

#: How long finished fetch rows are kept (a resent old request then changes nothing).
KEEP_DONE = timedelta(days=1)


class Sender(Protocol):
    """What the tick sends with (`bearstation.fleet.outbound.Outbound`)."""

    def send(self, agent_id: str, channel: StationChannel, body: dict[str, Any]) -> bool: ...


class RolloutTick:
    """Sends offers and answers fetches (a `bearstation.fleet.rounds.Tick`)."""

    def __init__(self, media: MediaStore, config: RolloutConfig) -> None:
        self.media = media
        self.files = ModelFiles(media.root)
        self.resend = timedelta(seconds=config.offer_resend_s)
        self.config = config

    @classmethod
    def from_config(cls, config: StationConfig) -> RolloutTick:
        """The tick of a station with `config` (its media folder holds the models)."""
        return cls(MediaStore.from_config(config.media, config.station.database), config.rollout)

    def tick(self, engine: Engine, outbound: Sender) -> None:
        """Send the offers due and answer the fetches waiting (reads, sends, then one short
        write transaction: the ingest writer never waits for the broker)."""
        now = datetime.now(UTC)
        with engine.connect() as conn:
            due = self._offers_due(conn, now)
            sent = [o["id"] for o in due if outbound.send(o["agent_id"], "offer", o["body"])]
            served = self._serve(conn, outbound)
        with engine.begin() as conn:
            if sent:
                conn.execute(
                    update(model_offers).where(model_offers.c.id.in_(sent))
                    .values(sent_at=now, sends=model_offers.c.sends + 1)
                )  # fmt: skip
            f = model_fetches
            for (agent, sha, seq), position in served.items():
                conn.execute(
                    update(f).where(f.c.agent_id == agent, f.c.sha256 == sha, f.c.seq == seq)
                    .values(next_byte=position)
                )  # fmt: skip
            conn.execute(
                delete(f).where(f.c.next_byte >= f.c.end_byte, f.c.requested_at < now - KEEP_DONE)
            )

    def _offers_due(self, conn: Connection, now: datetime) -> list[dict[str, Any]]:
        o = model_offers
        unanswered = or_(o.c.reported_at.is_(None), o.c.reported_at < o.c.sent_at)
        heard_since = and_(boxes.c.last_seen_at > o.c.sent_at, o.c.sent_at <= now - self.resend)
        rows = conn.execute(
            select(o.c.id, o.c.agent_id, models.c.sha256, models.c.name, models.c.size,
                   models.c.card)
            .join(models, models.c.sha256 == o.c.sha256)
            .join(boxes, boxes.c.agent_id == o.c.agent_id, isouter=True)
            .where(o.c.closed_at.is_(None), or_(o.c.sent_at.is_(None),
                                                and_(unanswered, heard_since)))
            .order_by(o.c.id)
        ).all()  # fmt: skip
        return [
            {"id": r.id, "agent_id": r.agent_id, "body": {
                "sha256": r.sha256, "name": r.name, "size": r.size, "card": r.card,
                "chunk_size": self.config.chunk_bytes}}
            for r in rows
        ]  # fmt: skip

    def _serve(self, conn: Connection, outbound: Sender) -> dict[tuple[str, str, int], int]:
        """Answer the waiting requests within the budget: request -> its next byte now."""
        f = model_fetches
        rows = conn.execute(
            select(f).where(f.c.next_byte < f.c.end_byte).order_by(f.c.requested_at)
        ).all()
        left = self.config.round_bytes
        per_box: dict[str, int] = {}
        served: dict[tuple[str, str, int], int] = {}
        for row in rows:
            allowed = min(left, self.config.box_bytes_per_round - per_box.get(row.agent_id, 0))
            if allowed <= 0:
                continue
            sent, position = self._answer(conn, outbound, row, allowed)
            per_box[row.agent_id] = per_box.get(row.agent_id, 0) + sent
            left -= sent
            served[(row.agent_id, row.sha256, row.seq)] = position
            if left <= 0:
                break
        return served

    def _answer(
        self, conn: Connection, outbound: Sender, row: Any, allowed: int
    ) -> tuple[int, int]:
        """Send chunks of one request within `allowed` bytes: (bytes sent, next byte)."""
        path = self._file_of(conn, row.sha256)
        if path is None:
            body = {"sha256": row.sha256, "offset": row.next_byte, "data": "", "size": 0}
            log.info("box %s asked for %s, which the station does not hold", row.agent_id,
                     row.sha256[:12])  # fmt: skip
            return 0, row.end_byte if outbound.send(row.agent_id, "chunk", body) else row.next_byte
        size = path.stat().st_size
        end = min(row.end_byte, size)
        position, sent = row.next_byte, 0
        for offset, data in _chunks(path, position, min(end, position + allowed),
                                    self.config.chunk_bytes):  # fmt: skip
            body = {"sha256": row.sha256, "offset": offset,
                    "data": base64.b64encode(data).decode("ascii"), "size": size}  # fmt: skip
            if not outbound.send(row.agent_id, "chunk", body):
                break
            position, sent = offset + len(data), sent + len(data)
        return sent, row.end_byte if position >= end else position

    def _file_of(self, conn: Connection, sha256: str) -> Path | None:
        """The stored file of a published model, or of a chip in the media store."""
        if conn.execute(select(models.c.sha256).where(models.c.sha256 == sha256)).first():
            path = self.files.path_of(sha256)
            return path if path.is_file() else None
        if conn.execute(select(media.c.sha256).where(media.c.sha256 == sha256)).first():
            try:
                return self.media.path_of(sha256)
            except MediaNotFound:
                return None
        return None


def _chunks(path: Path, start: int, end: int, size: int) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) pieces of `path` covering [start, end)."""
    offset = start
    while offset < end:
        data = read_range(path, offset, min(size, end - offset))
        if not data:
            return
        yield offset, data
        offset += len(data)
