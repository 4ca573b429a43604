"""The days each camera was operating, as the station knows them (survey effort).

All days are the camera's local days (the UTC offset its chips were captured
with). For each camera of each box:

- its **chip days**: days with a chip the station knows of: a sighting, the start
  of one of its encounters (whatever became of it: merged, rejected), or a chip
  in the media store;
- its **span**: every day from its first chip day to its last;
- its box's **running days**: days on which the box's agent is known to have
  been running: each ``stats`` message covers the time from the agent's start
  (``sent_at`` minus ``uptime_s``) to ``sent_at``, and a box whose retained
  status is ``online`` ran from that status message to the last time it was
  heard from.

A camera is **operating** on a day of its span when it has a chip that day or its
box was running that day (`USAGE_RULES` ``evidence``, the default), or on every
day of its span (``span``: for cameras whose cards reach the box only after the
fact, when the box's running days say nothing about the camera).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from sqlalchemy import Connection, select

from bearstation.exports.records import deployment_id
from bearstation.tables import boxes, cameras, chip_media, encounters, sightings, stats

UsageRule = Literal["evidence", "span"]
USAGE_RULES: tuple[UsageRule, ...] = ("evidence", "span")
Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class CameraDays:
    """What the station knows of one camera's days."""

    deployment_id: str  # agent/site/camera
    chip_days: frozenset[date]
    running_days: frozenset[date]  # its box was running

    @property
    def first(self) -> date:
        """Its first chip day."""
        return min(self.chip_days)

    @property
    def last(self) -> date:
        """Its last chip day."""
        return max(self.chip_days)

    def operating(self, rule: UsageRule = "evidence") -> frozenset[date]:
        """The days it was operating under `rule` (see the module docstring)."""
        span = (self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1))
        if rule == "span":
            return frozenset(span)
        return frozenset(d for d in span if d in self.chip_days or d in self.running_days)


class _Offsets:
    """A camera's UTC offsets over time: the one of its latest chip at or before a time."""

    def __init__(self, captures: Iterable[tuple[datetime, int]]) -> None:
        ordered = sorted(captures)
        self.times = [t for t, _ in ordered]
        self.minutes = [m for _, m in ordered]

    def local_day(self, when: datetime) -> date:
        i = max(bisect.bisect_right(self.times, when) - 1, 0)
        return when.astimezone(timezone(timedelta(minutes=self.minutes[i]))).date()


def camera_days(conn: Connection) -> list[CameraDays]:
    """Every camera with at least one chip, by deployment id."""
    captures = _captures(conn)
    running = _running_intervals(conn)
    found = []
    for (agent_id, site, camera), times in sorted(captures.items()):
        offsets = _Offsets(times)
        chip_days = frozenset(offsets.local_day(t) for t, _ in times)
        days: set[date] = set()
        for start, end in running.get(agent_id, []):
            first, last = offsets.local_day(start), offsets.local_day(end)
            days.update(first + timedelta(days=i) for i in range((last - first).days + 1))
        found.append(CameraDays(deployment_id(agent_id, site, camera), chip_days, frozenset(days)))
    return found


def _captures(conn: Connection) -> dict[tuple[str, str, str], list[tuple[datetime, int]]]:
    """(agent, site, camera) -> every (UTC capture time, offset) the station knows."""
    names = {
        r.id: (r.agent_id, r.site, r.camera)
        for r in conn.execute(
            select(cameras.c.id, cameras.c.agent_id, cameras.c.site, cameras.c.camera)
        )
    }
    found: dict[tuple[str, str, str], list[tuple[datetime, int]]] = defaultdict(list)
    chips = select(encounters.c.camera_id, sightings.c.captured_at, sightings.c.captured_offset_min)
    chips = chips.join(encounters, encounters.c.id == sightings.c.encounter_ref)
    starts = select(
        encounters.c.camera_id, encounters.c.started_at, encounters.c.started_offset_min
    )
    for query in (chips, starts):
        for camera_id, when, offset in conn.execute(query):
            found[names[camera_id]].append((when, offset))
    stored = select(
        chip_media.c.agent_id,
        chip_media.c.site,
        chip_media.c.camera,
        chip_media.c.captured_at,
        chip_media.c.captured_offset_min,
    )
    known = set(names.values())
    for agent_id, site, camera, when, offset in conn.execute(stored):
        if (agent_id, site, camera) in known:  # a camera no event named yet has no row
            found[(agent_id, site, camera)].append((when, offset))
    return found


def _running_intervals(conn: Connection) -> dict[str, list[Interval]]:
    """agent -> the merged intervals its agent is known to have been running."""
    intervals: dict[str, list[Interval]] = defaultdict(list)
    for agent_id, sent_at, uptime_s in conn.execute(
        select(stats.c.agent_id, stats.c.sent_at, stats.c.uptime_s)
    ):
        intervals[agent_id].append((sent_at - timedelta(seconds=uptime_s), sent_at))
    online = select(boxes.c.agent_id, boxes.c.status_at, boxes.c.last_seen_at).where(
        boxes.c.status == "online", boxes.c.status_at.is_not(None)
    )
    for agent_id, status_at, last_seen_at in conn.execute(online):
        intervals[agent_id].append((status_at, max(status_at, last_seen_at)))
    return {agent: _merged(spans) for agent, spans in intervals.items()}


def _merged(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
