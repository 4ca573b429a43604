"""Capture histories: the individual x occasion detection matrix of capture-recapture.

One row per fleet-wide bear (link- and name-aware, see `identities`), one column
per occasion — every day or ISO week from the first to the last detection (or
the given range), empty ones included, since an occasion without a detection is
information too. A cell is 1 when the bear was in a counted encounter that
started on that occasion, in the camera's local time, else 0. Encounters no one
has decided (in review) identify nobody and count nowhere.

Formats: CSV (``individual,2026-06-01,...``) and MARK's ``.inp`` (``0101 1;`` per
bear, its label in a comment). The occasion grid (`occasion_starts`) is shared
with the secr export.
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine

from bearstation.errors import ExportError
from bearstation.exports.records import EncounterRecord, counted_encounters

Occasion = Literal["day", "week"]
Format = Literal["csv", "mark"]


@dataclass(frozen=True)
class CaptureHistory:
    """Occasion labels, and each bear's detections (one 0/1 per occasion)."""

    occasions: list[str]
    rows: dict[str, list[int]]


def occasion_start(day: date, occasion: Occasion) -> date:
    """The first day of the occasion holding `day` (ISO weeks start on Monday)."""
    return day if occasion == "day" else day - timedelta(days=day.weekday())


def occasion_label(start: date, occasion: Occasion) -> str:
    """``2026-06-01`` for a day, ``2026-W23`` for an ISO week."""
    if occasion == "day":
        return start.isoformat()
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def occasion_length(occasion: Occasion) -> timedelta:
    """How long one occasion lasts: a day or a week."""
    return timedelta(days=1 if occasion == "day" else 7)


def occasion_starts(begin: date, end: date, occasion: Occasion) -> list[date]:
    """The first day of every occasion, from the one holding `begin` to the one holding
    `end` (empty ones included)."""
    first, last = occasion_start(begin, occasion), occasion_start(end, occasion)
    if last < first:
        raise ExportError(f"the range ends ({last}) before it starts ({first})")
    step = occasion_length(occasion)
    return [first + i * step for i in range((last - first) // step + 1)]


def build_history(
    encounters: Iterable[EncounterRecord],
    occasion: Occasion,
    first: date | None = None,
    last: date | None = None,
    named_only: bool = False,
) -> CaptureHistory:
    """The matrix of `encounters` (pure: no database)."""
    seen: dict[str, set[date]] = defaultdict(set)
    days: set[date] = set()  # the survey's span: left-out bears still count here
    for enc in encounters:
        if enc.bear is None:
            continue
        day = occasion_start(enc.started_at.date(), occasion)
        days.add(day)
        if enc.bear.named or not named_only:
            seen[enc.bear.label].add(day)
    if not days and (first is None or last is None):
        return CaptureHistory([], {})
    starts = occasion_starts(first or min(days), last or max(days), occasion)
    return CaptureHistory(
        [occasion_label(s, occasion) for s in starts],
        {label: [int(s in seen[label]) for s in starts] for label in sorted(seen)},
    )


def export_capture_history(
    engine: Engine,
    target: Path,
    occasion: Occasion,
    *,
    first: date | None = None,
    last: date | None = None,
    named_only: bool = False,
    fmt: Format = "csv",
) -> CaptureHistory:
    """Write the capture history of the database to `target`; returns it."""
    with engine.connect() as conn:
        history = build_history(counted_encounters(conn), occasion, first, last, named_only)
    if not history.occasions:
        raise ExportError("no identified encounters yet: the capture history would be empty")
    text = _csv(history) if fmt == "csv" else _mark(history)
    temp = target.with_name(f".{target.name}.part")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {e.strerror}") from None
    return history


def _csv(history: CaptureHistory) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["individual", *history.occasions])
    for label, row in history.rows.items():
        writer.writerow([label, *row])
    return out.getvalue()


def _mark(history: CaptureHistory) -> str:
    lines = [f"/* bearid capture history: {len(history.occasions)} occasions, "]
    lines[0] += f"{history.occasions[0]} to {history.occasions[-1]} */"
    for label, row in history.rows.items():
        safe = label.replace("*/", "* /")
        lines.append(f"/* {safe} */ {''.join(map(str, row))} 1;")
    return "\n".join(lines) + "\n"
