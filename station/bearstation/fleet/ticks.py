"""The ticks the station's fleet round runs (one line each; see `rounds.Tick`)."""

from __future__ import annotations

from bearstation.config import StationConfig
from bearstation.desk.tick import DeskTick
from bearstation.fleet.feed_tick import FeedTick
from bearstation.fleet.rounds import Tick
from bearstation.fleet.stream_tick import StreamTick
from bearstation.rollout.tick import RolloutTick


def default_ticks(config: StationConfig) -> list[Tick]:
    """Every tick of a running station, in the order they run each round."""
    fleet = config.fleet
    return [
        StreamTick(fleet.receipt_every_s, fleet.resend_quiet_s, fleet.resend_every_s),
        RolloutTick.from_config(config),
        FeedTick(),
        DeskTick(config.desk.resend_s),
    ]
