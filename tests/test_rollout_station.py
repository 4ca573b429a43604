"""The station's side of the rollout, on SQLite and PostgreSQL: what `model publish`
refuses (exact messages, CLI too), offers per box, the boxes' reports and fetch requests
kept in each box's order, and the tick answering over a real broker in bounded chunks."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert, select

from bearagent.modelcard import sidecar_path
from bearagent.rollout.payloads import fetch_request, model_report
from bearstation.cli import main as station_cli
from bearstation.fleet.outbound import Outbound
from bearstation.media.store import MediaStore, sha256_of
from bearstation.rollout.config import RolloutConfig
from bearstation.rollout.errors import ModelNotPublishable, UnknownBox
from bearstation.rollout.files import ModelFiles
from bearstation.rollout.publish import publish_model
from bearstation.rollout.status import summary
from bearstation.rollout.tick import RolloutTick
from bearstation.tables import box_models, media, model_fetches, model_offers
from support.broker import Mosquitto
from support.models import write_tiny_embedder
from support.rollout_fleet import PahoLink, box_message, outbound
from support.rollout_models import write_sized_embedder
from support.station_world import fresh_engine, ingest
from support.subscriber import Subscriber

NEW_STREAM = "0b6f3c9e-9d35-4f0e-8f8c-7a4b9c3e2d11"
OTHER_STREAM = "7d1e2f30-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


@pytest.fixture
def engine(station_db: str) -> Iterator[Engine]:
    e = fresh_engine(station_db)
    yield e
    e.dispose()


def hello(engine: Engine, *boxes: str) -> None:
    """The boxes' retained status reaches the station: it knows them."""
    ingest(engine, [(f"bearid/{b}/status", "online") for b in boxes])


