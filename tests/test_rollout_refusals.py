"""A model that fails its checks is refused, and the box keeps the model it runs.

With real Mosquitto, the real station and two real agents: boxa is offered a model whose
copy at the station was damaged after it was published (its bytes no longer hash to the
offer's SHA-256), boxb a model whose card does not fit its graph. Each box reports the
refusal with its reason (the station shows it), removes what it fetched, keeps its
gallery as it was and goes on deciding chips with its own model. Publishing the damaged
model again repairs the station's copy, and the box takes it.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bearagent.modelcard import sha256_file
from bearstation.cli import main as station_cli
from support.fleet import Box, Fleet, wait
from support.rollout_fleet import box_rows, offer_of, publish, restore_galleries, station_model
from support.rollout_fleet import visits as known_visits
from support.rollout_models import write_sized_embedder


def keeps_its_model(box: Box, old: str, camera: str, first: int) -> None:
    """The box still runs `old`: its gallery, its state folder and its next chips."""
    assert box.agent is not None and box.agent.embedder is not None
    assert box.agent.embedder.card.model.sha256 == old
    assert box_rows(box, "SELECT DISTINCT model_sha256 FROM reference_embeddings") == [(old,)]
    assert box_rows(box, "SELECT count(*) FROM rollout_staged") == [(0,)]
    models = box.database.parent / "models"
    assert not models.exists() or list(models.iterdir()) == []
    chips = known_visits(box, 1, first)[0][1]
    box.world.traps.joinpath("north", camera).mkdir(parents=True)
    from support.agent_world import drop

    drop(box.world, camera, chips)
    query = f"SELECT DISTINCT model_sha256 FROM sightings WHERE file LIKE 'north/{camera}/%'"
    wait(lambda: box_rows(box, query) == [(old,)], f"{box.agent_id}'s next chips, old model")


def test_a_damaged_or_misfit_model_is_refused_and_the_box_keeps_its_own(
    tmp_path: Path, mosquitto_binary: str
) -> None:
    release = tmp_path / "release"
    damaged = write_sized_embedder(release / "pixel-64.onnx", 64, name="pixel-64")
    misfit = write_sized_embedder(release / "misfit.onnx", 32, name="misfit", card_size=48)
    # Its graph says 192 outputs, but 40 x 40 inputs make 300: only running it tells.
    broken = write_sized_embedder(release / "broken.onnx", 40, name="broken")
    fleet = Fleet(tmp_path, mosquitto_binary)
    restore_galleries(fleet)
    with fleet:
        boxa, boxb = fleet.boxes["boxa"], fleet.boxes["boxb"]
        assert boxa.agent is not None and boxa.agent.embedder is not None
        old = boxa.agent.embedder.card.model.sha256 or ""
        wait(lambda: station_model(fleet, "boxa") == station_model(fleet, "boxb") == old,
             "both boxes to report the model they run")  # fmt: skip
        fleet.stop_station()
        bad = publish(fleet, damaged, "boxa")
        data = bytearray(bad.path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # the station's copy goes bad after publishing
        bad.path.write_bytes(bytes(data))
        actual = sha256_file(bad.path)
        wrong = publish(fleet, misfit, "boxb")
        fleet.start_station()
        wait(lambda: offer_of(fleet, "boxa", bad.sha256)[0] == "refused", "boxa to refuse")
        wait(lambda: offer_of(fleet, "boxb", wrong.sha256)[0] == "refused", "boxb to refuse")

        assert offer_of(fleet, "boxa", bad.sha256)[1] == (
            f"the file fetched as {bad.sha256[:12]}... is damaged (its {bad.size} bytes hash to "
            f"{actual[:12]}..., not to {bad.sha256[:12]}...): the copy at the station or on the "
            "way is bad; publish the model again"
        )
        reason = offer_of(fleet, "boxb", wrong.sha256)[1]
        assert reason is not None and reason.endswith(
            "takes input of shape ['batch', 3, 32, 32], but its card says (N, 3, 48, 48). "
            "Export the model again."
        )
        assert station_model(fleet, "boxa") == station_model(fleet, "boxb") == old
        keeps_its_model(boxa, old, "cam-a", 1)
        keeps_its_model(boxb, old, "cam-b", 2)
        result = CliRunner().invoke(station_cli, ["model", "status", "--db", fleet.db_url])
        assert result.exit_code == 0, result.output
        assert f"boxb: runs pixel-test ({old[:12]}) since " in result.output
        assert f"; refused misfit ({wrong.sha256[:12]}): {reason}\n" in result.output

        # A model that fails its warm-up is refused too.
        failing = publish(fleet, broken, "boxb")
        wait(lambda: offer_of(fleet, "boxb", failing.sha256)[0] == "refused", "boxb to refuse")
        assert offer_of(fleet, "boxb", failing.sha256)[1] == (
            "model broken returned embeddings of shape (1, 300) for 1 chips; its card says "
            "size 192. Export it again."
        )
        assert station_model(fleet, "boxb") == old

        # Publishing the damaged model again repairs the station's copy; boxa takes it.
        again = publish(fleet, damaged, "boxa")
        assert sha256_file(again.path) == again.sha256 == bad.sha256
        wait(lambda: station_model(fleet, "boxa") == bad.sha256, "boxa to take it now", 30)
        assert offer_of(fleet, "boxa", bad.sha256) == ("switched", None)
