"""Every change the desk makes, as a library the pages and the ``bear-station`` commands call.

Decisions about an encounter (confirm, assign, create, reject, undo) belong to the box
that owns it: each becomes a waiting command (`bearstation.desk.commands`) that the
desk's tick sends to that box; the box applies it through its own review actions and
its ``correction`` settles it. Decisions about individuals (name, create, merge) are
the fleet gallery's (`bearstation.fleet.gallery`) and reach every box through its
feed. Each function runs in the caller's transaction and refuses, with words a
person can act on, what cannot be done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from bearagent.fleet.decision_payloads import REJECT_REASONS
from bearagent.gallery.fleet_ids import fleet_id_of
from bearstation.desk.commands import get_command, new_command, undone_by
from bearstation.desk.errors import DeskNotFound, DeskRefused
from bearstation.desk.queries import encounter_files
from bearstation.desk.views import CommandView, DeskUser
from bearstation.fleet import gallery
from bearstation.fleet.gallery_errors import UnknownFleetIndividual
from bearstation.tables import cameras, desk_commands, encounters, individuals


@dataclass(frozen=True)
class DeskResult:
    """What an action did, in a sentence, and the command it made (encounter actions)."""

    summary: str
    command: CommandView | None = None
    individual_id: str | None = None


def _encounter(conn: Connection, agent_id: str, encounter_id: str) -> Row[Any]:
    """The encounter's row, locked for this transaction (PostgreSQL)."""
    row = conn.execute(
        select(encounters, cameras.c.site, cameras.c.camera,
               individuals.c.individual_id.label("own_id"))
        .join(cameras, cameras.c.id == encounters.c.camera_id)
        .outerjoin(individuals, individuals.c.id == encounters.c.individual_ref)
        .where(encounters.c.agent_id == agent_id, encounters.c.encounter_id == encounter_id)
        .with_for_update(of=encounters)
    ).one_or_none()  # fmt: skip
    if row is None:
        raise DeskNotFound(
            f"the station has no encounter {encounter_id!r} of box {agent_id!r}: see the "
            "queue ('bear-station encounters list')"
        )
    return row


def _decidable(
    conn: Connection, agent_id: str, encounter_id: str, *, rejected_ok: bool = False
) -> Row[Any]:
    """The encounter, when a decision about it can be made now (else the refusal)."""
    row = _encounter(conn, agent_id, encounter_id)
    named = f"encounter {encounter_id} of {agent_id}"
    if row.state == "merged":
        raise DeskRefused(f"{named} was merged into encounter {row.merged_into}: decide that one")
    waiting = conn.execute(
        select(desk_commands.c.command_id).where(
            desk_commands.c.agent_id == agent_id,
            desk_commands.c.encounter_id == encounter_id,
            desk_commands.c.state == "waiting",
        )
    ).first()
    if waiting is not None:
        pending = get_command(conn, waiting.command_id)
        raise DeskRefused(
            f"{named} has a decision waiting for {agent_id} ({pending.what}, by {pending.by}): "
            "wait until the box answers it"
        )
    if row.status == "rejected" and not rejected_ok:
        raise DeskRefused(f"every chip of {named} is rejected: undo that first")
    return row


def _sent(row: Row[Any], summary: str, command: CommandView) -> DeskResult:
    place = f"{row.site}/{row.camera}"
    text = summary.replace("{where}", f"encounter {row.encounter_id} of {row.agent_id} ({place})")
    return DeskResult(f"{text}: waiting for {row.agent_id}", command)


def _root(conn: Connection, ref: str) -> gallery.FleetIndividual:
    found = gallery.get_fleet_individual(conn, ref)
    if found.merged_into is None:
        return found
    return gallery.get_fleet_individual(conn, found.merged_into)


def _now() -> datetime:
    return datetime.now(UTC)


# --- decisions about an encounter (sent to its box) ---------------------------------------


def confirm(conn: Connection, agent_id: str, encounter_id: str, who: DeskUser) -> DeskResult:
    """Accept the proposal: the encounter's own individual (a new bear, for an unknown one)
    or, in review, its best candidate."""
    row = _decidable(conn, agent_id, encounter_id)
    if row.own_id is not None:
        own = fleet_id_of(agent_id, row.own_id)
        label = _root(conn, own).label if _known(conn, own) else own
        what = f"confirm {{where}}{' as a new bear,' if row.status == 'unknown' else ' as'} {label}"
    else:
        ids = [fleet_id_of(agent_id, str(c["individual_id"])) for c in row.candidates or []]
        best = next((i for i in ids if _known(conn, i)), None)
        if best is None:
            raise DeskRefused(
                f"encounter {encounter_id} of {agent_id} has no candidate to confirm: assign "
                "it to an individual or create a new one"
            )
        what = f"confirm {{where}} as {_root(conn, best).label}"
    command = new_command(conn, who, agent_id, encounter_id, "confirm", _now())
    return _sent(row, what, command)


