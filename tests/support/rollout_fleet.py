"""Helpers of the rollout tests: publish to a `support.fleet.Fleet`, watch the boxes and
the station, and feed boxes a steady stream of distinct chips."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select

from bearagent.mqtt.outbox import stamped
from bearstation.fleet.outbound import Outbound
from bearstation.media.store import MediaStore
from bearstation.rollout.files import ModelFiles
from bearstation.rollout.publish import Publication, publish_model
from bearstation.tables import box_models, model_offers
from beartrain.synthetic import ChipRecord
from support.broker import Mosquitto
from support.fleet import Box, Fleet
from support.subscriber import connect, make_client

T0 = datetime(2026, 8, 1, 5, 0, tzinfo=UTC)
#: The outbox stream of the boxes the station tests play.
STREAM = "5f0e8a52-1c0d-4c47-9a53-2f1f8f7c2a10"
Chips = list[tuple[ChipRecord, np.ndarray]]


def restore_galleries(fleet: Fleet) -> None:
    """Give every box the template's whole gallery (with what is still in its WAL)."""
    template = fleet.tmp / "template" / "state" / "bearagent.db"
    for box in fleet.boxes.values():
        with sqlite3.connect(template) as source, sqlite3.connect(box.database) as target:
            source.backup(target)


def model_files(fleet: Fleet) -> ModelFiles:
    """Where the fleet's station keeps published models."""
    cfg = fleet.station_config()
    return ModelFiles(MediaStore.from_config(cfg.media, cfg.station.database).root)


def publish(fleet: Fleet, model: Path, *to: str) -> Publication:
    """`bear-station model publish` through its library call."""
    return publish_model(fleet.engine(), model_files(fleet), model, to)


def station_model(fleet: Fleet, agent_id: str) -> str | None:
    """The SHA-256 of the model the station says the box runs."""
    with fleet.engine().connect() as conn:
        row = conn.execute(
            select(box_models.c.sha256).where(box_models.c.agent_id == agent_id)
        ).first()
    return None if row is None else str(row[0])


def offer_of(fleet: Fleet, agent_id: str, sha256: str) -> tuple[str, str | None]:
    """(state, reason) of the box's newest offer of `sha256`."""
    with fleet.engine().connect() as conn:
        row = conn.execute(
            select(model_offers.c.state, model_offers.c.reason)
            .where(model_offers.c.agent_id == agent_id, model_offers.c.sha256 == sha256)
            .order_by(model_offers.c.id.desc())
        ).first()
    return ("none", None) if row is None else (str(row[0]), row[1])


def box_rows(box: Box, sql: str) -> list[tuple[object, ...]]:
    """Rows of a query on the box's database."""
    with sqlite3.connect(box.database) as db:
        return list(db.execute(sql).fetchall())


def visits(box: Box, n: int, first: int = 0) -> list[tuple[str, Chips]]:
    """`n` visits of the box's known bears, an hour apart, each on its own camera; every
    chip a distinct file (sensor noise of its own)."""
    bears = list(box.world.unseen.values())
    out: list[tuple[str, Chips]] = []
    for k in range(first, first + n):
        chips: Chips = []
        for j, (record, pixels) in enumerate(bears[k % len(bears)][:3]):
            when = T0 + timedelta(hours=k, seconds=10 * j)
            noise = np.random.default_rng([k, j, 7]).integers(-3, 4, pixels.shape)
            shot = np.clip(pixels.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            name = f"{box.agent_id}_{when:%Y%m%d-%H%M%S}_{k:03d}{j}.jpg"
            chips.append((ChipRecord(f"x/{name}", record.individual, "c", when, "e", j), shot))
        out.append((f"cam{k:03d}", chips))
    return out


@contextmanager
def dropping(fleet: Fleet, agent_id: str, every_s: float = 0.05) -> Iterator[list[str]]:
    """Drop visits into the box one chip at a time until the block ends; yields the list
    of dropped files (relative paths) as it grows."""
    dropped: list[str] = []
    stop = threading.Event()
    box = fleet.boxes[agent_id]

    def run() -> None:
        k = 100
        while not stop.is_set():
            camera, chips = visits(box, 1, k)[0]
            for chip in chips:
                fleet.drop(agent_id, camera, [chip])
                dropped.append(f"north/{camera}/{Path(chip[0].path).name}")
                if stop.wait(every_s):
                    return
            k += 1

    thread = threading.Thread(target=run, name=f"drop-{agent_id}", daemon=True)
    thread.start()
    try:
        yield dropped
    finally:
        stop.set()
        thread.join(10)


class PahoLink:
    """A real MQTT connection the station's `Outbound` can publish on (QoS 1)."""

    def __init__(self, broker: Mosquitto) -> None:
        self.where = f"{broker.host}:{broker.port}"
        self.client = make_client(broker)
        connect(self.client, broker)

    def publish(self, topic: str, payload: str) -> bool:
        """Publish and wait for the broker's PUBACK."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        return bool(info.is_published())

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def outbound(link: PahoLink) -> Outbound:
    """The station's real `Outbound` over `link`."""
    return Outbound("hq", [link], "bearid-station/")


def box_message(
    agent_id: str, channel: str, text: str, seq: int, stream: str = STREAM
) -> tuple[str, str]:
    """(topic, payload) of a box message as its outbox sends it (stream and seq stamped)."""
    return f"bearid/{agent_id}/{channel}", stamped(text, stream, seq)
