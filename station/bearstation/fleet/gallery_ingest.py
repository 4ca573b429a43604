"""What boxes report, fed into the fleet gallery (inside the ingest transaction).

- a box's individual the fleet does not know (its ``unknown`` alert's provisional
  bear, or a named one its sightings name) is registered under its fleet id
  (`bearagent.gallery.fleet_ids.fleet_id_of`: events sent before a box upgraded carry
  box-local ids); a named one whose name the fleet already has joins that individual
  (named ones join by name);
- a chip a box sends as a gallery reference (``reference_of``) becomes a reference
  chip of that individual, and goes to every box with its embedding;
- a correction made on a box's review page (create, rename, merge, and an undo of a
  rename) makes the same change in the fleet gallery.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from bearagent.gallery.errors import InvalidName
from bearagent.gallery.fleet_ids import fleet_id_of
from bearagent.gallery.individuals import validate_name
from bearagent.wire.payloads import PROVISIONAL_ID
from bearstation.fleet.feed import append_change
from bearstation.fleet.gallery import insert_individual, merge_individuals, name_individual
from bearstation.fleet.gallery_errors import FleetGalleryError
from bearstation.fleet.gallery_rows import find_individual, name_key
from bearstation.ingest.sql import insert_ignore
from bearstation.tables import corrections, embeddings, fleet_individuals, fleet_references

log = logging.getLogger(__name__)


def _usable(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return validate_name(name)
    except InvalidName:
        return None


def register_box_individual(
    conn: Connection, agent_id: str, individual_id: str, *, name: str | None,
    provisional: bool, seen_at: datetime,
) -> str:  # fmt: skip
    """The fleet id of box `agent_id`'s `individual_id`, registered if new; a named one
    whose name the fleet has joins that individual. Idempotent."""
    fleet_id = fleet_id_of(agent_id, individual_id)
    clean = _usable(name)
    provisional = provisional or PROVISIONAL_ID.match(fleet_id) is not None
    found = find_individual(conn, fleet_id)
    by = f"box {agent_id}"
    if found is None:
        holder = None if clean is None else _holder(conn, clean)
        if holder is None:
            insert_individual(conn, fleet_id, clean, provisional and clean is None, agent_id,
                              by, seen_at)  # fmt: skip
        else:  # only its merge goes to the boxes: the box that named it folds it in
            insert_individual(conn, fleet_id, None, False, agent_id, by, seen_at, feed=False)
            merge_individuals(conn, fleet_id, holder, by)
    elif found.merged_into is None and found.name is None and clean is not None:
        _name_or_join(conn, fleet_id, clean, by)
    return fleet_id


def _holder(conn: Connection, name: str) -> str | None:
    """The individual that has `name` in the fleet, if any."""
    holder = conn.execute(
        select(fleet_individuals.c.id).where(fleet_individuals.c.name_key == name_key(name))
    ).scalar_one_or_none()
    return None if holder is None else str(holder)


def _name_or_join(conn: Connection, fleet_id: str, name: str, by: str) -> None:
    """Name `fleet_id` `name`, or merge it into the individual that has the name."""
    holder = _holder(conn, name)
    if holder is None:
        name_individual(conn, fleet_id, name, by)
    elif holder != fleet_id:
        merge_individuals(conn, fleet_id, holder, by)


def add_box_reference(
    conn: Connection, agent_id: str, individual_id: str, sha256: str,
    model_sha256: str | None, received_at: datetime,
) -> bool:  # fmt: skip
    """Chip `sha256` (already in the media store) is a gallery reference of box
    `agent_id`'s `individual_id`: a reference chip of its fleet individual, sent to every
    box with its embedding under `model_sha256`. False when the chip was one already."""
    fleet_id = fleet_id_of(agent_id, individual_id)
    if find_individual(conn, fleet_id) is None:
        register_box_individual(conn, agent_id, individual_id, name=None, provisional=False,
                                seen_at=received_at)  # fmt: skip
    found = find_individual(conn, fleet_id)
    assert found is not None
    owner = found.merged_into or found.id
    added = insert_ignore(
        conn,
        fleet_references,
        {"sha256": sha256, "individual_id": owner, "first_individual_id": fleet_id,
         "agent_id": agent_id, "added_at": received_at},
    )  # fmt: skip
    if added and model_sha256 is not None and _has_embedding(conn, sha256, model_sha256):
        append_change(conn, "references", {"individual_id": owner, "model_sha256": model_sha256,
                                           "sha256": [sha256]}, received_at)  # fmt: skip
    return added


def add_chip_reference(
    conn: Connection, agent_id: str, body: dict[str, Any], received_at: datetime
) -> bool:
    """A stored ``chip`` message's ``reference_of`` (if any) into the fleet gallery."""
    individual = body.get("reference_of")
    if not individual:
        return False
    model = body["model"]["sha256"] if body.get("embedding") is not None else None
    return add_box_reference(conn, agent_id, str(individual), str(body["sha256"]).lower(),
                             model, received_at)  # fmt: skip


