"""Model rollout end to end, with real Mosquitto, the real station and two real agents.

`bear-station model publish` (its library call) offers a model at another input size to
both boxes while chips keep arriving; each box fetches it, checks it, re-embeds its
gallery (boxa takes the chips of a provisional bear it no longer has from the station's
media store) and switches between two batches: every chip is recorded exactly once,
the ones after the switch with the new model, and a known bear is still known.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from bearstation.cli import main as station_cli
from bearstation.tables import chip_media
from support.fleet import Box, Fleet, wait
from support.rollout_fleet import (
    box_rows,
    dropping,
    offer_of,
    publish,
    restore_galleries,
    station_model,
    visits,
)
from support.rollout_models import write_sized_embedder

#: The chips of the stranger's references on boxa (their SHA-256).
CHIPS = (
    "SELECT DISTINCT f.sha256 FROM reference_embeddings r JOIN files f ON f.path = r.source"
    " WHERE r.source LIKE 'north/cam-s/%'"
)
#: The known bear's visit on boxb: ended, decided as whom, with which model.
ENDED = "SELECT count(*) FROM encounters WHERE camera = 'cam-k' AND ended = 1"
WHO = (
    "SELECT i.name FROM encounters e JOIN individuals i ON i.id = e.individual_id"
    " WHERE e.camera = 'cam-k'"
)
MODELS = "SELECT DISTINCT model_sha256 FROM sightings WHERE file LIKE 'north/cam-k/%'"


def fetched(box: Box) -> set[str]:
    """The chips the box fetched from the station (by SHA-256)."""
    return {p.stem for p in (box.database.parent / "rollout-chips").glob("*.chip")}


def from_fleet(box: Box) -> set[str]:
    """The chips of the references the fleet gallery gave the box (other boxes' chips)."""
    rows = box_rows(box, "SELECT source FROM reference_embeddings WHERE source LIKE 'fleet:%'")
    return {str(source).removeprefix("fleet:") for (source,) in rows}


def stranger_chips_at_station(fleet: Fleet, files: set[str]) -> bool:
    with fleet.engine().connect() as conn:
        held = set(conn.execute(
            select(chip_media.c.file).where(chip_media.c.agent_id == "boxa")
        ).scalars())  # fmt: skip
    return files <= held


def recorded(box: Box, files: list[str]) -> bool:
    rows = box_rows(box, "SELECT path FROM files WHERE status = 'processed'")
    return set(files) <= {str(r[0]) for r in rows}


def check_each_chip_once(box: Box, dropped: list[str], old: str, new: str) -> None:
    """Every dropped file is in the ledger once and has one sighting; the sightings switch
    from the old model to the new one once, in the order they were recorded."""
    ledger = [str(r[0]) for r in box_rows(box, "SELECT path FROM files")]
    assert sorted(f for f in ledger if f in set(dropped)) == sorted(dropped)
    rows = box_rows(box, "SELECT file, model_sha256 FROM sightings ORDER BY id")
    ours = [(str(f), str(m)) for f, m in rows if f in set(dropped)]
    assert sorted(f for f, _ in ours) == sorted(dropped)
    models = [m for _, m in ours]
    assert set(models) == {old, new}, "chips were recorded on both sides of the switch"
    first_new = models.index(new)
    assert models[first_new:] == [new] * (len(models) - first_new)
    assert models[-1] == new


def test_a_published_model_reaches_both_boxes_and_the_next_chips_use_it(
    tmp_path: Path, mosquitto_binary: str
) -> None:
    new_model = write_sized_embedder(tmp_path / "release" / "pixel-48.onnx")
    fleet = Fleet(tmp_path, mosquitto_binary)
    restore_galleries(fleet)
    with fleet:
        boxa, boxb = fleet.boxes["boxa"], fleet.boxes["boxb"]
        assert boxa.agent is not None and boxa.agent.embedder is not None
        old = boxa.agent.embedder.card.model.sha256 or ""
        wait(lambda: station_model(fleet, "boxa") == station_model(fleet, "boxb") == old,
             "both boxes to report the model they run")  # fmt: skip
        # boxa meets a stranger: a provisional bear made of its chips, which reach the
        # station's media store; then the box loses the files.
        stranger = boxa.world.stranger[0]
        fleet.drop("boxa", "cam-s", stranger)
        files = {f"north/cam-s/{Path(r.path).name}" for r, _ in stranger}
        wait(lambda: stranger_chips_at_station(fleet, files), "the stranger's chips at the station")
        provisional = box_rows(boxa, "SELECT count(*) FROM reference_embeddings"
                                     " WHERE source LIKE 'north/cam-s/%'")[0][0]  # fmt: skip
        assert provisional, "the stranger became a provisional bear with references"
        for name in files:
            (boxa.world.traps / name).unlink()

        def counts() -> dict[str, object]:
            return {b.agent_id: box_rows(b, "SELECT count(*) FROM reference_embeddings")[0][0]
                    for b in (boxa, boxb)}  # fmt: skip

        # The fleet gallery's feed brings the stranger's references to boxb as well (both
        # boxes started from one gallery): count them once it has.
        wait(lambda: len(set(counts().values())) == 1, "the stranger's references on boxb")
        references = counts()

        with dropping(fleet, "boxa") as dropped_a, dropping(fleet, "boxb") as dropped_b:
            time.sleep(1.0)
            done = publish(fleet, new_model)
            assert done.boxes == ("boxa", "boxb") and done.running == ()
            wait(lambda: station_model(fleet, "boxa") == station_model(fleet, "boxb")
                 == done.sha256, "both boxes to switch", 40)  # fmt: skip
            time.sleep(1.5)  # chips go on arriving after the switch
        for box, dropped in ((boxa, dropped_a), (boxb, dropped_b)):
            stream = list(dropped)
            wait(partial(recorded, box, stream), f"{box.agent_id} to record its chips")
            check_each_chip_once(box, stream, old, done.sha256)
            assert box.agent is not None and box.agent.embedder is not None
            assert box.agent.embedder.card.model.name == "pixel-48"
            assert box.agent.live_status()["model"]["model"]["sha256"] == done.sha256  # type: ignore[index]
            gallery = box_rows(box, "SELECT model_sha256, count(*) FROM reference_embeddings"
                                    " GROUP BY 1")  # fmt: skip
            assert gallery == [(done.sha256, references[box.agent_id])]
            assert offer_of(fleet, box.agent_id, done.sha256) == ("switched", None)

        # The station served the chips of references whose images a box lacks: boxa's
        # stranger, and on both boxes what the fleet gallery brought from the other box.
        lost = {str(sha) for (sha,) in box_rows(boxa, CHIPS)}
        assert lost and fetched(boxa) == lost | from_fleet(boxa)
        assert fetched(boxb) == from_fleet(boxb)

        # The next visit of a known bear is decided with the new model, and still known.
        chips = visits(boxb, 1, 3)[0][1]
        fleet.drop("boxb", "cam-k", chips)
        wait(lambda: box_rows(boxb, ENDED) == [(1,)], "the known bear's visit to end")
        assert box_rows(boxb, WHO) == [(chips[0][0].individual,)]
        assert box_rows(boxb, MODELS) == [(done.sha256,)]
        result = CliRunner().invoke(station_cli, ["model", "status", "--db", fleet.db_url])
        assert result.exit_code == 0, result.output
        assert f"boxa: runs pixel-48 ({done.sha256[:12]}) since " in result.output
        assert f"boxb: runs pixel-48 ({done.sha256[:12]}) since " in result.output
        assert f"  pixel-48 ({done.sha256[:12]}, {done.size:,} bytes), published " in result.output
