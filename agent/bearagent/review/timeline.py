"""An individual's sighting history as a plot: one row per camera, one dot per encounter
(larger for more chips), drawn as SVG by the page's template."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bearagent.review.queries.types import EncounterSummary

WIDTH = 760
ROW = 26
LEFT = 150  # room for camera names
RIGHT = 20
TOP = 10
AXIS = 34  # room for the time axis


@dataclass(frozen=True)
class Dot:
    """One encounter on the plot."""

    x: float
    y: float
    r: float
    title: str
    href: str


@dataclass(frozen=True)
class TimelinePlot:
    """Geometry of the plot, in SVG user units."""

    width: int
    height: int
    left: int
    right: int
    axis_y: float
    rows: tuple[tuple[str, float], ...]  # camera label, y
    ticks: tuple[tuple[float, str], ...]  # x, label
    dots: tuple[Dot, ...]


def _when(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _ticks(start: datetime, end: datetime, count: int = 6) -> list[tuple[datetime, str]]:
    span = (end - start).total_seconds()
    fmt = "%H:%M" if span < 2 * 86400 else "%Y-%m-%d"
    if span < 2 * 86400 and start.date() != end.date():
        fmt = "%m-%d %H:%M"
    step = span / (count - 1)
    return [
        (start + timedelta(seconds=i * step), (start + timedelta(seconds=i * step)).strftime(fmt))
        for i in range(count)
    ]


def timeline(encounters: Sequence[EncounterSummary]) -> TimelinePlot | None:
    """The plot of `encounters` (None when none has a readable time)."""
    dated = [(e, t) for e in encounters if (t := _when(e.started_at)) is not None]
    if not dated:
        return None
    cameras = sorted({f"{e.site}/{e.camera}" for e, _ in dated})
    rows = {c: TOP + ROW * (i + 0.5) for i, c in enumerate(cameras)}
    start = min(t for _, t in dated)
    end = max(t for _, t in dated)
    if end - start < timedelta(hours=1):  # one visit: an hour around it
        start, end = start - timedelta(minutes=30), end + timedelta(minutes=30)
    span = (end - start).total_seconds()
    inner = WIDTH - LEFT - RIGHT

    def x_of(t: datetime) -> float:
        return round(LEFT + inner * (t - start).total_seconds() / span, 1)

    dots = tuple(
        Dot(
            x=x_of(t),
            y=rows[f"{e.site}/{e.camera}"],
            r=round(min(10.0, 3.0 + 1.5 * math.sqrt(e.chip_count)), 1),
            title=f"{e.started_at} {e.site}/{e.camera}: {e.chip_count} chip(s), {e.status}",
            href=f"/encounter/{e.id}",
        )
        for e, t in dated
    )
    height = int(TOP + ROW * len(cameras) + AXIS)
    return TimelinePlot(
        width=WIDTH,
        height=height,
        left=LEFT,
        right=WIDTH - RIGHT,
        axis_y=TOP + ROW * len(cameras) + 4,
        rows=tuple(rows.items()),
        ticks=tuple((x_of(t), label) for t, label in _ticks(start, end)),
        dots=dots,
    )
