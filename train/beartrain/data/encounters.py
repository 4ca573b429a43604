"""Grouping chips into encounters: the bursts a split must never cut in two.

An encounter is one individual in front of one camera. In this order:

1. an id from the metadata table wins;
2. *time*: chips whose capture times follow each other within the gap, per
   individual and camera; *clip*: the frames of one video clip or manual shot
   series (from the name), which chain with chips and other clips within the gap;
3. undated chips (a file modification time does not date them, unless
   ``mtime_encounters``): *stem*: crops of one source photo (the name's
   source-photo stem); *series*: chips named by a bare number (``001.jpg``) in
   one folder, which nothing tells apart; else the chip alone (*single*);
4. *content*: an undated chip and whatever it nearly duplicates (perceptual
   hash, optionally the frozen backbone's cosine; `beartrain.data.content`)
   share an encounter, transitively.

Ids are ``<individual>/<key>``, where the key is the file (path below the
individual's folder), ``clip:<clip>``, ``stem:<stem>`` or ``series:<folder>`` of
the encounter's first member: the same folder always yields the same ids, and
two encounters never share one. `Grouping.formed` says how each was formed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from beartrain.data.config import DataConfig
from beartrain.data.content import UnionFind, hamming, near_pairs
from beartrain.data.records import ChipRow
from beartrain.data.scan import ScannedChip

#: How an encounter was formed, in report order.
FORMED_BY = ("metadata", "time", "clip", "stem", "series", "content", "single")
#: (paths of one individual's chips, their undated flags) -> (N, N) near-duplicate matrix.
SimilarChips = Callable[[list[str], NDArray[np.bool_]], NDArray[np.bool_]]


@dataclass
class _Unit:
    """Chips that belong together before chaining: one clip, stem, series or chip."""

    key: str
    individual: str
    camera: str
    how: str
    chips: list[ScannedChip] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Grouping:
    """Chip rows with their encounter ids, and how each encounter was formed."""

    rows: list[ChipRow]  # sorted by path
    formed: dict[str, frozenset[str]]  # encounter id -> subset of FORMED_BY


def group_encounters(
    chips: list[ScannedChip],
    cfg: DataConfig,
    hashes: dict[str, int] | None = None,
    similar: SimilarChips | None = None,
) -> Grouping:
    """Group `chips` into encounters (see the module docstring).

    `hashes` (path -> perceptual hash) and `similar` (e.g. backbone cosine) link
    near-duplicates; without them only names and times group chips.
    """
    encounter_of = _metadata_encounters(chips)
    formed: defaultdict[str, set[str]] = defaultdict(set)
    for encounter in set(encounter_of.values()):
        formed[encounter].add("metadata")
    units = _units([c for c in chips if c.path not in encounter_of], cfg)
    for members in _chain(units, timedelta(seconds=cfg.encounter_gap_s)):
        first = members[0]
        encounter = f"{first.individual}/{first.key}"
        for unit in members:
            formed[encounter].add(unit.how)
            for chip in unit.chips:
                encounter_of[chip.path] = encounter
    if hashes is not None or similar is not None:
        _link_content(chips, cfg, encounter_of, formed, hashes, similar)
    rows = [
        ChipRow(c.path, c.individual, c.camera, c.captured_at, encounter_of[c.path])
        for c in sorted(chips, key=lambda c: c.path)
    ]
    used = {r.encounter for r in rows}
    return Grouping(rows, {e: frozenset(formed[e]) for e in sorted(used)})


def _metadata_encounters(chips: list[ScannedChip]) -> dict[str, str]:
    """Encounter ids the table gives; one used for several individuals is split per individual."""
    owners: defaultdict[str, set[str]] = defaultdict(set)
    for c in chips:
        if c.encounter:
            owners[c.encounter].add(c.individual)
    return {
        c.path: c.encounter if len(owners[c.encounter]) == 1 else f"{c.individual}/{c.encounter}"
        for c in chips
        if c.encounter
    }


def _unit_key(c: ScannedChip, cfg: DataConfig) -> tuple[str, str]:
    """(key, how) of the unit a chip starts in."""
    if c.clip:
        return f"clip:{c.clip}", "clip"
    if not c.dated(cfg.mtime_encounters):
        folder = c.path.rsplit("/", 1)[0]
        if c.stem:
            return f"stem:{folder}/{c.stem}", "stem"
        if c.counter and cfg.counter_series:
            return f"series:{folder}", "series"
        return c.path.split("/", 1)[-1], "single"
    return c.path.split("/", 1)[-1], "time"


def _units(chips: list[ScannedChip], cfg: DataConfig) -> list[_Unit]:
    units: dict[tuple[str, str], _Unit] = {}
    for c in sorted(chips, key=lambda c: c.path):
        key, how = _unit_key(c, cfg)
        unit = units.setdefault((c.individual, key), _Unit(key, c.individual, c.camera, how))
        unit.chips.append(c)
        if c.dated(cfg.mtime_encounters) and c.captured_at is not None:
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


def _link_content(
    chips: list[ScannedChip],
    cfg: DataConfig,
    encounter_of: dict[str, str],
    formed: defaultdict[str, set[str]],
    hashes: dict[str, int] | None,
    similar: SimilarChips | None,
) -> None:
    """Merge the encounters of near-duplicates that involve an undated chip (in place)."""
    by_individual: defaultdict[str, list[ScannedChip]] = defaultdict(list)
    for c in chips:
        by_individual[c.individual].append(c)
    sets = UnionFind()
    for members in by_individual.values():
        undated = np.array([not c.dated(cfg.mtime_encounters) for c in members])
        if not undated.any() or len(members) < 2:
            continue
        close = np.zeros((len(members), len(members)), dtype=bool)
        if hashes is not None:
            close |= hamming([hashes[c.path] for c in members]) <= cfg.hash_distance
        if similar is not None:
            close |= similar([c.path for c in members], undated)
        for i, j in near_pairs(close, undated):
            a, b = encounter_of[members[i].path], encounter_of[members[j].path]
            if sets.union(a, b):
                formed[a].add("content")
                formed[b].add("content")
    merged: defaultdict[str, set[str]] = defaultdict(set)
    for path, encounter in encounter_of.items():
        root = sets.find(encounter)
        if root != encounter:
            merged[root] |= formed[encounter]
        encounter_of[path] = root
    for root, hows in merged.items():
        formed[root] |= hows
