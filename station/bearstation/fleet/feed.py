"""The fleet gallery's feed: every change, numbered 1, 2, 3 ... in commit order.

`append_change` takes the next number from the single ``fleet_state`` row with an
UPDATE, whose row lock is held until the caller's transaction ends: two writers
(the ingest and a desk action) take turns, so numbers have no gaps (a rolled-back
transaction gives its number back) and a change becomes visible only after every
change numbered below it. A box applies them in that order, each once.

Bodies (JSON) as stored:
- ``individual`` {individual_id, name, provisional, origin}: created or renamed;
- ``references`` {individual_id, model_sha256, sha256: [...]}: reference chips of an
  individual with embeddings under that model (the embeddings go out with the feed,
  read from the media store's ``embeddings``);
- ``merge`` {from, into, name, provisional}: `from` is now `into` (its final name);
- ``split`` {individual_id, from, name, provisional}: a merge undone at the station.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, func, select, update

from bearstation.ingest.sql import insert_ignore
from bearstation.tables import fleet_feed, fleet_state

FeedKind = Literal["individual", "references", "merge", "split"]


@dataclass(frozen=True)
class FeedChange:
    """One change of the fleet gallery, at its place in the feed."""

    seq: int
    kind: FeedKind
    body: dict[str, Any]
    created_at: datetime


def ensure_state(conn: Connection) -> None:
    """The one ``fleet_state`` row (the migration makes it; this keeps a copied database
    working)."""
    insert_ignore(conn, fleet_state, {"id": 1, "head": 0, "next_number": 1})


def append_change(conn: Connection, kind: FeedKind, body: dict[str, Any], now: datetime) -> int:
    """Add a change at the end of the feed (in the caller's transaction); returns its seq."""
    ensure_state(conn)
    conn.execute(
        update(fleet_state).where(fleet_state.c.id == 1).values(head=fleet_state.c.head + 1)
    )
    seq = int(conn.execute(select(fleet_state.c.head).where(fleet_state.c.id == 1)).scalar_one())
    conn.execute(fleet_feed.insert().values(seq=seq, kind=kind, body=body, created_at=now))
    return seq


def feed_head(conn: Connection) -> int:
    """The seq of the newest change (0: none yet)."""
    head = conn.execute(select(func.max(fleet_feed.c.seq))).scalar_one_or_none()
    return 0 if head is None else int(head)


def feed_since(conn: Connection, seq: int, limit: int = 1000) -> list[FeedChange]:
    """The changes after `seq`, oldest first, at most `limit`."""
    rows = conn.execute(
        select(fleet_feed).where(fleet_feed.c.seq > seq).order_by(fleet_feed.c.seq).limit(limit)
    )
    return [FeedChange(int(r.seq), r.kind, dict(r.body), r.created_at) for r in rows]
