"""Model rollout to one box: from `bear-station model publish` to the box running the new
model, split into the box's phases (fetch, verify, re-embed N references, switch).

The old model is the lite0 embedder at 192 x 192, the new one the lite0 embedder at
224 x 224 (both exported by bear-export as `agent_bench_kit.lite0_model`, about 15 MB):
the box must fetch 15 MB, preprocess every reference image anew and embed it. The
gallery holds N references enrolled from synthetic camera-trap chips (10 per bear).
Broker (Mosquitto), station (in this process, default settings: `fleet.round_s` 2 s, 256
KiB chunks, 8 MiB per box per round) and the box (`bearagent run`, a subprocess, 2 ONNX
Runtime threads) run on this machine.

    nice -n 10 .venv/bin/python bench/bench_rollout.py [--references 1000] [--tracks]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from agent_bench_kit import (
    THREADS,
    chip_files,
    lite0_model,
    start_agent,
    stop_agent,
    wait_for_log,
    write_agent_config,
    write_files,
)
from bearagent.gallery.embedfiles import embed_files
from bearagent.gallery.enroll import enroll_folder
from bearagent.gallery.schema import open_gallery
from bearagent.modelcard import TrackSpec, load_model_card, write_model_card
from bearagent.pipeline.statusfile import read_status, status_path
from bearagent.runtime import RuntimeConfig, open_embedder
from bearid_dev.mosquitto import running_broker
from bearstation.config import StationConfig
from bearstation.database import open_engine
from bearstation.media.store import MediaStore
from bearstation.rollout.files import ModelFiles
from bearstation.rollout.publish import publish_model
from bearstation.station import Station
from bearstation.tables import box_models


def with_tracks(model: Path, folder: Path) -> Path:
    """A copy of `model` whose card carries the tracks' same-individual similarity (as
    `bear-export --same-individual` writes it), so the box need not calibrate it."""
    copy = folder / model.parent.parent.name / model.name
    copy.parent.mkdir(parents=True)
    shutil.copy(model, copy)
    card = load_model_card(model)
    tracks = TrackSpec(same_individual=0.5, method="manual")
    write_model_card(copy, card.model_copy(update={"tracks": tracks}).with_sha256(None))
    return copy


def enrol(database: Path, folder: Path, model: Path, references: int) -> float:
    """A gallery of `references` chips, 10 per bear, embedded with `model`; seconds taken."""
    files = chip_files(references, seed=1)
    write_files(folder, [(f"bear{i // 10:04d}/{i:06d}.jpg", data)
                         for i, (_, data) in enumerate(files)])  # fmt: skip
    runtime = RuntimeConfig(model=model, intra_op_threads=THREADS, warm_up=False)
    start = time.perf_counter()
    with open_embedder(runtime) as embedder:
        enroll_folder(open_gallery(database), folder, embedder)
    return time.perf_counter() - start


def bare_reembed(folder: Path, model: Path) -> float:
    """References/s of embedding the same images with `model` alone (no box around it: what
    `bearagent gallery reembed` does), for comparison."""
    paths = sorted(folder.rglob("*.jpg"))
    runtime = RuntimeConfig(model=model, intra_op_threads=THREADS)
    with open_embedder(runtime) as embedder:
        start = time.perf_counter()
        embed_files(paths, embedder)
        return len(paths) / (time.perf_counter() - start)


def wait(condition: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} in {timeout} s")
        time.sleep(0.05)


def runs(db_url: str) -> str | None:
    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(box_models.c.sha256)).first()
    finally:
        engine.dispose()
    return None if row is None else str(row[0])


def roll_out(base: Path, old: Path, new: Path, references: int) -> dict[str, Any]:
    """Enrol, start broker, station and box, publish `new`; the figures."""
    database, root = base / "state" / "agent.db", base / "traps"
    root.mkdir(parents=True)
    enrol_s = enrol(database, base / "enrol", old, references)
    db_url = f"sqlite:///{base / 'station.db'}"
    with running_broker(base / "broker", verbose=False) as broker:
        station = Station(StationConfig.model_validate({
            "station": {"id": "hq", "database": db_url},
            "brokers": [{"url": f"mqtt://{broker.host}:{broker.port}"}]}))  # fmt: skip
        station.start()
        config = write_agent_config(base / "agent.toml", model=old, database=database,
                                    root=root, port=broker.port)  # fmt: skip
        log = base / "agent.log"
        agent = start_agent(config, log)
        try:
            wait_for_log(log, b"watching")
            wait(lambda: runs(db_url) is not None, "model report from the box", 60)
            engine = open_engine(db_url)
            media = MediaStore.from_config(station.config.media, db_url)
            start = time.monotonic()
            done = publish_model(engine, ModelFiles(media.root), new)
            engine.dispose()
            wait(lambda: runs(db_url) == done.sha256, "switch", 1800)
            total = time.monotonic() - start
            wait(lambda: "last_rollout" in _model_status(database), "box status", 30)
        finally:
            stop_agent(agent)
            station.stop()
    rollout = _model_status(database)["last_rollout"]
    bare = bare_reembed(base / "enrol", new)
    return {"references": references, "model_bytes": done.size, "enrol_s": round(enrol_s, 1),
            "publish_to_switched_s": round(total, 2), "box": rollout,
            "bare_reembed_per_s": round(bare, 1)}  # fmt: skip


def _model_status(database: Path) -> dict[str, Any]:
    status = read_status(status_path(database)) or {}
    model = status.get("model")
    return model if isinstance(model, dict) else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--references", type=int, default=1000, help="gallery size N")
    parser.add_argument(
        "--tracks",
        action="store_true",
        help="cards with the tracks' same-individual similarity (else the box calibrates it "
        "on its gallery when the new model starts, as the exported lite0 card has none)",
    )
    args = parser.parse_args()
    old, new = lite0_model(192), lite0_model(224)
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        if args.tracks:
            old, new = with_tracks(old, Path(tmp) / "m"), with_tracks(new, Path(tmp) / "m")
        figures = roll_out(Path(tmp), old, new, args.references)
    phases = figures["box"]["phases"]
    n = figures["references"]
    print(json.dumps(figures, indent=2))
    print(
        f"lite0 192 -> 224, {figures['model_bytes'] / 2**20:.1f} MiB, {n} references: "
        f"publish to switched {figures['publish_to_switched_s']:.1f} s (box: fetch "
        f"{phases.get('fetching', 0):.1f} s, verify {phases.get('verifying', 0):.1f} s, "
        f"re-embed {phases.get('staging', 0):.1f} s = "
        f"{n / max(phases.get('staging', 0), 1e-9):.0f} references/s, switch "
        f"{phases.get('switching', 0):.2f} s with the chip worker stopped: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in figures["box"].get("switch", {}).items())
        + f"); the same embedding alone: {figures['bare_reembed_per_s']:.0f} references/s"
    )


if __name__ == "__main__":
    main()
