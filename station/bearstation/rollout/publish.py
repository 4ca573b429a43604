"""``bear-station model publish``: check a model and its card, store it, offer it to boxes.

The file must carry a valid model card (inside the ONNX file or beside it) whose SHA-256
is the file's: the same check a box makes at start (`bearagent.modelcard`). Each target
box (all boxes the station knows by default) gets a new offer, which replaces any offer
still open for it; the fleet thread's tick sends it. Publishing the model a box ran before
rolls it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select, update

from bearagent.modelcard import ModelCardError, load_model_card
from bearstation.ingest.sql import upsert
from bearstation.rollout.errors import ModelNotPublishable, UnknownBox
from bearstation.rollout.files import ModelFiles
from bearstation.tables import box_models, boxes, model_offers, models


@dataclass(frozen=True)
class Publication:
    """What `publish_model` did."""

    sha256: str
    name: str
    size: int
    path: Path  # the stored copy
    boxes: tuple[str, ...]  # offered to
    running: tuple[str, ...]  # of those, the boxes that already run it


def publish_model(
    engine: Engine, files: ModelFiles, source: Path, to: Sequence[str] = ()
) -> Publication:
    """Store `source` and offer it to the boxes `to` (all known boxes when empty)."""
    try:
        card = load_model_card(source)
    except ModelCardError as e:
        raise ModelNotPublishable(f"{e}") from e
    sha = card.model.sha256 or ""
    size = source.stat().st_size
    with engine.begin() as conn:
        targets = _targets(conn, to)
        stored = files.put(source, card)
        now = datetime.now(UTC)
        upsert(conn, models, {"sha256": sha, "name": card.model.name, "size": size,
                              "card": card.model_dump(mode="json"), "published_at": now},
               keys=["sha256"], update=["name", "size", "card", "published_at"])  # fmt: skip
        conn.execute(
            update(model_offers)
            .where(model_offers.c.agent_id.in_(targets), model_offers.c.closed_at.is_(None))
            .values(state="superseded", closed_at=now)
        )
        conn.execute(
            model_offers.insert(),
            [{"agent_id": a, "sha256": sha, "state": "offered", "created_at": now, "sends": 0}
             for a in targets],
        )  # fmt: skip
        running = conn.execute(
            select(box_models.c.agent_id).where(
                box_models.c.agent_id.in_(targets), box_models.c.sha256 == sha
            )
        ).scalars()
        already = tuple(sorted(running))
    return Publication(sha, card.model.name, size, stored, tuple(targets), already)


def _targets(conn: Connection, to: Sequence[str]) -> list[str]:
    known = list(conn.execute(select(boxes.c.agent_id).order_by(boxes.c.agent_id)).scalars())
    if not known:
        raise UnknownBox(
            "the station knows no box yet (a box is known once the station has received "
            "something from it): start the boxes and `bear-station run`, then publish"
        )
    unknown = [b for b in dict.fromkeys(to) if b not in known]
    if unknown:
        raise UnknownBox(
            f"unknown box {', '.join(map(repr, unknown))}: the station knows "
            f"{', '.join(known)} (a box is known once the station has received something from it)"
        )
    return list(dict.fromkeys(to)) if to else known
