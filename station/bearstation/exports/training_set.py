"""The training set: reviewed chips, from the media store, as ``<individual>/<chip>`` folders.

A chip goes in when its encounter's identity was decided by a person (a correction
from a review page: ``decided_by`` human), or, with `min_score`, when the machine
called it ``known`` with a score of at least that value. It is left out, and
counted, when it or its encounter was rejected (not a bear), when the station
has no bytes for it (``chip_media``), when nobody decided it (in review, a
machine decision below the score, or any machine decision without `min_score`),
or when the same bytes are in the set already. Individuals are named through
`training_identity`.

``metadata.csv`` is a wildlife-datasets style table (``image_id, identity, path,
date``, then ``encounter, camera`` and where each chip came from) that
``bear-train split DIR --metadata DIR/metadata.csv`` reads: its encounter is the
box's encounter (``agent/encounter id``), so a leak-free split keeps it whole.
The folder is built beside the target and renamed into place, so a failed export
leaves the previous one whole.
"""

from __future__ import annotations

import csv
import math
import os
import re
import secrets
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Connection, Engine, and_, select

from bearstation.errors import ExportError
from bearstation.exports.records import deployment_id, local
from bearstation.identities import fleet_bears, fleet_ids_of_rows
from bearstation.media.errors import MediaNotFound
from bearstation.media.store import MediaStore
from bearstation.media.types import EXTENSIONS
from bearstation.tables import cameras, chip_media, encounters, media, sightings

COLUMNS = (
    *("image_id", "identity", "path", "date", "encounter", "camera", "agent_id", "file"),
    *("sha256", "decided_by", "score_name", "score"),
)
#: Why chips were left out, in the order (and the words) the summary names them.
LEFT_OUT = {
    "rejected": "rejected",
    "not_reviewed": "not reviewed",
    "no_media": "without media at the station",
    "duplicate": "duplicate bytes",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._-]+")


@dataclass(frozen=True)
class TrainingChip:
    """One chip of the training set: a row of ``metadata.csv``."""

    identity: str
    agent_id: str
    file: str
    sha256: str
    content_type: str
    date: str  # ISO 8601 in the camera's local time
    encounter: str  # agent/encounter id
    camera: str  # agent/site/camera
    decided_by: str
    score_name: str
    score: float


@dataclass
class TrainingSelection:
    """The chips that qualify, and how many were left out for each reason."""

    chips: list[TrainingChip] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class TrainingSetSummary:
    """What an export wrote, and what it left out."""

    directory: Path
    chips: int
    individuals: int
    encounters: int
    by_person: int
    by_machine: int
    left_out: dict[str, int]


def training_identity(conn: Connection) -> Callable[[int], str | None]:
    """The name each individual (``individuals.id``) gets in a training set: the fleet id
    of the fleet-gallery individual it is (merges, links and shared names followed), which
    stays the same when the bear is renamed. An individual the fleet gallery does not hold
    yet (a station database from before it) gets its fleet-wide label
    (`identities.fleet_bears`)."""
    ids = fleet_ids_of_rows(conn)
    bears = fleet_bears(conn)

    def identity(individual_ref: int) -> str | None:
        if individual_ref in ids:
            return ids[individual_ref]
        bear = bears.get(individual_ref)
        return None if bear is None else bear.label

    return identity


def select_training_chips(conn: Connection, min_score: float | None = None) -> TrainingSelection:
    """Every chip that qualifies, oldest first (a pure function of the database)."""
    if min_score is not None and not math.isfinite(min_score):
        raise ExportError(f"--min-score {min_score} is not a number: give e.g. 0.5")
    identity = training_identity(conn)
    selection = TrainingSelection()
    seen: set[str] = set()
    for row in conn.execute(_chip_query()):
        reason = _left_out(row, min_score)
        name = identity(row.individual_ref) if reason is None else None
        if reason is None and name is None:
            reason = "not_reviewed"  # an individual the station cannot resolve
        elif reason is None and (row.sha256 is None or row.content_type is None):
            reason = "no_media"
        elif reason is None and row.sha256 in seen:
            reason = "duplicate"
        if reason is not None or name is None:
            selection.left_out[reason or "not_reviewed"] += 1
            continue
        seen.add(row.sha256)
        selection.chips.append(_chip(row, name))
    return selection


def _chip_query() -> Any:
    return (
        select(
            sightings.c.agent_id,
            sightings.c.file,
            sightings.c.captured_at,
            sightings.c.captured_offset_min,
            sightings.c.rejected,
            encounters.c.encounter_id,
            encounters.c.status,
            encounters.c.individual_ref,
            encounters.c.decided_by,
            encounters.c.score_name,
            encounters.c.score_value,
            cameras.c.site,
            cameras.c.camera,
            chip_media.c.sha256,
            media.c.content_type,
        )
        .join(encounters, encounters.c.id == sightings.c.encounter_ref)
        .join(cameras, cameras.c.id == encounters.c.camera_id)
        .outerjoin(
            chip_media,
            and_(
                chip_media.c.agent_id == sightings.c.agent_id, chip_media.c.file == sightings.c.file
            ),
        )
        .outerjoin(media, media.c.sha256 == chip_media.c.sha256)
        .where(encounters.c.state != "merged")
        .order_by(sightings.c.captured_at, sightings.c.id)
    )