def offers(engine: Engine) -> list[tuple[str, str, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(model_offers.c.agent_id, model_offers.c.sha256, model_offers.c.state,
                   model_offers.c.reason).order_by(model_offers.c.id)
        ).all()  # fmt: skip
    return [(r.agent_id, r.sha256[:8], r.state, r.reason) for r in rows]


def test_publish_refuses_what_no_box_could_use(engine: Engine, tmp_path: Path) -> None:
    files = ModelFiles(tmp_path / "media")
    model = write_sized_embedder(tmp_path / "m" / "pixel-48.onnx")
    with pytest.raises(UnknownBox) as e:
        publish_model(engine, files, model)
    assert str(e.value) == (
        "the station knows no box yet (a box is known once the station has received something "
        "from it): start the boxes and `bear-station run`, then publish"
    )
    hello(engine, "boxa")
    with pytest.raises(UnknownBox) as e:
        publish_model(engine, files, model, ["boxz"])
    assert str(e.value) == (
        "unknown box 'boxz': the station knows boxa (a box is known once the station has "
        "received something from it)"
    )
    bare = write_tiny_embedder(tmp_path / "m" / "bare.onnx")
    with pytest.raises(ModelNotPublishable) as refused:
        publish_model(engine, files, bare)
    assert str(refused.value) == (
        f"{bare} has no bearid model card: no 'bearid.model_card' entry in its ONNX metadata "
        "and no sidecar bare.onnx.json. Export the model again with `bear-export`."
    )
    card = json.loads(sidecar_path(model).read_text())
    card["model"]["sha256"] = "0" * 64
    sidecar_path(model).write_text(json.dumps(card))
    with pytest.raises(ModelNotPublishable, match=r"does not match its model card pixel-48\.onnx"):
        publish_model(engine, files, model)
    assert offers(engine) == [] and not files.root.exists()


def test_the_cli_publishes_and_shows_which_box_runs_what(
    station_db: str, engine: Engine, tmp_path: Path
) -> None:
    hello(engine, "boxa", "boxb")
    model = write_sized_embedder(tmp_path / "m" / "pixel-48.onnx")
    cli = CliRunner()
    refused = cli.invoke(station_cli, ["model", "publish", str(model), "--to", "boxz",
                                       "--db", station_db])  # fmt: skip
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: unknown box 'boxz': the station knows boxa, boxb (a box is known once the "
        "station has received something from it)\n"
    )
    done = cli.invoke(station_cli, ["model", "publish", str(model), "--db", station_db,
                                    "--set", f"media.root={tmp_path / 'media'}"])  # fmt: skip
    assert done.exit_code == 0, done.output
    sha = ModelFiles(tmp_path / "media").root.glob("*.onnx").__next__().stem
    assert done.output.splitlines()[1:] == ["offered to boxa, boxb"]
    assert done.output.startswith(f"published pixel-48 ({sha[:12]}, {model.stat().st_size:,} ")
    ingest(engine, [box_message("boxa", "model", model_report(
        "boxa", sha256=sha, name="pixel-48", state="switched"), 3)])  # fmt: skip
    ingest(engine, [box_message("boxb", "model", model_report(
        "boxb", sha256=sha, name="pixel-48", state="fetching", received=1000,
        size=model.stat().st_size), 3)])  # fmt: skip
    with engine.connect() as conn:
        assert summary(conn) == (
            f"models: boxa runs pixel-48 ({sha[:12]}); offers: 1 in progress, 0 refused "
            "(see 'bear-station model status')"
        )
    status = cli.invoke(station_cli, ["model", "status", "--db", station_db])
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    assert lines[0] == "published models: 1"
    assert lines[3].startswith(f"  boxa: runs pixel-48 ({sha[:12]}) since ")
    size = model.stat().st_size
    assert lines[4] == (
        f"  boxb: model not reported yet; offer pixel-48 ({sha[:12]}): fetching "
        f"1,000/{size:,} bytes ({100 * 1000 // size}%)"
    )


def test_a_new_publication_supersedes_open_offers(engine: Engine, tmp_path: Path) -> None:
    hello(engine, "boxa", "boxb")
    files = ModelFiles(tmp_path / "media")
    first = publish_model(engine, files, write_sized_embedder(tmp_path / "a" / "a.onnx", 48))
    second = publish_model(
        engine, files, write_sized_embedder(tmp_path / "b" / "b.onnx", 64, name="pixel-64"),
        ["boxa"],
    )  # fmt: skip
    a, b = first.sha256[:8], second.sha256[:8]
    assert offers(engine) == [
        ("boxa", a, "superseded", None),
        ("boxb", a, "offered", None),
        ("boxa", b, "offered", None),
    ]
    for done in (first, second):
        assert files.has(done.sha256) and sidecar_path(done.path).is_file()


def test_reports_and_requests_keep_each_box_order(engine: Engine, tmp_path: Path) -> None:
    hello(engine, "boxa")
    done = publish_model(engine, ModelFiles(tmp_path / "media"),
                         write_sized_embedder(tmp_path / "m" / "m.onnx"))  # fmt: skip
    new, old = done.sha256, "ab" * 32

    def report(seq: int, sha: str, state: str, stream: str = NEW_STREAM, **kw: object) -> None:
        text = model_report("boxa", sha256=sha, name=sha[:4], state=state, **kw)  # type: ignore[arg-type]
        ingest(engine, [box_message("boxa", "model", text, seq, stream)])

    def runs() -> tuple[str, int]:
        with engine.connect() as conn:
            row = conn.execute(select(box_models.c.sha256, box_models.c.seq)).one()
        return row.sha256[:4], row.seq

    report(5, old, "running")
    report(3, new, "running")  # an older report, resent: changes nothing
    assert runs() == (old[:4], 5)
    report(6, new, "fetching", received=10, size=done.size)
    report(7, new, "refused", reason="the card does not fit")
    report(6, new, "fetching", received=10, size=done.size)  # late: the offer stays closed
    assert offers(engine) == [("boxa", new[:8], "refused", "the card does not fit")]
    report(1, new, "switched", stream=OTHER_STREAM)
    assert runs() == (new[:4], 1)  # a new stream (a new box database) starts again

    def fetch(seq: int, offset: int, length: int, stream: str = NEW_STREAM) -> None:
        text = fetch_request("boxa", sha256=new, offset=offset, length=length)
        ingest(engine, [box_message("boxa", "fetch", text, seq, stream)])

    def pending() -> tuple[int, int, int]:
        with engine.connect() as conn:
            row = conn.execute(select(model_fetches)).one()
        return row.next_byte, row.end_byte, row.seq

    fetch(10, 0, 4096)
    fetch(11, 4096, 4096)  # the next window while the first is on its way: one range
    assert pending() == (0, 8192, 11)
    fetch(9, 100, 10)  # an older request, resent: changes nothing
    assert pending() == (0, 8192, 11)
    fetch(12, 2048, 4096)  # asked again from where the box stands (chunks were lost)
    assert pending() == (0, 8192, 12)
    with engine.begin() as conn:
        conn.execute(model_fetches.update().values(next_byte=8192))
    fetch(13, 9000, 100)  # after a finished range: a new one
    assert pending() == (9000, 9100, 13)


def data_of(chunk: dict[str, object]) -> bytes:
    return base64.b64decode(str(chunk["data"]))


def keep_chip(engine: Engine, store: MediaStore) -> tuple[bytes, str]:
    """A chip in the media store (as a box's chip message would leave it)."""
    chip = b"\xff\xd8\xff" + bytes(range(256)) * 9
    sha = sha256_of(chip)
    store.put(chip, sha)
    row = {"sha256": sha, "size": len(chip), "content_type": "image/jpeg",
           "stored_at": datetime.now(UTC)}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(media).values(row))
    return chip, sha


