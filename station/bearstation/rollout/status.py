"""Which box runs which model, and the offers in progress or refused (for the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from bearstation.tables import box_models, boxes, model_offers, models

#: Offer states a box is still working on.
IN_PROGRESS = ("offered", "fetching", "verifying")


@dataclass(frozen=True)
class BoxModel:
    """One box: the model it reports it runs, and its newest offer."""

    agent_id: str
    runs: str | None  # name
    runs_sha256: str | None
    since: datetime | None
    offer: str | None  # the newest offer's model name
    offer_sha256: str | None
    offer_state: str | None
    received: int | None
    size: int | None
    reason: str | None


def box_models_status(conn: Connection) -> list[BoxModel]:
    """Every box the station knows, with its model and its newest offer."""
    newest = (
        select(model_offers.c.agent_id, func.max(model_offers.c.id).label("id"))
        .group_by(model_offers.c.agent_id)
        .subquery()
    )
    o = model_offers
    rows = conn.execute(
        select(boxes.c.agent_id, box_models.c.name, box_models.c.sha256, box_models.c.since,
               models.c.name.label("offer"), o.c.sha256.label("offer_sha256"), o.c.state,
               o.c.received, models.c.size, o.c.reason)
        .select_from(boxes)
        .join(box_models, box_models.c.agent_id == boxes.c.agent_id, isouter=True)
        .join(newest, newest.c.agent_id == boxes.c.agent_id, isouter=True)
        .join(o, o.c.id == newest.c.id, isouter=True)
        .join(models, models.c.sha256 == o.c.sha256, isouter=True)
        .order_by(boxes.c.agent_id)
    ).all()  # fmt: skip
    return [
        BoxModel(r.agent_id, r.name, r.sha256, r.since, r.offer, r.offer_sha256, r.state,
                 r.received, r.size, r.reason)
        for r in rows
    ]  # fmt: skip


def describe(box: BoxModel) -> str:
    """One line: ``boxa: runs NAME (sha 123456789abc) since ...; offer ...``."""
    runs = (
        f"runs {box.runs} ({box.runs_sha256[:12]}) since {box.since:%Y-%m-%d %H:%M:%S} UTC"
        if box.runs is not None and box.runs_sha256 is not None and box.since is not None
        else "model not reported yet"
    )
    return f"{box.agent_id}: {runs}{_offer(box)}"


def _offer(box: BoxModel) -> str:
    if box.offer is None or box.offer_sha256 is None or box.offer_state is None:
        return ""
    what = f"{box.offer} ({box.offer_sha256[:12]})"
    if box.offer_state in IN_PROGRESS:
        done = ""
        if box.received is not None and box.size:
            done = f" {box.received:,}/{box.size:,} bytes ({100 * box.received // box.size}%)"
        return f"; offer {what}: {box.offer_state}{done}"
    if box.offer_state == "refused":
        return f"; refused {what}: {box.reason}"
    return ""


def summary(conn: Connection) -> str:
    """``models: boxa runs NAME (sha), ...; offers: N in progress, M refused`` for
    ``bear-station status``."""
    rows = box_models_status(conn)
    running = [f"{b.agent_id} runs {b.runs} ({b.runs_sha256[:12]})" for b in rows
               if b.runs is not None and b.runs_sha256 is not None]  # fmt: skip
    busy = sum(1 for b in rows if b.offer_state in IN_PROGRESS)
    refused = sum(1 for b in rows if b.offer_state == "refused")
    return (
        "models: " + (", ".join(running) or "no box has reported its model")
        + f"; offers: {busy} in progress, {refused} refused (see 'bear-station model status')"
    )  # fmt: skip


def published(conn: Connection) -> list[tuple[str, str, int, datetime]]:
    """(name, sha256, size, published_at) of every published model, newest first."""
    rows = conn.execute(
        select(models.c.name, models.c.sha256, models.c.size, models.c.published_at)
        .order_by(models.c.published_at.desc())
    ).all()  # fmt: skip
    return [(r.name, r.sha256, r.size, r.published_at) for r in rows]
