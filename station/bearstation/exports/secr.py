"""Spatial capture-recapture inputs for R's secr and oSCR.

Detectors are the cameras (one trap per box x camera that operated in the range,
at its projected coordinates, see `projection`); occasions are days or ISO weeks
(the grid of the capture history); a detection is a counted encounter of a
fleet-wide bear (see `capture_history`), at its camera, on the occasion it
started (local time). Cameras allow repeat detections: secr's ``count``
detector, one capture row per detection. Usage is the number of days each
camera operated in each occasion (`operation`).

Files (`FILES`): ``captures.txt`` and ``traps.txt`` for
``secr::read.capthist(captfile, trapfile, fmt = "trapID", detector = "count")``
(usage codes per occasion: read as 0/1 by default, as days with
``binary.usage = FALSE``); ``oscr_edf.csv`` and ``oscr_tdf.csv`` for
``oSCR::data2oscr`` (trap operation 0/1); ``occasions.csv``, ``detectors.csv`` and
``individuals.csv`` to map the files' ids back to dates, cameras and bears; and
``README.md`` with the coordinate system and the R calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection

from bearstation.errors import ExportError
from bearstation.exports.capture_history import (
    Occasion,
    occasion_label,
    occasion_length,
    occasion_start,
    occasion_starts,
)
from bearstation.exports.operation import CameraDays, UsageRule, camera_days
from bearstation.exports.projection import Projection, choose_projection
from bearstation.exports.records import Deployment, all_deployments, counted_encounters

FILES = (
    "captures.txt",
    "traps.txt",
    "oscr_edf.csv",
    "oscr_tdf.csv",
    "occasions.csv",
    "detectors.csv",
    "individuals.csv",
    "README.md",
)
_SESSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


@dataclass(frozen=True)
class SecrOptions:
    """What to export: occasions, range, individuals, usage rule, session, projection."""

    occasion: Occasion = "day"
    first: date | None = None
    last: date | None = None
    named_only: bool = False
    usage: UsageRule = "evidence"
    session: str = "bearid"
    crs: str | None = None
    utm_zone: str | None = None


@dataclass(frozen=True)
class Trap:
    """One camera as a detector."""

    trap_id: str  # no spaces, commas or underscores (secr's rule)
    deployment: Deployment
    x: float
    y: float
    usage: list[int]  # days operating in each occasion


@dataclass(frozen=True)
class Detection:
    """One counted encounter: a bear at a trap on an occasion (1-based)."""

    individual: str
    occasion: int
    trap_id: str


@dataclass
class SecrData:
    """Everything the files hold."""

    options: SecrOptions
    projection: Projection
    starts: list[date]  # first day of each occasion
    traps: list[Trap]
    detections: list[Detection]
    individuals: dict[str, tuple[str, bool]] = field(default_factory=dict)  # id -> label, named

    @property
    def occasion_labels(self) -> list[str]:
        """``2026-06-01`` or ``2026-W23`` per occasion."""
        return [occasion_label(s, self.options.occasion) for s in self.starts]


def build_secr(conn: Connection, options: SecrOptions) -> SecrData:
    """The detectors, occasions and detections of the database (no files)."""
    if _SESSION.fullmatch(options.session) is None:
        raise ExportError(
            f"--session {options.session!r}: secr reads letters, digits, '.' and '-' only "
            "(no spaces or commas), e.g. kuhmo-2026"
        )
    cameras = camera_days(conn)
    if not cameras:
        raise ExportError("the station has no chips yet: no camera to make a detector of")
    starts = occasion_starts(
        options.first or min(c.first for c in cameras),
        options.last or max(c.last for c in cameras),
        options.occasion,
    )
    usage = {c.deployment_id: _usage(c, options, starts) for c in cameras}
    used = [d for d in all_deployments(conn) if any(usage.get(d.deployment_id, []))]
    if not used:
        raise ExportError(f"no camera operated between {starts[0]} and {_end(starts, options)}")
    _check_coordinates(used)
    projection = choose_projection(
        [
            (d.latitude, d.longitude)
            for d in used
            if d.latitude is not None and d.longitude is not None
        ],
        crs=options.crs,
        zone=options.utm_zone,
    )
    xy = projection.project([(d.latitude or 0.0, d.longitude or 0.0) for d in used])
    ids = unique_ids((d.deployment_id.replace("/", ".") for d in used), r"[^A-Za-z0-9.-]+", "-")
    traps = [
        Trap(i, d, x, y, usage[d.deployment_id]) for i, d, (x, y) in zip(ids, used, xy, strict=True)
    ]
    data = SecrData(options, projection, starts, traps, [])
    _add_detections(conn, data)
    if not data.detections:
        raise ExportError(
            f"no identified encounters between {starts[0]} and {_end(starts, options)}: the "
            "capture file would be empty"
        )
    return data


def _end(starts: list[date], options: SecrOptions) -> date:
    return starts[-1] + occasion_length(options.occasion) - occasion_length("day")


def _usage(camera: CameraDays, options: SecrOptions, starts: list[date]) -> list[int]:
    """Days operating in each occasion."""
    index = {s: i for i, s in enumerate(starts)}
    days = [0] * len(starts)
    for day in camera.operating(options.usage):
        i = index.get(occasion_start(day, options.occasion))
        if i is not None:
            days[i] += 1
    return days


def _check_coordinates(used: list[Deployment]) -> None:
    missing = [d.deployment_id for d in used if d.latitude is None or d.longitude is None]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ExportError(
            f"spatial capture-recapture needs the coordinates of every camera that operated; "
            f"these have none: {shown}. Set them with 'bear-station locate {missing[0]} --lat "
            "LAT --lon LON' (or --csv FILE for many)"
        )


def _add_detections(conn: Connection, data: SecrData) -> None:
    options = data.options
    trap_of = {t.deployment.deployment_id: t.trap_id for t in data.traps}
    occasion_of = {s: i + 1 for i, s in enumerate(data.starts)}
    found: list[tuple[str, bool, int, str]] = []
    for enc in counted_encounters(conn):
        if enc.bear is None or (options.named_only and not enc.bear.named):
            continue
        occasion = occasion_of.get(occasion_start(enc.started_at.date(), options.occasion))
        if occasion is None or enc.deployment_id not in trap_of:
            continue
        found.append((enc.bear.label, enc.bear.named, occasion, trap_of[enc.deployment_id]))
    labels = sorted({(label, named) for label, named, _o, _t in found})
    ids = unique_ids((label for label, _named in labels), r"[^A-Za-z0-9.-]+", "_")
    id_of = {label: i for i, (label, _named) in zip(ids, labels, strict=True)}
    data.individuals = {i: labels[n] for n, i in enumerate(ids)}
    data.detections = sorted(
        (Detection(id_of[label], occasion, trap) for label, _named, occasion, trap in found),
        key=lambda d: (d.occasion, d.individual, d.trap_id),
    )


def unique_ids(names: Iterable[str], unsafe: str, replacement: str) -> list[str]:
    """Each name with every run of characters matching `unsafe` replaced by `replacement`,
    made unique with ``-2``, ``-3``... (ids in the files must not clash)."""
    pattern = re.compile(unsafe)
    taken: set[str] = set()
    ids = []
    for name in names:
        base = pattern.sub(replacement, name).strip("._-") or "x"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        ids.append(candidate)
    return ids