def assign(
    conn: Connection, agent_id: str, encounter_id: str, individual: str, who: DeskUser
) -> DeskResult:
    """The encounter is `individual` (an id or a name of the fleet gallery)."""
    row = _decidable(conn, agent_id, encounter_id)
    target = _root(conn, individual)
    own_id = None if row.own_id is None else fleet_id_of(agent_id, row.own_id)
    if own_id is not None and _known(conn, own_id):
        own = _root(conn, own_id)
        if own.id == target.id:
            raise DeskRefused(f"the encounter is already {target.label}: use confirm")
        if row.status == "unknown" and own.provisional and target.provisional:
            raise DeskRefused(
                f"{own.id} and {target.id} are both provisional: name one of them first, then "
                "assign the encounter to it"
            )
    command = new_command(conn, who, agent_id, encounter_id, "assign", _now(),
                          individual_id=target.id, name=target.name)  # fmt: skip
    return _sent(row, f"assign {{where}} to {target.label}", command)


def create(
    conn: Connection, agent_id: str, encounter_id: str, name: str, who: DeskUser
) -> DeskResult:
    """The encounter is a bear the fleet does not know yet: a new individual called `name`
    (the box makes it and reports it to the fleet gallery)."""
    row = _decidable(conn, agent_id, encounter_id)
    clean = gallery.checked_name(name)
    try:
        holder = gallery.get_fleet_individual(conn, clean)
    except UnknownFleetIndividual:
        holder = None
    if holder is not None:
        raise DeskRefused(
            f"the name {clean!r} is already used by {holder.id} in the fleet gallery: assign "
            "the encounter to it, or choose another name"
        )
    command = new_command(conn, who, agent_id, encounter_id, "create", _now(), name=clean)
    return _sent(row, f"new individual {clean!r} from {{where}}", command)


def reject(
    conn: Connection,
    agent_id: str,
    encounter_id: str,
    reason: str,
    who: DeskUser,
    files: Sequence[str] | None = None,
) -> DeskResult:
    """Chips (`files`; all of them when None) are not a bear, or unusable."""
    if reason not in REJECT_REASONS:
        raise DeskRefused(f"unknown reason {reason!r}: use {' or '.join(REJECT_REASONS)}")
    row = _decidable(conn, agent_id, encounter_id, rejected_ok=files is not None)
    held = dict(encounter_files(conn, agent_id, encounter_id))
    if files is not None:
        missing = [f for f in files if f not in held]
        if missing:
            raise DeskRefused(f"encounter {encounter_id} of {agent_id} has no chip {missing[0]!r}")
        if not [f for f in files if not held[f]]:
            raise DeskRefused("select the chips to reject first")
    count = sum(1 for f, gone in held.items() if not gone and (files is None or f in files))
    command = new_command(conn, who, agent_id, encounter_id, "reject", _now(),
                          files=None if files is None else list(files), note=reason)  # fmt: skip
    why = reason.replace("_", " ")
    return _sent(row, f"reject {count} chip(s) of {{where}} as {why}", command)


def undo(conn: Connection, command_id: str, who: DeskUser) -> DeskResult:
    """Reverse what the box did for desk decision `command_id` (its box undoes the review
    action that applied it, which must be its last one still in force)."""
    try:
        done = get_command(conn, command_id.strip())
    except KeyError:
        raise DeskNotFound(
            f"no desk decision {command_id!r}: see 'bear-station encounters decisions'"
        ) from None
    if done.state == "waiting":
        raise DeskRefused(
            f"decision {done.command_id} is still waiting for {done.agent_id}: undo it once "
            "the box has applied it"
        )
    if done.state == "refused":
        raise DeskRefused(
            f"decision {done.command_id} was refused by {done.agent_id}: there is nothing to undo"
        )
    later = undone_by(conn, done.command_id)
    if later is not None:
        raise DeskRefused(
            f"decision {done.command_id} is undone already (decision {later.command_id})"
        )
    row = _decidable(conn, done.agent_id, done.encounter_id, rejected_ok=True)
    command = new_command(conn, who, done.agent_id, done.encounter_id, "undo", _now(),
                          undoes=done.command_id)  # fmt: skip
    return _sent(row, f"undo {done.what} of {{where}}", command)


def _known(conn: Connection, individual_id: str) -> bool:
    try:
        gallery.get_fleet_individual(conn, individual_id)
    except UnknownFleetIndividual:
        return False
    return True


# --- decisions about individuals (the fleet gallery's; every box hears of them) -----------


def name_individual(conn: Connection, ref: str, name: str, who: DeskUser) -> DeskResult:
    """Give individual `ref` the name `name` (a provisional one becomes a named one)."""
    before = _root(conn, ref)
    after = gallery.name_individual(conn, ref, name, who.name)
    was = f" (was {before.name!r})" if before.name and before.name != after.name else ""
    return DeskResult(
        f"named {after.id} {after.name!r}{was}; every box hears of it through the gallery feed",
        individual_id=after.id,
    )


def create_individual(
    conn: Connection, name: str, who: DeskUser, station_id: str | None = None
) -> DeskResult:
    """A new named individual in the fleet gallery (without chips yet)."""
    new_id = gallery.create_individual(conn, name, who.name, station_id=station_id)
    found = gallery.get_fleet_individual(conn, new_id)
    return DeskResult(f"created {new_id} {found.name!r} in the fleet gallery",
                      individual_id=new_id)  # fmt: skip


def merge_individuals(conn: Connection, source: str, target: str, who: DeskUser) -> DeskResult:
    """`source` is really `target`: one individual from now on, on every box."""
    moved = gallery.get_fleet_individual(conn, source)
    into = gallery.merge_individuals(conn, source, target, who.name)
    return DeskResult(
        f"merged {moved.label} into {into.label} ({into.references} references); every box "
        "hears of it through the gallery feed",
        individual_id=into.id,
    )
