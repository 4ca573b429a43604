"""Offers as the box keeps them (``rollout_offers``): what was offered, and how it went.

Offers are ordered by the station's ``sent_at`` (one clock for the whole fleet): an offer
older than the newest one the box has acted on is a late repeat, answered with what
became of it, never acted on again; a newer one replaces whatever is in progress.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlite_utils

#: Where the box stands with an offered model.
OfferState = Literal["fetching", "verifying", "staging", "switched", "refused", "superseded"]
#: States an offer is still being worked on in (resumed after a restart).
UNFINISHED: tuple[OfferState, ...] = ("fetching", "verifying", "staging")


@dataclass(frozen=True)
class Offer:
    """A model the station offers: its file's SHA-256, name, size and card."""

    sha256: str
    name: str
    size: int
    card: dict[str, Any]
    chunk_size: int
    offered_at: datetime  # the station's sent_at

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> Offer:
        """An offer from a checked ``offer`` message (see the station schema)."""
        return cls(
            sha256=str(body["sha256"]),
            name=str(body["name"]),
            size=int(body["size"]),
            card=dict(body["card"]),
            chunk_size=int(body["chunk_size"]),
            offered_at=parse_time(str(body["sent_at"])),
        )


@dataclass(frozen=True)
class Recorded:
    """What became of an offer."""

    offer: Offer
    state: OfferState
    reason: str | None


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as an aware datetime (UTC when it names no offset)."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def record(db: sqlite_utils.Database, offer: Offer, state: OfferState) -> None:
    """Keep `offer` (replacing an older offer of the same file) in `state`. No commit."""
    db.execute(
        "INSERT INTO rollout_offers (sha256, name, size, card, chunk_size, offered_at, state,"
        " reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (sha256) DO UPDATE"
        " SET name = excluded.name, size = excluded.size, card = excluded.card,"
        " chunk_size = excluded.chunk_size, offered_at = excluded.offered_at,"
        " state = excluded.state, reason = NULL, updated_at = excluded.updated_at",
        [offer.sha256, offer.name, offer.size, json.dumps(offer.card), offer.chunk_size,
         offer.offered_at.astimezone(UTC).isoformat(), state, _now()],
    )  # fmt: skip


def set_state(
    db: sqlite_utils.Database, sha256: str, state: OfferState, reason: str | None = None
) -> None:
    """Move the offer of `sha256` to `state` (with the reason of a refusal). No commit."""
    db.execute(
        "UPDATE rollout_offers SET state = ?, reason = ?, updated_at = ? WHERE sha256 = ?",
        [state, reason, _now(), sha256],
    )


def supersede_others(db: sqlite_utils.Database, sha256: str) -> None:
    """Every unfinished offer but `sha256`'s is superseded. No commit."""
    marks = ",".join("?" * len(UNFINISHED))
    db.execute(
        f"UPDATE rollout_offers SET state = 'superseded', updated_at = ? WHERE sha256 != ?"
        f" AND state IN ({marks})",
        [_now(), sha256, *UNFINISHED],
    )


def newest_offered_at(db: sqlite_utils.Database) -> datetime | None:
    """When the newest offer the box has acted on was sent."""
    row = db.execute("SELECT max(offered_at) FROM rollout_offers").fetchone()
    return parse_time(str(row[0])) if row and row[0] is not None else None


def recorded(db: sqlite_utils.Database, sha256: str) -> Recorded | None:
    """The offer of `sha256` and what became of it, if it was ever offered."""
    rows = _select(db, "WHERE sha256 = ?", [sha256])
    return rows[0] if rows else None


def unfinished(db: sqlite_utils.Database) -> Recorded | None:
    """The newest offer still being worked on (after a restart: resume it)."""
    marks = ",".join("?" * len(UNFINISHED))
    rows = _select(db, f"WHERE state IN ({marks}) ORDER BY offered_at DESC LIMIT 1", UNFINISHED)
    return rows[0] if rows else None


def _select(db: sqlite_utils.Database, where: str, params: Any) -> list[Recorded]:
    cursor = db.execute(
        "SELECT sha256, name, size, card, chunk_size, offered_at, state, reason"
        f" FROM rollout_offers {where}",
        list(params),
    )
    return [
        Recorded(
            Offer(str(r[0]), str(r[1]), int(r[2]), json.loads(r[3]), int(r[4]), parse_time(r[5])),
            r[6],
            r[7],
        )
        for r in cursor.fetchall()
    ]


def _now() -> str:
    return datetime.now(UTC).isoformat()