def _has_embedding(conn: Connection, sha256: str, model_sha256: str) -> bool:
    return (
        conn.execute(
            select(embeddings.c.dim).where(
                embeddings.c.sha256 == sha256, embeddings.c.model_sha256 == model_sha256
            )
        ).first()
        is not None
    )


def apply_box_correction(
    conn: Connection, agent_id: str, body: dict[str, Any], received_at: datetime
) -> None:
    """The fleet-gallery side of a box's correction (create, rename, merge, an undo of a
    rename; decisions about encounters change nothing here). A change the fleet gallery
    refuses (a name in use) is logged: the box keeps its own decision."""
    by = f"{body.get('by') or 'someone'} at {agent_id}"
    try:
        _apply(conn, agent_id, body, by, received_at)
    except FleetGalleryError as e:
        log.warning("correction %s of %s left the fleet gallery as it was: %s",
                    body.get("event_id"), agent_id, e)  # fmt: skip


def _apply(conn: Connection, agent_id: str, body: dict[str, Any], by: str, at: datetime) -> None:
    action, before, after = body["action"], body["before"], body["after"]
    if action == "undo":
        _undo(conn, agent_id, body, by)
        return
    if action not in ("create", "rename", "merge", "confirm", "assign"):
        return
    new_id = after.get("individual_id")
    if new_id is None or after.get("status") == "rejected":
        return
    name = after.get("name")
    provisional = after.get("status") == "unknown" and name is None
    target = register_box_individual(conn, agent_id, new_id, name=name,
                                     provisional=provisional, seen_at=at)  # fmt: skip
    old_id = before.get("individual_id")
    if action in ("rename", "merge") and old_id is not None and old_id != new_id:
        source = find_individual(conn, fleet_id_of(agent_id, old_id))
        if source is not None and source.merged_into is None and source.id != target:
            merge_individuals(conn, source.id, target, by)
    elif action == "rename" and old_id == new_id and _usable(name) is not None:
        _name_or_join(conn, target, str(_usable(name)), by)


def _undo(conn: Connection, agent_id: str, body: dict[str, Any], by: str) -> None:
    """An undo of a rename that kept the id names it back; other undos stay as they are
    in the fleet gallery (a merge the fleet made is undone with 'bear-station unlink')."""
    undone = conn.execute(
        select(corrections).where(
            corrections.c.event_id == body.get("undoes"), corrections.c.agent_id == agent_id
        )
    ).one_or_none()
    if undone is None or undone.action != "rename":
        return
    before, after = undone.before, undone.after
    old_name = _usable(before.get("name"))
    if before.get("individual_id") == after.get("individual_id") and old_name is not None:
        _name_or_join(conn, fleet_id_of(agent_id, str(after["individual_id"])), old_name, by)
