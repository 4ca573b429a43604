"""The demo's bears: what the embedder trains on, and what later walks past the cameras.

Synthetic by default: `individuals` bears whose last encounter is kept back for
the field, and `strangers` that neither training nor the gallery ever saw (two
visits each, to show that the second visit is a sighting of the first one's
provisional id). With a real chips folder, each individual's last encounter (by
capture time) is kept back for the field and the rest is linked in for training.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bearid_dev.demo.options import DemoOptions
from beartrain.data.config import DataConfig
from beartrain.data.index import index_chips
from beartrain.synthetic import SyntheticConfig, encode_jpeg, iter_population


@dataclass(frozen=True)
class FieldEncounter:
    """A burst that the demo drops into a camera folder, with the truth about it."""

    individual: str
    known: bool  # the gallery has other encounters of it
    files: list[Path]  # in capture order


@dataclass(frozen=True)
class DemoData:
    """Training chips and the field encounters."""

    chips: Path  # <individual>/<image>, for split, fit and enrolment
    field: list[FieldEncounter]


def prepare_data(opts: DemoOptions) -> DemoData:
    """Write (or link) the demo's chips under `opts.workdir`."""
    return _real(opts, opts.chips) if opts.chips is not None else _synthetic(opts)


def _synthetic(opts: DemoOptions) -> DemoData:
    chips, field_dir = opts.workdir / "chips", opts.workdir / "field"
    known = _population(opts, opts.individuals, 0, (5, 6))
    strangers = _population(opts, opts.strangers, opts.individuals, (2, 2))
    bursts: dict[tuple[str, str], list[Path]] = defaultdict(list)  # (individual, encounter)
    last_of: dict[str, str] = {}
    for record, chip in iter_population(known):
        last_of[record.individual] = record.encounter
        bursts[(record.individual, record.encounter)].append(chips / record.path)
        _write(chips / record.path, encode_jpeg(chip, record.captured_at))
    field = []
    for individual, encounter in last_of.items():
        files = []
        for path in bursts[(individual, encounter)]:  # kept back: never trained on, never enrolled
            files.append(field_dir / path.relative_to(chips))
            _write(files[-1], path.read_bytes())
            path.unlink()
        field.append(FieldEncounter(individual, True, files))
    unseen: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for record, chip in iter_population(strangers):
        unseen[(record.individual, record.encounter)].append(field_dir / record.path)
        _write(field_dir / record.path, encode_jpeg(chip, record.captured_at))
    field += [FieldEncounter(who, False, files) for (who, _), files in unseen.items()]
    return DemoData(chips, field)


def _population(
    opts: DemoOptions, individuals: int, first_index: int, encounters: tuple[int, int]
) -> SyntheticConfig:
    return SyntheticConfig(
        individuals=individuals,
        first_index=first_index,
        min_encounters=encounters[0],
        max_encounters=encounters[1],
        min_frames=3,
        max_frames=4,
        size=opts.input_size,
        nuisance=opts.nuisance,
        seed=opts.seed,
    )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _real(opts: DemoOptions, source: Path) -> DemoData:
    rows = sorted(
        index_chips(DataConfig(root=source)),
        key=lambda r: (r.captured_at is None, r.captured_at, r.path),
    )
    bursts: dict[str, list[Path]] = defaultdict(list)
    encounters_of: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.encounter not in bursts:
            encounters_of[row.individual].append(row.encounter)
        bursts[row.encounter].append(source / row.path)
    kept_back = {encs[-1] for encs in encounters_of.values()}
    chips = opts.workdir / "chips"
    for row in rows:
        if row.encounter not in kept_back:
            link = chips / row.path
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to((source / row.path).resolve())
    field = [
        FieldEncounter(who, len(encs) > 1, bursts[encs[-1]]) for who, encs in encounters_of.items()
    ]
    return DemoData(chips, field)
