"""Grouping dated chips into encounters: the bursts a split must never cut in two.

An encounter is one individual in front of one camera: chips whose capture times
follow each other within the gap, or the frames of one video clip (or manual shot
series). Clips chain with chips and other clips of the same individual and camera
within the gap too. Undated chips that no clip groups are an encounter each. An id
from the metadata CSV wins.

Ids are ``<individual>/<key>``, where the key is the file (path below the
individual's folder) or ``clip:<clip>`` of the encounter's earliest member: the
same folder always yields the same ids, and two encounters never share one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from beartrain.data.records import ChipRow
from beartrain.data.scan import ScannedChip


@dataclass
class _Unit:
    """Chips that belong together before chaining: one clip, or one chip."""

    key: str
    individual: str
    camera: str
    chips: list[ScannedChip] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None


def group_encounters(
    chips: list[ScannedChip], gap_s: float, mtime_encounters: bool = False
) -> list[ChipRow]:
    """`ChipRow`s of `chips` (sorted by path), each with the id of its encounter."""
    encounter_of = _metadata_encounters(chips)
    units = _units([c for c in chips if c.path not in encounter_of], mtime_encounters)
    for members in _chain(units, timedelta(seconds=gap_s)):
        first = members[0]
        for unit in members:
            for chip in unit.chips:
                encounter_of[chip.path] = f"{first.individual}/{first.key}"
    return [
        ChipRow(c.path, c.individual, c.camera, c.captured_at, encounter_of[c.path])
        for c in sorted(chips, key=lambda c: c.path)
    ]


def _metadata_encounters(chips: list[ScannedChip]) -> dict[str, str]:
    """Encounter ids the CSV gives; one used for several individuals is split per individual."""
    owners: defaultdict[str, set[str]] = defaultdict(set)
    for c in chips:
        if c.encounter:
            owners[c.encounter].add(c.individual)
    return {
        c.path: c.encounter if len(owners[c.encounter]) == 1 else f"{c.individual}/{c.encounter}"
        for c in chips
        if c.encounter
    }


def _units(chips: list[ScannedChip], mtime_encounters: bool) -> list[_Unit]:
    units: dict[tuple[str, str], _Unit] = {}
    for c in sorted(chips, key=lambda c: c.path):
        key = f"clip:{c.clip}" if c.clip else c.path.split("/", 1)[-1]
        unit = units.setdefault((c.individual, key), _Unit(key, c.individual, c.camera))
        unit.chips.append(c)
        chainable = c.source != "mtime" or mtime_encounters
        if c.captured_at is not None and chainable:
            last = max(c.captured_at, c.clip_end or c.captured_at)
            unit.start = c.captured_at if unit.start is None else min(unit.start, c.captured_at)
            unit.end = last if unit.end is None else max(unit.end, last)
    return list(units.values())


def _chain(units: list[_Unit], gap: timedelta) -> list[list[_Unit]]:
    """Units merged into encounters: dated ones chain per individual and camera."""
    encounters: list[list[_Unit]] = []
    streams: defaultdict[tuple[str, str], list[tuple[datetime, datetime, _Unit]]]
    streams = defaultdict(list)
    for unit in units:
        if unit.start is None or unit.end is None:
            encounters.append([unit])
        else:
            streams[(unit.individual, unit.camera)].append((unit.start, unit.end, unit))
    for stream in streams.values():
        stream.sort(key=lambda s: (s[0], s[2].key))
        current: list[_Unit] = []
        end: datetime | None = None
        for start, stop, unit in stream:
            if end is not None and start - end <= gap:
                current.append(unit)
                end = max(end, stop)
            else:
                if current:
                    encounters.append(current)
                current, end = [unit], stop
        encounters.append(current)
    return encounters
