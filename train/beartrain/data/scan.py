"""Walking a chips folder and dating every chip: metadata CSV, EXIF, file name, then mtime."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from bearagent.chips import read_capture_time
from beartrain.data.config import DataConfig
from beartrain.data.errors import ChipsFolderError, DataConfigError, MetadataError
from beartrain.data.metadata import MetadataEntry, read_metadata, table_lists_chips
from beartrain.data.names import NameFields, NameParser, localise

#: Where a chip's capture time came from, best first; "none" when nothing dated it.
TimeSource = Literal["metadata", "exif", "filename", "mtime", "none"]
TIME_SOURCES: tuple[TimeSource, ...] = ("metadata", "exif", "filename", "mtime", "none")


@dataclass(frozen=True)
class ScannedChip:
    """A chip found on disk, dated, before it is grouped into an encounter."""

    path: str  # POSIX, relative to the root
    individual: str
    camera: str
    captured_at: datetime | None
    source: TimeSource
    clip: str  # video clip or shot series from the file name; "" when none
    clip_end: datetime | None  # end of the clip, when the name tells it
    encounter: str  # from the metadata CSV; "" when it names none
    stem: str = ""  # the source photo a crop was cut from (source_stem_pattern); "" when none
    counter: bool = False  # the name is a bare number (001.jpg): it tells nothing apart

    def dated(self, mtime_encounters: bool = False) -> bool:
        """Whether the capture time is one that may chain bursts (mtime only when allowed)."""
        return self.captured_at is not None and (self.source != "mtime" or mtime_encounters)


@dataclass(frozen=True)
class Scan:
    """Every chip under a root, and the files that were passed over."""

    root: Path
    chips: list[ScannedChip]
    skipped: list[str]  # files that are not chips (other extensions, loose files at the root)


def scan_chips(root: Path, cfg: DataConfig) -> Scan:
    """Find and date every chip in the layout ``<root>/<individual>/<image>``."""
    if not root.is_dir():
        raise ChipsFolderError(
            f"chips folder {root} does not exist: give the folder that holds one "
            "sub-folder per individual"
        )
    parser = NameParser(cfg)
    stems = _stem_pattern(cfg)
    metadata = read_metadata(cfg.metadata_csv, parser.timezone) if cfg.metadata_csv else {}
    if table_lists_chips(metadata):
        files, skipped = sorted(metadata), list[str]()
        missing = [rel for rel in files if not (root / rel).is_file()]
    else:
        files, skipped = _walk(root, {e.lower() for e in cfg.extensions})
        missing = sorted(set(metadata) - set(files))
    if not files:
        raise ChipsFolderError(
            f"no chips in {root}: expected <root>/<individual>/<image> with an extension "
            f"among {', '.join(cfg.extensions)}, or a metadata table (--metadata) that lists them"
        )
    if missing:
        kind = (
            "metadata CSV" if str(cfg.metadata_csv).lower().endswith(".csv") else "metadata table"
        )
        raise MetadataError(
            f"{kind} {cfg.metadata_csv} lists {len(missing)} chips that are not in {root} "
            f"(first: {missing[0]}): paths must be relative to the chips folder"
        )
    chips = [
        _date_chip(root, rel, metadata.get(rel, MetadataEntry()), parser, cfg, stems)
        for rel in sorted(files)
    ]
    return Scan(root=root, chips=chips, skipped=skipped)


def _walk(root: Path, extensions: set[str]) -> tuple[list[str], list[str]]:
    """Chip paths (relative, POSIX) and skipped files; dotfiles and dot-folders are ignored."""
    chips: list[str] = []
    skipped: list[str] = []
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        if "/" in rel and path.suffix.lower() in extensions:
            chips.append(rel)
        else:
            skipped.append(rel)
    return chips, sorted(skipped)


def _files(folder: Path) -> Iterator[Path]:
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _files(entry)
        elif entry.is_file():
            yield entry


def _stem_pattern(cfg: DataConfig) -> re.Pattern[str]:
    try:
        pattern = re.compile(cfg.source_stem_pattern)
    except re.error as e:
        raise DataConfigError(
            f"source_stem_pattern is not a valid regular expression ({e}): fix it or leave it "
            "out to use the default"
        ) from e
    if "stem" not in pattern.groupindex:
        raise DataConfigError("source_stem_pattern needs a named group 'stem', e.g. (?P<stem>...)")
    return pattern


def _date_chip(
    root: Path,
    rel: str,
    meta: MetadataEntry,
    parser: NameParser,
    cfg: DataConfig,
    stems: re.Pattern[str],
) -> ScannedChip:
    name: NameFields = parser.parse(rel)
    when, source = _capture_time(root / rel, meta, name, parser, cfg)
    file_stem = PurePosixPath(rel).stem
    match = stems.match(file_stem)
    return ScannedChip(
        path=rel,
        individual=meta.individual or rel.split("/", 1)[0],
        camera=meta.camera or name.camera,
        captured_at=when,
        source=source,
        clip=name.clip,
        clip_end=name.end,
        encounter=meta.encounter,
        stem=match.group("stem") if match and match.group("stem") else "",
        counter=file_stem.isdigit(),
    )


def _capture_time(
    path: Path, meta: MetadataEntry, name: NameFields, parser: NameParser, cfg: DataConfig
) -> tuple[datetime | None, TimeSource]:
    if meta.captured_at is not None:
        return meta.captured_at, "metadata"
    try:
        exif = read_capture_time(path.read_bytes())
        mtime = path.stat().st_mtime
    except OSError as e:
        raise ChipsFolderError(
            f"cannot read chip {path} ({e.strerror}): fix its permissions or move it away"
        ) from e
    if exif is not None:
        return localise(exif, parser.timezone), "exif"
    if name.time is not None:
        return name.time, "filename"
    if cfg.use_mtime:
        return datetime.fromtimestamp(mtime, tz=UTC), "mtime"
    return None, "none"
