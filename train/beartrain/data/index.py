"""Indexing a chips folder: every chip dated and placed in an encounter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from beartrain.data.config import DataConfig
from beartrain.data.encounters import group_encounters
from beartrain.data.errors import ChipsFolderError
from beartrain.data.records import ChipRow
from beartrain.data.scan import Scan, ScannedChip, scan_chips


@dataclass(frozen=True)
class ChipIndex:
    """The chips of a folder as `ChipRow`s, with how each was dated."""

    scan: Scan
    rows: list[ChipRow]  # sorted by path, parallel to scan.chips

    @property
    def chips(self) -> list[ScannedChip]:
        """The scanned chips (time source, clip) in the order of `rows`."""
        return self.scan.chips


def index_folder(cfg: DataConfig, root: Path | None = None) -> ChipIndex:
    """Walk, date and group the chips of `root` (default: ``cfg.root``)."""
    folder = root if root is not None else cfg.root
    if folder is None:
        raise ChipsFolderError("no chips folder given: pass ROOT or set data.root")
    scan = scan_chips(folder, cfg)
    rows = group_encounters(scan.chips, cfg.encounter_gap_s, cfg.mtime_encounters)
    return ChipIndex(scan=scan, rows=rows)


def index_chips(cfg: DataConfig, root: Path | None = None) -> list[ChipRow]:
    """The `ChipRow`s of `root` (default: ``cfg.root``), sorted by path."""
    return index_folder(cfg, root).rows