def ask(engine: Engine, seq: int, sha: str, length: int) -> None:
    text = fetch_request("boxa", sha256=sha, offset=0, length=length)
    ingest(engine, [box_message("boxa", "fetch", text, seq)])


def offers_sent(tick: RolloutTick, engine: Engine, send: Outbound, box: Subscriber) -> int:
    """One round; the offers it sent."""
    tick.tick(engine, send)
    return sum(1 for m in box.drain() if m.channel == "offer")


def test_the_tick_offers_until_answered(
    tmp_path: Path, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    engine = fresh_engine(f"sqlite:///{tmp_path / 'station.db'}")
    store = MediaStore(tmp_path / "media")
    tick = RolloutTick(store, RolloutConfig(chunk_bytes=4096, offer_resend_s=0.5))
    hello(engine, "boxa")
    done = publish_model(engine, ModelFiles(store.root),
                         write_sized_embedder(tmp_path / "m" / "m.onnx"))  # fmt: skip
    box = subscribe(broker, "bearid-station/boxa/#")
    link = PahoLink(broker)
    try:
        send = outbound(link)
        tick.tick(engine, send)
        (offer,) = [m.json() for m in box.drain()]
        fields = ("event", "sha256", "name", "size", "chunk_size")
        assert [offer[k] for k in fields] == ["offer", done.sha256, "pixel-48", done.size, 4096]
        assert offer["card"]["model"]["sha256"] == done.sha256
        assert offers_sent(tick, engine, send, box) == 0  # not heard from since
        time.sleep(0.6)
        hello(engine, "boxa")  # heard from, without a word about the offer: again
        assert offers_sent(tick, engine, send, box) == 1
        report = model_report("boxa", sha256=done.sha256, name="pixel-48", state="fetching",
                              received=0, size=done.size)  # fmt: skip
        ingest(engine, [box_message("boxa", "model", report, 1)])
        time.sleep(0.6)
        hello(engine, "boxa")
        assert offers_sent(tick, engine, send, box) == 0  # it answered
    finally:
        link.close()
        engine.dispose()


def test_the_tick_answers_fetches_in_bounded_chunks(
    tmp_path: Path, broker: Mosquitto, subscribe: Callable[..., Subscriber]
) -> None:
    engine = fresh_engine(f"sqlite:///{tmp_path / 'station.db'}")
    store = MediaStore(tmp_path / "media")
    budget = 3 * 4096
    tick = RolloutTick(store, RolloutConfig(chunk_bytes=4096, box_bytes_per_round=budget))
    hello(engine, "boxa")
    model = write_sized_embedder(tmp_path / "m" / "m.onnx", padding_bytes=20_000)
    done = publish_model(engine, ModelFiles(store.root), model)
    chip, chip_sha = keep_chip(engine, store)
    ask(engine, 2, done.sha256, done.size)
    ask(engine, 3, chip_sha, 4 * 2**20)
    ask(engine, 4, "cd" * 32, 100)  # a file the station does not hold
    box = subscribe(broker, "bearid-station/boxa/chunk")
    link = PahoLink(broker)
    try:
        send = outbound(link)
        received: list[dict[str, object]] = []
        for _ in range(-(-(done.size + len(chip)) // budget)):
            tick.tick(engine, send)
            got = [m.json() for m in box.drain()]
            assert max(len(data_of(c)) for c in got) <= 4096
            assert sum(len(data_of(c)) for c in got) <= budget
            received += got
        tick.tick(engine, send)
        assert box.drain() == []  # every request answered
    finally:
        link.close()
        engine.dispose()
    by_file = {sha: [c for c in received if c["sha256"] == sha]
               for sha in (done.sha256, chip_sha, "cd" * 32)}  # fmt: skip
    assert b"".join(data_of(c) for c in by_file[done.sha256]) == model.read_bytes()
    assert {c["size"] for c in by_file[done.sha256]} == {done.size}
    assert b"".join(data_of(c) for c in by_file[chip_sha]) == chip
    assert [(c["offset"], c["data"], c["size"]) for c in by_file["cd" * 32]] == [(0, "", 0)]
