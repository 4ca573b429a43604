"""`bear-station report DIR`: three PNG plots and a short Markdown summary of the fleet.

- ``sightings_over_time.png``: each bear's counted encounters over time (one row
  per bear, the most seen first, coloured by box);
- ``sightings_per_camera.png``: counted encounters per camera, by outcome;
- ``new_individuals_per_week.png``: bears first seen each ISO week (named or
  still provisional);
- ``summary.md``: boxes, cameras, encounters, bears, links and the quarantine.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a station
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sqlalchemy import Engine, Row, func, select

from bearstation.errors import ExportError
from bearstation.exports.records import EncounterRecord, all_deployments, counted_encounters
from bearstation.identities import all_links
from bearstation.tables import boxes, events, quarantine

MAX_BEARS_PLOTTED = 40


@dataclass(frozen=True)
class Report:
    """The files a report wrote."""

    directory: Path
    files: list[Path]


def write_report(engine: Engine, directory: Path, now: datetime | None = None) -> Report:
    """Write the plots and the summary of the database into `directory`."""
    with engine.connect() as conn:
        encounters = list(counted_encounters(conn))
        deployments = all_deployments(conn)
        box_rows = list(conn.execute(select(boxes).order_by(boxes.c.agent_id)))
        event_counts: dict[str, int] = {
            r[0]: int(r[1])
            for r in conn.execute(
                select(events.c.agent_id, func.count()).group_by(events.c.agent_id)
            )
        }
        quarantined = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
        active_links = [link for link in all_links(conn) if link.unlinked_at is None]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create the report folder {directory}: {e.strerror}") from None
    figures = {
        "sightings_over_time.png": _over_time(encounters),
        "sightings_per_camera.png": _per_camera(encounters, [d.deployment_id for d in deployments]),
        "new_individuals_per_week.png": _new_per_week(encounters),
    }
    files = []
    for name, figure in figures.items():
        files.append(directory / name)
        try:
            figure.savefig(directory / name, dpi=110, bbox_inches="tight")
        except OSError as e:
            raise ExportError(f"cannot write {directory / name}: {e.strerror}") from None
        finally:
            plt.close(figure)
    summary = _summary(encounters, box_rows, event_counts, len(deployments), quarantined)
    summary += _links_section(len(active_links)) + _files_section(figures)
    (directory / "summary.md").write_text(summary, encoding="utf-8")
    files.append(directory / "summary.md")
    return Report(directory, files)


def _empty(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no identified encounters yet", ha="center", va="center")
    ax.set_axis_off()


def _over_time(encounters: list[EncounterRecord]) -> Figure:
    by_bear: dict[str, list[EncounterRecord]] = defaultdict(list)
    for e in encounters:
        if e.bear is not None:
            by_bear[e.bear.label].append(e)
    ranked = sorted(by_bear, key=lambda b: (-len(by_bear[b]), b))[:MAX_BEARS_PLOTTED]
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.3 * len(ranked) + 1.5)))
    title = "Sightings per individual over time"
    if not ranked:
        _empty(ax, title)
        return fig
    agents = sorted({e.agent_id for e in encounters})
    colours = {a: plt.get_cmap("tab10")(i % 10) for i, a in enumerate(agents)}
    for row, bear in enumerate(reversed(ranked)):
        for agent in agents:
            times = [e.started_at for e in by_bear[bear] if e.agent_id == agent]
            if times:
                # matplotlib converts datetimes itself; its stubs only admit numbers.
                ax.scatter(times, [row] * len(times), s=18, color=colours[agent])  # type: ignore[arg-type]
    ax.set_yticks(range(len(ranked)), list(reversed(ranked)))
    for agent in agents:
        ax.scatter([], [], color=colours[agent], label=agent)
    ax.legend(title="box", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(
        title + (f" (the {MAX_BEARS_PLOTTED} most seen)" if len(by_bear) > len(ranked) else "")
    )
    ax.set_xlabel("capture time (camera's local time)")
    fig.autofmt_xdate()
    return fig


def _per_camera(encounters: list[EncounterRecord], deployments: list[str]) -> Figure:
    counts: dict[str, Counter[str]] = {d: Counter() for d in deployments}
    for e in encounters:
        counts.setdefault(e.deployment_id, Counter())[e.status] += 1
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.35 * len(counts) + 1.5)))
    title = "Encounters per camera"
    if not encounters:
        _empty(ax, title)
        return fig
    names = sorted(counts)
    left = [0] * len(names)
    for status in ("known", "review", "unknown"):
        values = [counts[n][status] for n in names]
        ax.barh(names, values, left=left, label=status)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.legend(title="decision")
    ax.set_title(title)
    ax.set_xlabel("encounters")
    return fig


def _new_per_week(encounters: list[EncounterRecord]) -> Figure:
    first: dict[str, tuple[date, bool]] = {}
    for e in encounters:
        if e.bear is not None:
            day = e.started_at.date()
            if e.bear.label not in first or day < first[e.bear.label][0]:
                first[e.bear.label] = (day, e.bear.named)
    fig, ax = plt.subplots(figsize=(9, 4))
    title = "New individuals per week"
    if not first:
        _empty(ax, title)
        return fig
    weeks = Counter((d - timedelta(days=d.weekday()), named) for d, named in first.values())
    starts = sorted({w for w, _ in weeks})
    labels = [f"{w.isocalendar()[0]}-W{w.isocalendar()[1]:02d}" for w in starts]
    named = [weeks[(w, True)] for w in starts]
    provisional = [weeks[(w, False)] for w in starts]
    ax.bar(labels, named, label="named")
    ax.bar(labels, provisional, bottom=named, label="provisional")
    ax.legend()
    ax.set_title(title)
    ax.set_ylabel("individuals first seen")
    ax.tick_params(axis="x", rotation=45)
    return fig


def _summary(
    encounters: list[EncounterRecord],
    box_rows: list[Row[Any]],
    event_counts: dict[str, int],
    n_cameras: int,
    quarantined: int,
) -> str:
    bears: dict[str, list[EncounterRecord]] = defaultdict(list)
    for e in encounters:
        if e.bear is not None:
            bears[e.bear.label].append(e)
    named = sum(1 for b in bears.values() if b[0].bear and b[0].bear.named)
    outcomes = Counter(e.status for e in encounters)
    span = (
        f"{min(e.started_at for e in encounters):%Y-%m-%d} to "
        f"{max(e.started_at for e in encounters):%Y-%m-%d}"
        if encounters
        else "no encounters yet"
    )
    lines = [
        "# bearid station report",
        "",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Captures: {span}.",
        "",
        f"- boxes: {len(box_rows)}, cameras: {n_cameras}",
        f"- encounters counted: {len(encounters)} (known {outcomes['known']}, "
        f"unknown {outcomes['unknown']}, in review {outcomes['review']})",
        f"- individuals: {len(bears)} ({named} named, {len(bears) - named} provisional)",
        f"- quarantined messages: {quarantined}",
        "",
        "## Boxes",
        "",
        "| box | events | last heard | status |",
        "|---|---:|---|---|",
    ]
    for b in box_rows:
        lines.append(
            f"| {b.agent_id} | {event_counts.get(b.agent_id, 0)} | "
            f"{b.last_seen_at:%Y-%m-%d %H:%M} UTC | {b.status or '?'} |"
        )
    lines += ["", "## Most seen individuals", "", "| individual | encounters | first | last |"]
    lines.append("|---|---:|---|---|")
    for label in sorted(bears, key=lambda k: (-len(bears[k]), k))[:15]:
        seen = bears[label]
        lines.append(
            f"| {label} | {len(seen)} | {min(e.started_at for e in seen):%Y-%m-%d} | "
            f"{max(e.started_at for e in seen):%Y-%m-%d} |"
        )
    return "\n".join(lines) + "\n"


def _links_section(active: int) -> str:
    return f"\nLinks made at the station (in force): {active}.\n"


def _files_section(figures: dict[str, Figure]) -> str:
    return "\n" + "\n".join(f"![{name}]({name})" for name in figures) + "\n"
