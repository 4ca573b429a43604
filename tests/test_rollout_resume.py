"""An interrupted model fetch resumes where it stopped, never from the start.

With real Mosquitto, the real station (sending slowly: 128 KiB per box per round) and a
real agent: the agent is stopped half-way through a 3 MiB model and started again (its
first request asks from the length of its partial file), then the broker goes away and
comes back (the box asks again when nothing arrives). The partial file only ever grows,
and the box switches to the model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from support.broker import Mosquitto
from support.fleet import Fleet, wait
from support.rollout_fleet import offer_of, publish, restore_galleries, station_model
from support.rollout_models import write_sized_embedder
from support.subscriber import Subscriber

SLOW = {"rollout": {"box_bytes_per_round": 128 * 1024, "chunk_bytes": 64 * 1024}}


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def sampled(path: Path, stop: threading.Event) -> tuple[threading.Thread, list[int]]:
    """A thread that samples the size of `path` (-1: absent) until `stop`."""
    sizes: list[int] = []

    def run() -> None:
        while not stop.wait(0.02):
            sizes.append(size_of(path))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, sizes


def test_an_interrupted_fetch_resumes_where_it_stopped(
    tmp_path: Path, mosquitto_binary: str, subscribe: Callable[..., Subscriber]
) -> None:
    model = write_sized_embedder(tmp_path / "release" / "pixel-48.onnx", padding_bytes=3 * 2**20)
    fleet = Fleet(tmp_path, mosquitto_binary, boxes=("boxa",), station=SLOW)
    restore_galleries(fleet)
    with fleet:
        box = fleet.boxes["boxa"]
        wait(lambda: station_model(fleet, "boxa") is not None, "boxa to report its model")
        broker: Mosquitto = fleet.station_broker
        requests = subscribe(broker, "bearid/boxa/fetch")
        done = publish(fleet, model)
        part = box.database.parent / "models" / f"{done.sha256}.onnx.part"
        stop = threading.Event()
        sampler, sizes = sampled(part, stop)

        wait(lambda: size_of(part) >= 2**20, "a third of the model to arrive")
        box.stop()
        have = size_of(part)
        assert 0 < have < done.size
        restarted = time.monotonic()
        box.start()
        first = requests.wait_for(lambda m: m.at > restarted, timeout=20).json()
        assert (first["offset"], first["sha256"]) == (have, done.sha256)

        wait(lambda: size_of(part) >= 2 * 2**20, "two thirds of the model to arrive")
        broker.stop()
        assert size_of(part) < done.size, "the broker went away half-way"
        time.sleep(1.0)
        broker.start()
        wait(lambda: station_model(fleet, "boxa") == done.sha256, "boxa to switch", 45)
        stop.set()
        sampler.join()

        assert offer_of(fleet, "boxa", done.sha256) == ("switched", None)
        assert not part.exists() and part.with_suffix("").is_file()
        growing = [s for s in sizes if s >= 0]
        assert growing == sorted(growing), "the partial file never shrank"
        assert growing[0] < have < 2 * 2**20 <= growing[-1] <= done.size
