"""One population across the fleet, end to end: real Mosquitto (one shared broker; two box
brokers bridged to the station's), real agents (`bearagent.app.Agent`) and the real
station (`bearstation.station.Station`).

- a stranger first seen at box A is box B's top candidate on its next visit, and box B
  makes no provisional bear of its own;
- naming it at the station (the fleet gallery's library call the desk makes) renames it
  on both boxes, and box B's next sighting carries the name;
- box B, offline (agent and broker down) while it is named, catches up on reconnect.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from bearstation.fleet.gallery import fleet_references, get_fleet_individual, name_individual
from bearstation.tables import encounters, individuals, unknown_alerts
from beartrain.synthetic import ChipRecord
from support.fleet import Box, Fleet, wait

Chips = list[tuple[ChipRecord, np.ndarray]]
STRANGER = "unknown-boxa-0001"


def visit(box: Box, k: int, hours: int, tag: str) -> Chips:
    """The stranger's encounter `k`, `hours` later than it was made, with sensor noise of
    its own and file names of this box (no two visits share a file)."""
    chips: Chips = []
    for j, (record, pixels) in enumerate(box.world.stranger[k]):
        when = record.captured_at + timedelta(hours=hours)
        noise = np.random.default_rng([hours, k, j]).integers(-3, 4, pixels.shape)
        shot = np.clip(pixels.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        name = f"{tag}_{when:%Y%m%d-%H%M%S}_{j:03d}.jpg"
        chips.append((ChipRecord(f"x/{name}", record.individual, "c", when, "e", j), shot))
    return chips


def query(box: Box, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(box.database, timeout=10) as db:
        return [tuple(r) for r in db.execute(sql, args).fetchall()]


def individual_row(box: Box, individual_id: str) -> tuple[Any, ...] | None:
    rows = query(
        box,
        "SELECT i.name, i.kind, (SELECT count(*) FROM reference_embeddings r"
        " WHERE r.individual_id = i.id) FROM individuals i WHERE i.id = ?",
        individual_id,
    )
    return rows[0] if rows else None


def ended(box: Box) -> list[dict[str, Any]]:
    """The box's ended encounters' decisions (with their candidates), oldest first."""
    rows = query(box, "SELECT decision FROM encounters WHERE ended = 1 ORDER BY started_at")
    return [json.loads(r[0]) for r in rows]


def first_stranger_reaches_b(fleet: Fleet) -> None:
    """The stranger at box A; its provisional bear and reference chips reach box B."""
    a, b = fleet.boxes["boxa"], fleet.boxes["boxb"]
    fleet.drop("boxa", "cam01", visit(a, 0, 0, "a"))
    wait(lambda: len(ended(a)) == 1, "box A's encounter with the stranger to end")
    assert ended(a)[0]["individual_id"] == STRANGER
    with fleet.engine().connect() as conn:
        wait(lambda: _station_references(fleet) > 0, "the stranger's reference chips at the "
             "station")  # fmt: skip
        assert get_fleet_individual(conn, STRANGER).provisional
    wait(
        lambda: (row := individual_row(b, STRANGER)) is not None and row[2] > 0,
        "box B to hold box A's stranger with its references",
    )


def _station_references(fleet: Fleet) -> int:
    with fleet.engine().connect() as conn:
        try:
            return len(fleet_references(conn, STRANGER))
        except Exception:  # not registered yet
            return 0


def b_meets_the_stranger(fleet: Fleet, hours: int, tag: str) -> dict[str, Any]:
    """The stranger's next visit at box B: its decision."""
    b = fleet.boxes["boxb"]
    before = len(ended(b))
    fleet.drop("boxb", f"cam{hours:02d}", visit(b, 1, hours, tag))
    wait(lambda: len(ended(b)) == before + 1, "box B's encounter with the stranger to end")
    return ended(b)[-1]


def name_at_the_station(fleet: Fleet, name: str) -> None:
    with fleet.engine().begin() as conn:
        name_individual(conn, STRANGER, name, "anna")


def station_names_in_b_sightings(fleet: Fleet) -> list[str | None]:
    with fleet.engine().connect() as conn:
        rows = conn.execute(
            select(individuals.c.name)
            .join(encounters, encounters.c.individual_ref == individuals.c.id)
            .where(encounters.c.agent_id == "boxb")
        )
        return [r.name for r in rows]


def test_a_stranger_of_box_a_is_box_b_s_top_candidate_and_named_once_for_both(
    tmp_path: Path, mosquitto_binary: str
) -> None:
    with Fleet(tmp_path, mosquitto_binary) as fleet:
        first_stranger_reaches_b(fleet)
        decision = b_meets_the_stranger(fleet, 2, "b1")
        assert decision["top_k"][0]["individual_id"] == STRANGER
        assert (decision["status"], decision["individual_id"]) == ("known", STRANGER)
        b = fleet.boxes["boxb"]
        assert query(b, "SELECT id FROM individuals WHERE id LIKE 'unknown-boxb-%'") == []
        with fleet.engine().connect() as conn:
            alerts = conn.execute(
                select(unknown_alerts.c.provisional_id).where(unknown_alerts.c.agent_id == "boxb")
            ).all()
        assert alerts == []
        name_at_the_station(fleet, "Bruno")
        for box in fleet.boxes.values():
            wait(
                lambda box=box: (individual_row(box, STRANGER) or ("",))[0] == "Bruno",  # type: ignore[misc]
                f"{box.agent_id} to call the stranger Bruno",
            )
        assert individual_row(b, STRANGER)[:2] == ("Bruno", "known")  # type: ignore[index]
        named = b_meets_the_stranger(fleet, 4, "b2")
        assert (named["individual_id"], named["name"]) == (STRANGER, "Bruno")
        wait(lambda: "Bruno" in station_names_in_b_sightings(fleet), "box B's sighting of "
             "Bruno at the station")  # fmt: skip


def test_box_b_offline_while_the_stranger_is_named_catches_up_on_reconnect(
    tmp_path: Path, mosquitto_binary: str
) -> None:
    with Fleet(tmp_path, mosquitto_binary, bridged=True) as fleet:
        first_stranger_reaches_b(fleet)
        b = fleet.boxes["boxb"]
        b.stop()
        b.broker.stop()
        name_at_the_station(fleet, "Bruno")
        wait(lambda: (individual_row(fleet.boxes["boxa"], STRANGER) or ("",))[0] == "Bruno",
             "box A to call the stranger Bruno")  # fmt: skip
        assert individual_row(b, STRANGER)[0] is None  # type: ignore[index]
        b.broker.start()
        b.start()
        wait(lambda: (individual_row(b, STRANGER) or ("",))[0] == "Bruno",
             "box B to catch up on reconnect", timeout=40)  # fmt: skip
        named = b_meets_the_stranger(fleet, 3, "b1")
        assert (named["individual_id"], named["name"]) == (STRANGER, "Bruno")
        assert query(b, "SELECT id FROM individuals WHERE id LIKE 'unknown-boxb-%'") == []
