"""One fleet-gallery change applied to this box's gallery (inside the caller's transaction).

The station's fleet gallery owns individuals' ids, names and merges; every box holds
a replica. Each change kind is applied so that applying it again, or on the box that
made it, changes nothing:

- ``individual`` {individual_id, name, provisional, origin}: create it, or give it the
  fleet's name and kind. A name this box uses for another individual (a race the
  station settles with a merge that follows) is parked on that one as
  ``"<its name> (<its id>)"``;
- ``references`` {individual_id, model_sha256, references: [{sha256, embedding}]}: add
  the embeddings as references (source ``fleet:<sha256>``) when they are of this box's
  model; chips this box processed itself, references it has, and individuals it does
  not hold are skipped, and so is anything beyond ``max_references``;
- ``merge`` {from, into, name, provisional}: everything of ``from`` becomes ``into``'s
  (created first if this box lacks it) and ``from`` goes. While one of this box's
  encounters with ``from`` is still open the merge waits (`MergeWaits`): the encounter
  would write the retired id again, as on the review page;
- ``split`` {individual_id, from, name, provisional}: a merge undone at the station:
  the individual comes back with the rows the merge moved here (those still with
  ``from``); a box that never had it has nothing to do.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from bearagent.errors import BearIdError
from bearagent.fleet.feed_state import (
    has_reference,
    merged_into,
    record_merge,
    record_references,
    take_merge,
)
from bearagent.gallery.errors import GalleryError
from bearagent.gallery.individuals import MAX_NAME_LENGTH, find_by_name, validate_name
from bearagent.gallery.references import add_references, gallery_models
from bearagent.gallery.schema import bump_generation
from bearagent.gallery.writes import now_iso, reserve_id

log = logging.getLogger(__name__)

#: The ``source`` of a reference that came from the fleet gallery: ``fleet:<chip sha256>``.
FLEET_SOURCE = "fleet:"


class FeedChangeInvalid(BearIdError):
    """A feed change this box cannot read (it is skipped, with the reason logged)."""


class MergeWaits(BearIdError):
    """A merge that must wait until this box's open encounters with its source end."""


@dataclass(frozen=True)
class FeedContext:
    """What applying a change needs to know about this box."""

    agent_id: str
    model_sha256: str  # the model the box runs: references of other models are skipped
    max_references: int = 50


def apply_change(
    db: sqlite_utils.Database, seq: int, change: dict[str, Any], ctx: FeedContext
) -> str:
    """Apply one change; returns what it did (for the log). Raises `MergeWaits` or
    `FeedChangeInvalid`."""
    kind = change.get("kind")
    if kind == "individual":
        return _individual(db, change)
    if kind == "references":
        return _references(db, seq, change, ctx)
    if kind == "merge":
        return _merge(db, seq, change)
    if kind == "split":
        return _split(db, change)
    return f"skipped: this box does not know feed changes of kind {kind!r}"


def _text(change: dict[str, Any], key: str) -> str:
    value = change.get(key)
    if not isinstance(value, str) or not value:
        raise FeedChangeInvalid(f"feed change {change.get('seq')}: {key!r} is not an id")
    return value


def _fleet_name(change: dict[str, Any]) -> str | None:
    name = change.get("name")
    if name is None:
        return None
    try:
        return validate_name(str(name))
    except GalleryError as e:
        raise FeedChangeInvalid(f"feed change {change.get('seq')}: {e}") from None


def _individual(db: sqlite_utils.Database, change: dict[str, Any]) -> str:
    individual_id = _text(change, "individual_id")
    name, kind = _fleet_name(change), "provisional" if change.get("provisional") else "known"
    return _ensure(db, individual_id, name, kind, str(change.get("origin") or "the station"))


def _ensure(db: sqlite_utils.Database, individual_id: str, name: str | None, kind: str,
            origin: str) -> str:  # fmt: skip
    """Create `individual_id` or give it `name` and `kind`; returns what changed."""
    row = db.execute("SELECT name, kind FROM individuals WHERE id = ?", [individual_id]).fetchone()
    if row is not None and (row[0], row[1]) == (name, kind):
        return f"{individual_id}: already as the fleet has it"
    if name is not None:
        _park_name(db, name, individual_id)
    if row is None:
        db.execute(
            "INSERT INTO individuals (id, name, kind, created, notes) VALUES (?, ?, ?, ?, ?)",
            [individual_id, name, kind, now_iso(), f"from the fleet gallery ({origin})"],
        )
        reserve_id(db, individual_id)  # this box never mints it again (a reinstalled box)
        bump_generation(db, append_only=True)
        return f"{individual_id}: created ({name or kind})"
    db.execute(
        "UPDATE individuals SET name = ?, kind = ? WHERE id = ?", [name, kind, individual_id]
    )
    bump_generation(db)  # names and kinds live in the index: reload it
    return f"{individual_id}: now {name or 'unnamed'} ({kind})"


def _park_name(db: sqlite_utils.Database, name: str, owner: str) -> None:
    """Free `name` for `owner`: another individual holding it here gets a parked name."""
    holder = find_by_name(db, name)
    if holder is None or holder == owner:
        return
    (own,) = db.execute("SELECT name FROM individuals WHERE id = ?", [holder]).fetchone()
    parked, n = f"{own} ({holder})"[:MAX_NAME_LENGTH], 2
    while find_by_name(db, parked) is not None:
        parked, n = f"{own} ({holder}, {n})"[:MAX_NAME_LENGTH], n + 1
    db.execute("UPDATE individuals SET name = ? WHERE id = ?", [parked, holder])
    log.warning(
        "the fleet gallery names %s %r, which %s had here: %s is %r until the station "
        "settles it",
        owner, name, holder, holder, parked,
    )  # fmt: skip


