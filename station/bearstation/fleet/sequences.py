"""What the station holds of each box's stream, and what it lacks.

Every message a box sends through its outbox carries its stream (a UUID per box
database) and sequence number. Ingest records each held number (`record_seq`, in the
ingest transaction, so "held" means committed), advancing the stream's contiguous
mark (`through`); the box's stats say its head (`record_head`), so the station knows
what exists even when it lost everything the box sent. The fleet round then confirms
what it holds (receipts) and asks for what it lacks (resend requests): `due_receipts`,
`due_resends`. Numbers the box dropped unconfirmed (its retention limit,
``expired_through``) are counted as lost, never asked for again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, delete, select, update

from bearstation.ingest.sql import insert_ignore
from bearstation.tables import box_seqs, box_streams

#: A resend request names at most this many ranges (the rest come in the next one).
MAX_RANGES = 200
#: ... and at most this many sequence numbers in all.
MAX_RESEND = 20_000


def _ensure(conn: Connection, agent_id: str, stream: str, now: datetime) -> None:
    insert_ignore(
        conn,
        box_streams,
        {
            "agent_id": agent_id,
            "stream": stream,
            "through": 0,
            "head": 0,
            "expired_through": 0,
            "lost": 0,
            "current": True,
            "updated_at": now,
            "receipt_through": 0,
        },
    )


def _key(agent_id: str, stream: str) -> ColumnElement[bool]:
    return and_(box_streams.c.agent_id == agent_id, box_streams.c.stream == stream)


def record_seq(conn: Connection, agent_id: str, stream: str, seq: int, now: datetime) -> None:
    """The station now holds message `seq` of the box's `stream` (in the caller's
    transaction)."""
    _ensure(conn, agent_id, stream, now)
    through = conn.execute(select(box_streams.c.through).where(_key(agent_id, stream))).scalar_one()
    if seq <= through:
        return
    conn.execute(update(box_streams).where(_key(agent_id, stream)).values(updated_at=now))
    if seq == through + 1:
        _advance(conn, agent_id, stream, seq, now)
        return
    insert_ignore(conn, box_seqs, {"agent_id": agent_id, "stream": stream, "seq": seq})
    conn.execute(
        update(box_streams).where(_key(agent_id, stream), box_streams.c.head < seq).values(head=seq)
    )


def _advance(conn: Connection, agent_id: str, stream: str, through: int, now: datetime) -> None:
    """Move the contiguous mark to `through`, then over every held number right after it."""
    held = conn.execute(
        select(box_seqs.c.seq)
        .where(box_seqs.c.agent_id == agent_id, box_seqs.c.stream == stream)
        .where(box_seqs.c.seq > through)
        .order_by(box_seqs.c.seq)
        .limit(100_000)
    ).scalars()
    for seq in held:
        if seq != through + 1:
            break
        through = seq
    conn.execute(
        delete(box_seqs).where(
            box_seqs.c.agent_id == agent_id, box_seqs.c.stream == stream, box_seqs.c.seq <= through
        )
    )
    conn.execute(
        update(box_streams)
        .where(_key(agent_id, stream), box_streams.c.through < through)
        .values(through=through, updated_at=now)
    )
    conn.execute(
        update(box_streams)
        .where(_key(agent_id, stream), box_streams.c.head < through)
        .values(head=through)
    )


def record_head(
    conn: Connection, agent_id: str, stream: str, head: int, expired_through: int, now: datetime
) -> None:
    """A box's stats: its stream, the latest number it gave out, and what it dropped
    unconfirmed. Its other streams are no longer current (a new database)."""
    _ensure(conn, agent_id, stream, now)
    conn.execute(
        update(box_streams)
        .where(box_streams.c.agent_id == agent_id, box_streams.c.stream != stream)
        .values(current=False)
    )
    conn.execute(
        update(box_streams)
        .where(_key(agent_id, stream), box_streams.c.head < head)
        .values(head=head, updated_at=now)
    )
    row = conn.execute(
        select(box_streams.c.through, box_streams.c.expired_through).where(_key(agent_id, stream))
    ).one()
    if expired_through > row.expired_through:
        conn.execute(
            update(box_streams)
            .where(_key(agent_id, stream))
            .values(expired_through=expired_through, current=True)
        )
    if expired_through > row.through:
        _give_up(conn, agent_id, stream, int(row.through), expired_through, now)


def _give_up(
    conn: Connection, agent_id: str, stream: str, through: int, expired: int, now: datetime
) -> None:
    """Numbers up to `expired` the station lacks are lost for good: count them, move on."""
    held = conn.execute(
        select(box_seqs.c.seq).where(
            box_seqs.c.agent_id == agent_id,
            box_seqs.c.stream == stream,
            box_seqs.c.seq > through,
            box_seqs.c.seq <= expired,
        )
    ).scalars()
    lost = (expired - through) - len(list(held))
    conn.execute(
        update(box_streams)
        .where(_key(agent_id, stream))
        .values(lost=box_streams.c.lost + max(lost, 0))
    )
    _advance(conn, agent_id, stream, expired, now)


@dataclass(frozen=True)
class StreamStatus:
    """One box stream as `bear-station status` shows it."""

    agent_id: str
    stream: str
    through: int
    head: int
    missing: int  # numbers between `through` and `head` the station lacks
    lost: int
    current: bool


def stream_status(conn: Connection) -> list[StreamStatus]:
    """Every box stream: held through, head, what is missing and what is lost."""
    rows = conn.execute(select(box_streams).order_by(box_streams.c.agent_id)).all()
    out = []
    for r in rows:
        above = conn.execute(
            select(box_seqs.c.seq).where(
                box_seqs.c.agent_id == r.agent_id, box_seqs.c.stream == r.stream
            )
        ).scalars()
        held_above = len(list(above))
        missing = max(0, r.head - r.through - held_above)
        out.append(
            StreamStatus(r.agent_id, r.stream, r.through, r.head, missing, r.lost, r.current)
        )
    return out


def missing_ranges(conn: Connection, agent_id: str, stream: str) -> list[tuple[int, int]]:
    """The numbers of `stream` between its contiguous mark and head the station lacks."""
    row = conn.execute(
        select(box_streams.c.through, box_streams.c.head).where(_key(agent_id, stream))
    ).one()
    held = conn.execute(
        select(box_seqs.c.seq)
        .where(box_seqs.c.agent_id == agent_id, box_seqs.c.stream == stream)
        .order_by(box_seqs.c.seq)
    ).scalars()
    ranges: list[tuple[int, int]] = []
    start, total = int(row.through) + 1, 0
    for seq in [*held, int(row.head) + 1]:
        if seq > start:
            last = min(seq - 1, start + (MAX_RESEND - total) - 1)
            ranges.append((start, last))
            total += last - start + 1
            if len(ranges) >= MAX_RANGES or total >= MAX_RESEND:
                break
        start = max(start, seq + 1)
    return ranges


@dataclass(frozen=True)
class Due:
    """A receipt or resend request to send one box stream."""

    agent_id: str
    stream: str
    through: int
    ranges: Sequence[tuple[int, int]] = ()


def due_receipts(conn: Connection, now: datetime, repeat_s: float) -> list[Due]:
    """Receipts to send: the mark moved, or the last receipt is older than `repeat_s`."""
    stale = now - timedelta(seconds=repeat_s)
    rows = conn.execute(
        select(box_streams.c.agent_id, box_streams.c.stream, box_streams.c.through).where(
            box_streams.c.current,
            box_streams.c.through > 0,
            (box_streams.c.through > box_streams.c.receipt_through)
            | (box_streams.c.receipt_at.is_(None))
            | (box_streams.c.receipt_at < stale),
        )
    ).all()
    return [Due(r.agent_id, r.stream, int(r.through)) for r in rows]


def due_resends(conn: Connection, now: datetime, quiet_s: float, repeat_s: float) -> list[Due]:
    """Resend requests: the stream lacks numbers, nothing arrived for `quiet_s` (they may
    just be on their way), and the last request is older than `repeat_s`."""
    quiet = now - timedelta(seconds=quiet_s)
    stale = now - timedelta(seconds=repeat_s)
    rows = conn.execute(
        select(box_streams.c.agent_id, box_streams.c.stream, box_streams.c.through).where(
            box_streams.c.current,
            box_streams.c.head > box_streams.c.through,
            box_streams.c.updated_at < quiet,
            (box_streams.c.resend_at.is_(None)) | (box_streams.c.resend_at < stale),
        )
    ).all()
    out = []
    for r in rows:
        ranges = missing_ranges(conn, r.agent_id, r.stream)
        if ranges:
            out.append(Due(r.agent_id, r.stream, int(r.through), ranges))
    return out


def mark_sent(conn: Connection, due: Due, now: datetime, *, receipt: bool) -> None:
    """Remember that a receipt (or a resend request) went out."""
    values = {"receipt_through": due.through, "receipt_at": now} if receipt else {"resend_at": now}
    conn.execute(update(box_streams).where(_key(due.agent_id, due.stream)).values(**values))


def utc_now() -> datetime:
    """Now, aware UTC (what the tables store)."""
    return datetime.now(UTC)
