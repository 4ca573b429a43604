"""The data of bench_loop: a labelled chips folder split into two halves of individuals, and
half B's encounters into the box's gallery, the field, and held-out encounters.

Encounters are bear-train's (`beartrain.data.index_folder` with the `bear-train split`
defaults: bursts within the gap per individual and camera, clips and shot series from
names, near-duplicates of undated chips together), so a burst or a clip is never on two
sides. Each chip gets the capture time the box is told: its own where bear-train dated
it from the data (file name, EXIF, metadata); an encounter nothing dates gets a slot of
its own (two hours apart, far from every real time), its chips a second apart.

Each encounter arrives on a box camera of its own (``<individual>-NN``): bear-train's
encounters of one cow may overlap in time (two cameras at once; a clip linked to chips
of other days by near-duplicates), and on one box camera the box would join them, so a
held-out chip could join a reviewed field encounter.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from beartrain.data.config import DataConfig
from beartrain.data.index import ChipIndex, index_folder
from beartrain.data.records import ChipRow
from beartrain.splits.make import grouping_rule

#: Where undated encounters are placed in time (before every real capture of the data).
SLOTS_FROM = datetime(2020, 1, 1, 6, 0, tzinfo=UTC)
SLOT_STEP = timedelta(hours=2)
SITE = "barn"


@dataclass(frozen=True)
class Chip:
    """One chip of the data set, with the capture time the box is told."""

    path: str  # relative to the data root: <individual>/<file>
    individual: str
    captured_at: datetime
    dated: bool  # False: a slot of its own (nothing in the data dates it)
    camera: str = ""  # the box camera of its encounter (one per encounter: see above)

    @property
    def box_file(self) -> str:
        """Its path under the box's watch root (what the box's events call `file`)."""
        return f"{SITE}/{self.camera}/{Path(self.path).name}"


@dataclass(frozen=True)
class Encounter:
    """One of bear-train's encounters: chips of one individual that never part."""

    id: str
    individual: str
    chips: tuple[Chip, ...]


@dataclass
class LoopData:
    """The two halves and the three uses of half B's encounters."""

    root: Path
    half_a: list[str]
    half_b: list[str]
    rows_a: list[ChipRow]  # half A's chips as bear-train indexed them
    gallery: list[Encounter] = dataclasses.field(default_factory=list)
    field: list[Encounter] = dataclasses.field(default_factory=list)
    heldout: list[Encounter] = dataclasses.field(default_factory=list)
    leak_rule: str = ""

    def truth(self) -> dict[str, str]:
        """Box file -> individual, for every chip of half B."""
        return {c.box_file: c.individual for e in self.encounters_b() for c in e.chips}

    def encounters_b(self) -> list[Encounter]:
        """Every encounter of half B."""
        return [*self.gallery, *self.field, *self.heldout]


def _timed(index: ChipIndex) -> dict[str, list[Chip]]:
    """Encounter id -> its chips with capture times (see the module docstring)."""
    members: defaultdict[str, list[tuple[ChipRow, bool]]] = defaultdict(list)
    for row, scanned in zip(index.rows, index.chips, strict=True):
        members[row.encounter].append((row, scanned.dated() and row.captured_at is not None))
    out: dict[str, list[Chip]] = {}
    slot = 0
    for encounter in sorted(members):
        rows = sorted(members[encounter], key=lambda m: m[0].path)
        dated = [r.captured_at for r, ok in rows if ok and r.captured_at is not None]
        if dated:
            first = min(dated)
            out[encounter] = [
                Chip(r.path, r.individual, r.captured_at if ok and r.captured_at else first, True)
                for r, ok in rows
            ]
        else:
            start = SLOTS_FROM + slot * SLOT_STEP
            slot += 1
            out[encounter] = [
                Chip(r.path, r.individual, start + timedelta(seconds=i), False)
                for i, (r, _ok) in enumerate(rows)
            ]
    return out