def _left_out(row: Any, min_score: float | None) -> str | None:
    """Why the chip of `row` is left out on its decision alone, or None."""
    if row.rejected or row.status == "rejected":
        return "rejected"
    if row.individual_ref is None or row.status not in ("known", "unknown"):
        return "not_reviewed"
    if row.decided_by == "human":
        return None
    if min_score is not None and row.status == "known" and row.score_value >= min_score:
        return None
    return "not_reviewed"


def _chip(row: Any, identity: str) -> TrainingChip:
    return TrainingChip(
        identity=identity,
        agent_id=row.agent_id,
        file=row.file,
        sha256=row.sha256,
        content_type=row.content_type,
        date=local(row.captured_at, row.captured_offset_min).isoformat(),
        encounter=f"{row.agent_id}/{row.encounter_id}",
        camera=deployment_id(row.agent_id, row.site, row.camera),
        decided_by=row.decided_by,
        score_name=row.score_name,
        score=row.score_value,
    )


def export_training_set(
    engine: Engine, store: MediaStore, directory: Path, *, min_score: float | None = None
) -> TrainingSetSummary:
    """Write the training set of the database and `store` into `directory`."""
    _check_target(directory)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # both queries see one state of the database
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        selection = select_training_chips(conn, min_score)
    building = directory.with_name(f".{directory.name}.part-{secrets.token_hex(4)}")
    try:
        building.mkdir(parents=True)
        written = list(_copy_chips(store, selection, building))
        if not written:
            raise ExportError(_nothing_qualifies(selection.left_out, min_score))
        _write_metadata(building / "metadata.csv", written)
        _swap_into_place(building, directory)
    except OSError as e:
        raise ExportError(f"cannot write the training set {directory}: {e.strerror}") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)
    by_person = sum(1 for _path, chip in written if chip.decided_by == "human")
    return TrainingSetSummary(
        directory=directory,
        chips=len(written),
        individuals=len({chip.identity for _path, chip in written}),
        encounters=len({chip.encounter for _path, chip in written}),
        by_person=by_person,
        by_machine=len(written) - by_person,
        left_out={reason: selection.left_out[reason] for reason in LEFT_OUT},
    )


def _check_target(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"{directory} is a file: give a folder for the training set")
    ours = (directory / "metadata.csv").is_file()
    if directory.is_dir() and not ours and any(directory.iterdir()):
        raise ExportError(
            f"{directory} holds files but no metadata.csv, so it is not a training set "
            "this command wrote: give a new or empty folder (it would be replaced)"
        )


def _copy_chips(
    store: MediaStore, selection: TrainingSelection, building: Path
) -> Iterator[tuple[str, TrainingChip]]:
    """Copy each chip's bytes to ``<identity>/<name>``; chips whose file is gone count as
    having no media."""
    folders: dict[str, str] = {}
    for chip in selection.chips:
        try:
            source = store.path_of(chip.sha256)
        except MediaNotFound:
            selection.left_out["no_media"] += 1
            continue
        folder = folders.get(chip.identity) or _unique(
            _safe(chip.identity) or "individual", set(folders.values())
        )
        folders[chip.identity] = folder
        stem = _safe(PurePosixPath(chip.file).stem)[:80] or "chip"
        relative = f"{folder}/{stem}-{chip.sha256[:10]}{EXTENSIONS[chip.content_type]}"
        (building / folder).mkdir(exist_ok=True)
        shutil.copyfile(source, building / relative)
        yield relative, chip


def _safe(name: str) -> str:
    """`name` as one folder or file name: no separators, no leading dot."""
    return _UNSAFE.sub("_", name).strip(" ._")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate.casefold() in {t.casefold() for t in taken}:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def _write_metadata(path: Path, written: list[tuple[str, TrainingChip]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for relative, chip in written:
            extra = {"image_id": chip.sha256, "path": relative, "score": f"{chip.score:.4f}"}
            writer.writerow({**asdict(chip), **extra})


def _swap_into_place(building: Path, directory: Path) -> None:
    """Rename the new folder to `directory`; an older one is removed after the swap."""
    if not directory.exists():
        os.replace(building, directory)
        return
    old = directory.with_name(f".{directory.name}.old-{secrets.token_hex(4)}")
    os.replace(directory, old)
    os.replace(building, directory)
    shutil.rmtree(old, ignore_errors=True)


def describe_left_out(left_out: dict[str, int] | Counter[str]) -> str:
    """``3 rejected, 12 not reviewed`` (reasons with a count only), or ``none``."""
    parts = [f"{left_out.get(r, 0)} {words}" for r, words in LEFT_OUT.items() if left_out.get(r)]
    return ", ".join(parts) or "none"


def _nothing_qualifies(left_out: Counter[str], min_score: float | None) -> str:
    hint = (
        "review encounters on a review page (or lower --min-score)"
        if min_score is not None
        else "review encounters on a review page, or add machine decisions with --min-score"
    )
    return (
        f"no chip qualifies for the training set (left out: {describe_left_out(left_out)}): {hint}"
    )
