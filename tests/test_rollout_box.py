"""The box's side of the rollout: resumable downloads, what a transfer asks for, the model
in use across restarts, the checks of an offered model, and how a running agent (on a
real broker, the test sending what a station would) answers offers: late repeats, newer
offers, and a gallery whose images are gone."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bearagent.modelcard import load_model_card
from bearagent.rollout.errors import ModelRefused, RolloutError
from bearagent.rollout.files import Download, model_path
from bearagent.rollout.switch import ModelInUse, model_in_use, set_model_in_use
from bearagent.rollout.tables import ensure_schema
from bearagent.rollout.transfers import WINDOW, Transfer
from bearagent.rollout.verify import open_offered, write_offered_card
from bearagent.runtime import RuntimeConfig
from bearagent.store import open_database, transaction
from support.agent_world import make_world
from support.broker import Mosquitto
from support.fleet import Box, wait
from support.rollout_fleet import PahoLink, box_rows
from support.rollout_models import write_sized_embedder
from support.subscriber import Subscriber


def test_a_download_grows_in_order_and_is_checked_before_use(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    sha = hashlib.sha256(data).hexdigest()
    download = Download(tmp_path / "models" / f"{sha}.onnx", sha)
    assert download.length() == 0
    assert download.append(0, data[:1000])
    assert not download.append(2000, data[2000:3000])  # after a gap: asked for again
    assert not download.append(0, data[:1000])  # a repeat
    assert download.append(1000, data[1000:])
    assert download.finish(len(data), "advice") == download.final
    assert download.final.read_bytes() == data and not download.part.exists()

    bad = Download(tmp_path / "models" / f"{'0' * 64}.onnx", "0" * 64)
    bad.append(0, data)
    with pytest.raises(ModelRefused) as e:
        bad.finish(len(data), "publish it again")
    assert str(e.value) == (
        f"the file fetched as 000000000000... is damaged (its {len(data)} bytes hash to "
        f"{sha[:12]}..., not to 000000000000...): publish it again"
    )
    assert not bad.part.exists() and not bad.final.exists()


def test_a_transfer_asks_window_by_window_and_again_after_a_stall(tmp_path: Path) -> None:
    transfer = Transfer(Download(tmp_path / "f", "a" * 64), size=10_000, window=4000)
    assert transfer.requests(0.0) == [(0, 4000)]
    assert transfer.requests(1.0) == []  # asked, nothing new yet
    transfer.receive(0, b"x" * 1000, 10_000, 1.5)
    assert transfer.requests(1.6) == []
    transfer.receive(1000, b"x" * 1000, 10_000, 1.7)  # half of the window is here
    assert transfer.requests(1.8) == [(4000, 4000)]
    transfer.receive(4000, b"x" * 1000, 10_000, 1.9)  # after a gap: dropped
    assert transfer.download.length() == 2000
    assert transfer.requests(5.0, stall_s=3.0) == [(2000, 4000)]  # stalled: from what is here
    missing = Transfer(Download(tmp_path / "g", "b" * 64))  # a chip: its size comes later
    assert missing.requests(0.0) == [(0, WINDOW)]
    missing.receive(0, b"", 0, 1.0)  # the station holds no such file
    assert missing.missing and missing.requests(100.0) == []


def test_the_model_in_use_survives_a_restart_unless_the_configuration_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configured = write_sized_embedder(tmp_path / "cfg" / "a.onnx", 32, name="a")
    rolled = write_sized_embedder(tmp_path / "state" / "models" / "b.onnx", 48, name="b")
    database = tmp_path / "state" / "bearagent.db"
    runtime = RuntimeConfig(model=configured)
    assert model_in_use(runtime, database) == runtime  # no database yet
    db = open_database(database)
    ensure_schema(db)
    assert model_in_use(runtime, database) == runtime  # never switched
    with transaction(db):
        set_model_in_use(db, ModelInUse(rolled, "b" * 64, "b", str(configured)))
    assert model_in_use(runtime, database).model == rolled
    other = RuntimeConfig(model=tmp_path / "cfg" / "c.onnx")
    assert model_in_use(other, database) == other  # a model set by hand since wins
    assert "the configured model runs" in caplog.text
    rolled.unlink()
    with pytest.raises(RolloutError) as e:
        model_in_use(runtime, database)
    assert str(e.value) == (
        f"the model this box switched to, {rolled} (b), is gone: restore it, or set "
        "runtime.model to the model to run (then `bearagent gallery reembed`)"
    )
    db.conn.close()


def test_an_offered_card_and_runtime_are_checked(tmp_path: Path) -> None:
    model = write_sized_embedder(tmp_path / "a" / "m.onnx")
    card = load_model_card(model).model_dump(mode="json")
    copy = tmp_path / "models" / "m.onnx"
    copy.parent.mkdir()
    shutil.copy(model, copy)
    with pytest.raises(ModelRefused) as e:
        write_offered_card(copy, card, "f" * 64)
    assert str(e.value) == (
        f"the offer's card names SHA-256 {card['model']['sha256'][:12]}..., the offered file is "
        "ffffffffffff...: publish the model again with the card written by bear-export"
    )
    with pytest.raises(ModelRefused) as e:
        open_offered(copy, RuntimeConfig(model=copy, backend="tensorrt"))
    assert str(e.value) == (
        "this box runs runtime.backend = 'tensorrt': a TensorRT engine is built on the box "
        "(`bear-export --trt`), it cannot be rolled out; switch the box to 'onnxruntime' or "
        "install the new engine by hand"
    )
    write_offered_card(copy, card, card["model"]["sha256"])
    embedder = open_offered(copy, RuntimeConfig(model=copy))
    assert embedder.card.model.sha256 == card["model"]["sha256"]
    embedder.close()


# -- a running agent; the test sends what a station would ------------------------------


def station_message(channel: str, body: dict[str, Any], sent_at: datetime) -> str:
    """A station message to boxa, as `bearstation.fleet.outbound.Outbound` writes it."""
    return json.dumps({"schema_version": 3, "event": channel, "message_id": str(uuid.uuid4()),
                       "station_id": "hq", "agent_id": "boxa", "sent_at": sent_at.isoformat(),
                       **body})  # fmt: skip


def offer_body(model: Path) -> dict[str, Any]:
    card = load_model_card(model)
    return {"sha256": card.model.sha256, "name": card.model.name, "size": model.stat().st_size,
            "card": card.model_dump(mode="json"), "chunk_size": 65536}  # fmt: skip


def fetched_before(model: Path, state: Path) -> str:
    """Put `model` where the box keeps fetched models (no fetch needed); its SHA-256."""
    sha = load_model_card(model).model.sha256 or ""
    model_path(state, sha).parent.mkdir(exist_ok=True)
    shutil.copy(model, model_path(state, sha))
    return sha


@pytest.fixture
def box(tmp_path: Path, broker: Mosquitto) -> Iterator[Box]:
    one = Box("boxa", make_world(tmp_path), broker)
    one.start()
    yield one
    one.stop()


def reports(sub: Subscriber) -> list[tuple[str, str, str | None]]:
    return [(m.json()["sha256"][:8], m.json()["state"], m.json()["reason"]) for m in sub.drain()]


def offered(box: Box) -> dict[str, tuple[str, str | None]]:
    rows = box_rows(box, "SELECT sha256, state, reason FROM rollout_offers")
    return {str(s)[:8]: (str(st), r if r is None else str(r)) for s, st, r in rows}


def test_late_repeats_are_answered_and_newer_offers_replace_older(
    tmp_path: Path, box: Box, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    state = box.database.parent
    misfit = write_sized_embedder(tmp_path / "r" / "misfit.onnx", 32, name="misfit", card_size=48)
    far = write_sized_embedder(tmp_path / "r" / "far.onnx", 64, name="far")
    near = write_sized_embedder(tmp_path / "r" / "near.onnx", 48, name="near")
    misfit_sha = fetched_before(misfit, state)
    sub = subscribe(broker, "bearid/boxa/model")
    link = PahoLink(broker)
    topic = "bearid-station/boxa/offer"
    t0 = datetime.now(UTC)
    try:
        link.publish(topic, station_message("offer", offer_body(misfit), t0))
        wait(lambda: offered(box).get(misfit_sha[:8], ("",))[0] == "refused", "the refusal")
        reason = offered(box)[misfit_sha[:8]][1]
        assert reason is not None and reason.endswith("Export the model again.")
        sub.drain()
        link.publish(topic, station_message("offer", offer_body(misfit), t0 - timedelta(1)))
        wait(lambda: reports(sub) == [(misfit_sha[:8], "refused", reason)], "the same answer")

        far_sha = load_model_card(far).model.sha256 or ""
        link.publish(topic, station_message("offer", offer_body(far), t0 + timedelta(1)))
        wait(lambda: offered(box).get(far_sha[:8]) == ("fetching", None), "fetching far")
        near_sha = load_model_card(near).model.sha256 or ""
        link.publish(topic, station_message("offer", offer_body(near), t0 + timedelta(2)))
        wait(lambda: offered(box).get(near_sha[:8]) == ("fetching", None), "fetching near")
        assert offered(box)[far_sha[:8]] == ("superseded", None)
        sub.drain()
        link.publish(topic, station_message("offer", offer_body(far), t0 + timedelta(1)))
        wait(lambda: box.agent is not None and box.agent.live_status()["model"]["offer"]  # type: ignore[index]
             ["sha256"] == near_sha, "near to stay the offer in progress")  # fmt: skip
        assert [r for r in reports(sub) if r[0] == far_sha[:8]] == []
    finally:
        link.close()


def test_a_gallery_whose_images_are_gone_keeps_its_model(
    tmp_path: Path, box: Box, broker: Mosquitto
) -> None:
    gone = sorted((tmp_path / "enrol").rglob("*.jpg"))[0]
    gone.unlink()
    near = write_sized_embedder(tmp_path / "r" / "near.onnx", 48, name="near")
    sha = fetched_before(near, box.database.parent)
    old = box_rows(box, "SELECT model_sha256, count(*) FROM reference_embeddings GROUP BY 1")
    link = PahoLink(broker)
    try:
        link.publish("bearid-station/boxa/offer",
                     station_message("offer", offer_body(near), datetime.now(UTC)))  # fmt: skip
        wait(lambda: offered(box).get(sha[:8], ("",))[0] == "refused", "the refusal")
    finally:
        link.close()
    assert offered(box)[sha[:8]][1] == (
        f"1 reference image(s) of the gallery cannot be read on this box and the station cannot "
        f"serve them (e.g. {gone}): restore them, or remove those references (`bearagent gallery "
        "reembed --drop-missing` with the model in use)"
    )
    assert (
        box_rows(box, "SELECT model_sha256, count(*) FROM reference_embeddings GROUP BY 1") == old
    )
    assert box_rows(box, "SELECT count(*) FROM rollout_staged") == [(0,)]
    assert not model_path(box.database.parent, sha).exists()


def test_a_model_the_state_folder_has_no_room_for_is_refused_before_fetching(
    tmp_path: Path, box: Box, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    model = write_sized_embedder(tmp_path / "r" / "near.onnx", 48, name="near")
    body = {**offer_body(model), "size": 2**50}  # a petabyte: no box has room for it
    fetches = subscribe(broker, "bearid/boxa/fetch")
    link = PahoLink(broker)
    try:
        link.publish("bearid-station/boxa/offer",
                     station_message("offer", body, datetime.now(UTC)))  # fmt: skip
        wait(lambda: offered(box).get(body["sha256"][:8], ("",))[0] == "refused", "the refusal")
    finally:
        link.close()
    reason = offered(box)[body["sha256"][:8]][1]
    state = box.database.parent
    assert reason is not None and reason.startswith(
        f"the model needs {2**50 / 2**20:.1f} MiB in {state}, which has "
    )
    assert reason.endswith(
        " MiB free (and keeps 64 MiB for the database): free space there, then publish the "
        "model again"
    )
    assert fetches.drain() == []