def _roles(
    encounters: list[Encounter], rng: np.random.Generator, gallery: int, heldout_share: float
) -> tuple[list[Encounter], list[Encounter], list[Encounter]]:
    """One individual's encounters: (gallery, field, held-out). At least one of each when it
    has three or more; fewer, and all of them enrol the gallery."""
    order = [encounters[i] for i in rng.permutation(len(encounters))]
    if len(order) < 3:
        return order, [], []
    g = max(1, min(gallery, len(order) - 2))
    rest = len(order) - g
    h = min(rest - 1, max(1, round(heldout_share * rest)))
    return order[:g], order[g + h :], order[g : g + h]


def prepare(
    root: Path,
    *,
    seed: int,
    gallery_per_individual: int,
    heldout_share: float,
    individuals: int | None = None,
) -> LoopData:
    """Index `root` (``<individual>/<chip>``), halve its individuals (seeded) and share half
    B's encounters out; `individuals` keeps only that many (seeded) for a smaller run."""
    data_cfg = DataConfig()
    index = index_folder(data_cfg, root)
    timed = _timed(index)
    everyone = sorted({r.individual for r in index.rows})
    rng = np.random.default_rng(seed)
    if individuals is not None and individuals < len(everyone):
        everyone = sorted(everyone[i] for i in rng.permutation(len(everyone))[:individuals])
    shuffled = [everyone[i] for i in rng.permutation(len(everyone))]
    half_a, half_b = sorted(shuffled[: len(shuffled) // 2]), sorted(shuffled[len(shuffled) // 2 :])
    in_a = set(half_a)
    data = LoopData(root, half_a, half_b, [r for r in index.rows if r.individual in in_a])
    data.leak_rule = grouping_rule(data_cfg)
    by_individual: defaultdict[str, list[Encounter]] = defaultdict(list)
    for encounter, chips in sorted(timed.items()):
        who = chips[0].individual
        camera = f"{who}-{len(by_individual[who]):02d}"
        placed = tuple(dataclasses.replace(c, camera=camera) for c in chips)
        by_individual[who].append(Encounter(encounter, who, placed))
    for who in half_b:
        g, f, h = _roles(by_individual[who], rng, gallery_per_individual, heldout_share)
        data.gallery += g
        data.field += f
        data.heldout += h
    return data


def write_chip(source: Path, target: Path, when: datetime, *, sidecar: bool) -> None:
    """Copy a chip as a copy tool does (a temporary name, then a rename into place), dated
    `when` by its modification time and, with `sidecar`, by a ``<chip>.json`` written first
    (as an upstream detector does)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if sidecar:
        (target.parent / f"{target.name}.json").write_text(
            json.dumps({"captured_at": when.isoformat()}), encoding="utf-8"
        )
    temp = target.parent / f".{target.name}.part"
    shutil.copyfile(source, temp)
    os.utime(temp, (when.timestamp(), when.timestamp()))
    os.replace(temp, target)


def write_gallery_folder(data: LoopData, folder: Path) -> int:
    """The enrolment folder ``<individual>/<chip>`` of the gallery encounters (dated by
    file name or modification time, as `bearagent gallery enroll` reads them); chips."""
    count = 0
    for encounter in data.gallery:
        for chip in encounter.chips:
            target = folder / chip.individual / Path(chip.path).name
            write_chip(data.root / chip.path, target, chip.captured_at, sidecar=False)
            count += 1
    return count


def drop_encounters(data: LoopData, encounters: list[Encounter], traps: Path) -> int:
    """The encounters' chips into a box's watch root, oldest encounter first, each with its
    sidecar; chips written."""
    ordered = sorted(encounters, key=lambda e: (min(c.captured_at for c in e.chips), e.id))
    count = 0
    for encounter in ordered:
        for chip in sorted(encounter.chips, key=lambda c: (c.captured_at, c.path)):
            write_chip(data.root / chip.path, traps / chip.box_file, chip.captured_at, sidecar=True)
            count += 1
    return count


def chip_count(encounters: list[Encounter]) -> int:
    """Chips of `encounters`."""
    return sum(len(e.chips) for e in encounters)
