"""A switched model survives a restart; rolling back is publishing the previous model again.

With real Mosquitto, the real station and a real agent: boxa switches to a new model,
restarts and runs it still; then the model it ran before is published again: the box has
it (no fetch), re-embeds its gallery with it and switches back, and runs it after the
next restart. Offering a box the model it runs closes the offer as ``running``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from support.fleet import Box, Fleet, wait
from support.rollout_fleet import box_rows, offer_of, publish, restore_galleries, station_model
from support.rollout_models import write_sized_embedder
from support.subscriber import Subscriber


def runs(box: Box) -> str:
    assert box.agent is not None and box.agent.embedder is not None
    return box.agent.embedder.card.model.sha256 or ""


def restart(box: Box) -> None:
    box.stop()
    box.start()


def test_a_restart_keeps_the_model_and_publishing_the_previous_one_rolls_back(
    tmp_path: Path, mosquitto_binary: str, subscribe: Callable[..., Subscriber]
) -> None:
    new_model = write_sized_embedder(tmp_path / "release" / "pixel-48.onnx")
    fleet = Fleet(tmp_path, mosquitto_binary, boxes=("boxa",))
    restore_galleries(fleet)
    with fleet:
        box = fleet.boxes["boxa"]
        old = runs(box)
        wait(lambda: station_model(fleet, "boxa") == old, "boxa to report its model")
        new = publish(fleet, new_model)
        wait(lambda: station_model(fleet, "boxa") == new.sha256, "boxa to switch")
        restart(box)
        assert runs(box) == new.sha256
        assert box_rows(box, "SELECT DISTINCT model_sha256 FROM reference_embeddings") == [
            (new.sha256,)
        ]

        fetches = subscribe(fleet.station_broker, "bearid/boxa/fetch")
        back = publish(fleet, box.world.model)  # the model boxa ran before
        assert (back.sha256, back.running) == (old, ())
        wait(lambda: station_model(fleet, "boxa") == old, "boxa to roll back")
        assert fetches.drain() == [], "the box had the model: nothing was fetched"
        assert offer_of(fleet, "boxa", old) == ("switched", None)
        assert runs(box) == old
        assert box_rows(box, "SELECT DISTINCT model_sha256 FROM reference_embeddings") == [(old,)]
        assert box_rows(box, "SELECT path, sha256 FROM rollout_model") == [
            (str(box.world.model), old)
        ]
        restart(box)
        assert runs(box) == old

        again = publish(fleet, box.world.model)
        assert again.running == ("boxa",)
        wait(lambda: offer_of(fleet, "boxa", old)[0] == "running", "boxa to answer 'running'")
        time.sleep(0.5)
        assert runs(box) == old
