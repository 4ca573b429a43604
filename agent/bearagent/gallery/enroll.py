"""Enrol a folder in the ``<individual>/<image>`` layout into the gallery."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path

import sqlite_utils

from bearagent.chips import CaptureTime, FileNamePattern, capture_time
from bearagent.gallery.embedfiles import embed_files
from bearagent.gallery.errors import GalleryError, InvalidName
from bearagent.gallery.individuals import create_known, find_by_name, validate_name
from bearagent.gallery.reference_encounters import group_encounters
from bearagent.gallery.reference_thumbnails import last_reference_id, store_new_thumbnails
from bearagent.gallery.references import add_references, check_gallery_model
from bearagent.gallery.thumbnails import ensure_schema as ensure_thumbnails
from bearagent.gallery.writes import writing
from bearagent.runtime.base import Embedder


@dataclass
class EnrollReport:
    """What `enroll_folder` did: per individual name, references added; and what it did not."""

    added: dict[str, int] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)
    already_enrolled: list[Path] = field(default_factory=list)
    rejected: dict[Path, str] = field(default_factory=dict)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file())


def _known_sources(db: sqlite_utils.Database) -> set[str]:
    return {str(r[0]) for r in db.execute("SELECT source FROM reference_embeddings").fetchall()}


def enroll_folder(
    db: sqlite_utils.Database,
    root: Path,
    embedder: Embedder,
    *,
    names: FileNamePattern | None = None,
    timezone: tzinfo = UTC,
    agent_id: str | None = None,
) -> EnrollReport:
    """Add every image under ``root/<individual>/`` as a reference of that individual.

    An individual is found by name (case-insensitive) or created. Images already
    enrolled (same resolved path) are skipped, so enrolling a folder again only
    adds what is new. An image that cannot be decoded is reported with its reason.
    Each reference keeps its capture time (sidecar, EXIF, file name via `names`,
    else mtime) and the encounter it belongs to (`group_encounters`). New individuals
    get this box's named ids (``bear-<agent_id>-NNNN``).
    """
    pattern = names if names is not None else FileNamePattern(timezone=timezone)

    def date(path: Path, data: bytes) -> CaptureTime:
        rel = (
            path.relative_to(root.resolve()).as_posix()
            if path.is_relative_to(root.resolve())
            else path.name
        )
        return capture_time(path, rel, data, path.stat().st_mtime, pattern, timezone)

    if not root.is_dir():
        raise GalleryError(
            f"{root} is not a folder: enrol a folder laid out as <individual>/<image>"
        )
    card = embedder.card
    sha = card.model.sha256 or ""
    check_gallery_model(db, sha, card.model.name)
    ensure_thumbnails(db)
    report = EnrollReport()
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise GalleryError(
            f"{root} has no individual folders: lay it out as {root}/<individual>/<image>"
        )
    for stray in sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")):
        report.rejected[stray] = f"{stray}: not inside an <individual>/ folder"
    known = _known_sources(db)  # read once: per folder it would be quadratic
    for folder in folders:
        try:
            name = validate_name(folder.name)
        except InvalidName as e:
            report.rejected[folder] = f"{folder}: {e}"
            continue
        images = [p.resolve() for p in _images(folder)]
        report.already_enrolled += [p for p in images if str(p) in known]
        embedded = embed_files(
            [p for p in images if str(p) not in known], embedder, date, thumbnails=True
        )
        report.rejected.update(embedded.rejected)
        if not embedded.paths:
            continue
        with writing(db):  # one individual at a time: an interruption keeps whole folders
            individual_id = find_by_name(db, name)
            if individual_id is None:
                individual_id = create_known(db, name, agent_id=agent_id)
                report.created[name] = individual_id
            sources = [str(p) for p in embedded.paths]
            matrix = embedded.matrix()
            first = last_reference_id(db)
            report.added[name] = add_references(
                db,
                individual_id,
                matrix,
                sha,
                sources,
                captured_at=[t.when.isoformat() if t else None for t in embedded.captured],
                encounters=group_encounters(embedded.captured, matrix),
            )
            store_new_thumbnails(db, individual_id, first, embedded.thumbs)
        known.update(sources)
    return report