def _references(
    db: sqlite_utils.Database, seq: int, change: dict[str, Any], ctx: FeedContext
) -> str:
    individual_id, model = _text(change, "individual_id"), _text(change, "model_sha256")
    if model != ctx.model_sha256 or gallery_models(db) not in ([], [model]):
        return f"{individual_id}: references of model {model[:12]} skipped (not this box's)"
    if db.execute("SELECT 1 FROM individuals WHERE id = ?", [individual_id]).fetchone() is None:
        return f"{individual_id}: references skipped (not in this gallery)"
    (held,) = db.execute(
        "SELECT count(*) FROM reference_embeddings WHERE individual_id = ?", [individual_id]
    ).fetchone()
    room = ctx.max_references - int(held)
    vectors: list[np.ndarray] = []
    sources: list[str] = []
    for ref in change.get("references") or []:
        sha, vector = _reference(change, ref)
        if len(vectors) >= room or _held(db, sha):
            continue
        vectors.append(vector)
        sources.append(FLEET_SOURCE + sha)
    if not vectors:
        return f"{individual_id}: no new references"
    try:
        add_references(db, individual_id, np.stack(vectors), model, sources)
    except GalleryError as e:  # embeddings of another size: the fleet's model is not ours
        raise FeedChangeInvalid(f"feed change {change.get('seq')}: {e}") from None
    record_references(db, individual_id, seq, [s[len(FLEET_SOURCE) :] for s in sources])
    return f"{individual_id}: {len(vectors)} reference(s) added"


def _reference(change: dict[str, Any], ref: Any) -> tuple[str, np.ndarray]:
    try:
        sha = str(ref["sha256"])
        raw = base64.b64decode(ref["embedding"], validate=True)
        vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        raise FeedChangeInvalid(f"feed change {change.get('seq')}: a bad reference ({e})") from e
    if len(sha) != 64 or vector.size == 0 or not np.all(np.isfinite(vector)):
        raise FeedChangeInvalid(f"feed change {change.get('seq')}: a bad reference {sha!r}")
    return sha, vector


def _held(db: sqlite_utils.Database, sha256: str) -> bool:
    """Whether this box has the chip already: from the feed, or a file it processed."""
    if has_reference(db, sha256):
        return True
    return db.execute("SELECT 1 FROM files WHERE sha256 = ?", [sha256]).fetchone() is not None


def _merge(db: sqlite_utils.Database, seq: int, change: dict[str, Any]) -> str:
    source, target = _text(change, "from"), _text(change, "into")
    name, kind = _fleet_name(change), "provisional" if change.get("provisional") else "known"
    if source == target:
        return f"{source}: merged into itself (nothing to do)"
    exists = db.execute("SELECT 1 FROM individuals WHERE id = ?", [source]).fetchone()
    if exists is None:
        _ensure(db, target, name, kind, "a merge")
        return f"{source}: not here; {target} as the fleet has it"
    still_open = db.execute(
        "SELECT id FROM encounters WHERE individual_id = ? AND ended = 0 LIMIT 1", [source]
    ).fetchone()
    if still_open is not None:
        raise MergeWaits(
            f"the merge of {source} into {target} waits: encounter {still_open[0]} with "
            f"{source} is still open on this box"
        )
    if db.execute("SELECT 1 FROM individuals WHERE id = ?", [target]).fetchone() is None:
        _ensure(db, target, None, kind, "a merge")
    moved: dict[str, list[Any]] = {}
    for table in _MOVED:  # every row keyed by `id`
        rows = db.execute(f"SELECT id FROM {table} WHERE individual_id = ?", [source])
        moved[table] = [r[0] for r in rows.fetchall()]
        db.execute(
            f"UPDATE {table} SET individual_id = ? WHERE individual_id = ?", [target, source]
        )
    db.execute("DELETE FROM individuals WHERE id = ?", [source])
    _ensure(db, target, name, kind, "a merge")
    record_merge(db, source, target, seq, moved)
    bump_generation(db)
    return f"{source}: merged into {target}"


#: What a merge moves (and a split moves back).
_MOVED = ("reference_embeddings", "sightings", "encounters")


def _split(db: sqlite_utils.Database, change: dict[str, Any]) -> str:
    individual_id, source = _text(change, "individual_id"), _text(change, "from")
    name, kind = _fleet_name(change), "provisional" if change.get("provisional") else "known"
    merge = take_merge(db, individual_id)
    if merge is None:
        return f"{individual_id}: never merged here (nothing to split)"
    target, moved = merge
    target = merged_into(db, target) or target  # where a later merge took it
    if db.execute("SELECT 1 FROM individuals WHERE id = ?", [individual_id]).fetchone() is None:
        _ensure(db, individual_id, None, kind, f"a split from {source}")
    for table in _MOVED:
        for key in moved.get(table, []):
            db.execute(
                f"UPDATE {table} SET individual_id = ? WHERE id = ? AND individual_id = ?",
                [individual_id, key, target],
            )
    _ensure(db, individual_id, name, kind, f"a split from {source}")
    bump_generation(db)
    return f"{individual_id}: split from {target}"
