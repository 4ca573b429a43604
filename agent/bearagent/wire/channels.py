"""The channels of the wire: what a box sends the station, and what the station sends a box.

Each channel is the last level of a topic (`bearagent.wire.topics`). Everything a box
sends goes through its outbox with a per-box sequence number (store and forward,
at-least-once; the station drops repeats by ``event_id`` and asks for gaps), except
the retained ``status``. Everything the station sends is idempotent on the box (by
id or sequence number), so a repeat or a resend never changes the result.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Box -> station (under ``bearid/<agent_id>/``), in the box's outbox:
#: - sighting, unknown: encounter events; correction: a person's decision;
#: - stats: periodic counters (with the box's latest sequence number);
#: - chip: a chip's bytes, SHA-256 and embedding (sent once its encounter ended);
#: - blank: frames the detector found empty;
#: - feed: how far the box has applied the fleet gallery's feed (asks for what follows);
#: - model: the model the box runs, and a model offer's progress (fetching, refused, ...);
#: - fetch: a request for part of an offered model's file.
Channel = Literal[
    "sighting", "unknown", "correction", "stats", "chip", "blank", "feed", "model", "fetch"
]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
#: The channels an encounter event goes to: the ``unknown`` alert, or a ``sighting``.
EncounterChannel = Literal["sighting", "unknown"]
#: The retained, plain-text ``online`` / ``offline`` of a box (its last will), not in the outbox.
STATUS = "status"
#: Channels whose messages the station stores as events of the box (the rest are requests).
EVENT_CHANNELS: tuple[Channel, ...] = ("sighting", "unknown", "correction", "stats", "blank")

#: Station -> box (under ``bearid-station/<agent_id>/``):
#: - receipt: "I hold everything of yours up to N" (the box may drop its retained copies);
#: - resend: sequence numbers the station misses (the box sends them again);
#: - decision: a person's decision at the review desk about the box's encounter;
#: - gallery: changes of the fleet gallery, in feed order;
#: - offer: a model to switch to; chunk: part of an offered model's file.
StationChannel = Literal["receipt", "resend", "decision", "gallery", "offer", "chunk"]
STATION_CHANNELS: tuple[StationChannel, ...] = get_args(StationChannel)


def check_channel(channel: str) -> Channel:
    """`channel` when it is one of `CHANNELS`; a ValueError naming it and them if not."""
    for known in CHANNELS:
        if channel == known:
            return known
    raise ValueError(
        f"unknown outbox channel {channel!r}: use one of {', '.join(CHANNELS)} "
        "(the topic is built from it by Topics.of)"
    )


def check_station_channel(channel: str) -> StationChannel:
    """`channel` when it is one of `STATION_CHANNELS`; a ValueError if not."""
    for known in STATION_CHANNELS:
        if channel == known:
            return known
    raise ValueError(
        f"unknown station channel {channel!r}: use one of {', '.join(STATION_CHANNELS)}"
    )
