"""What a box asks of the station besides its events (channels feed, model, fetch).

`store_request` runs inside the ingest transaction: each channel's function records the
request in its owner's tables; a tick answers it (nothing is published from here).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection

from bearstation.fleet.feed_positions import record_feed_position
from bearstation.messages import Event
from bearstation.rollout import requests as rollout_requests

log = logging.getLogger(__name__)


def store_request(conn: Connection, event: Event, received_at: datetime) -> None:
    """Record a box's `feed`, `model` or `fetch` message for the tick that answers it."""
    if event.channel == "feed":
        store_feed_position(conn, event, received_at)
    elif event.channel == "model":
        store_model_report(conn, event, received_at)
    elif event.channel == "fetch":
        store_fetch_request(conn, event, received_at)
    else:
        raise ValueError(f"{event.channel!r} is not a request channel")


def store_feed_position(conn: Connection, event: Event, received_at: datetime) -> None:
    """The box's fleet-gallery feed position (the fleet gallery's feed tick answers it)."""
    record_feed_position(conn, event.agent_id, int(event.body["applied"]), received_at)


def store_model_report(conn: Connection, event: Event, received_at: datetime) -> None:
    """The model a box runs, or an offer's progress (the rollout's tick reads it)."""
    rollout_requests.store_model_report(conn, event, received_at)


def store_fetch_request(conn: Connection, event: Event, received_at: datetime) -> None:
    """A box asks for part of an offered file (the rollout's tick answers it)."""
    rollout_requests.store_fetch_request(conn, event, received_at)
