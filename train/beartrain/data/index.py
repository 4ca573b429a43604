"""Indexing a chips folder: every chip dated and placed in an encounter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from beartrain.data.config import DataConfig
from beartrain.data.content import perceptual_hash
from beartrain.data.encounters import Grouping, SimilarChips, group_encounters
from beartrain.data.errors import ChipsFolderError
from beartrain.data.records import ChipRow
from beartrain.data.scan import Scan, ScannedChip, scan_chips


@dataclass(frozen=True)
class ChipIndex:
    """The chips of a folder as `ChipRow`s, with how each was dated and grouped."""

    scan: Scan
    rows: list[ChipRow]  # sorted by path, parallel to scan.chips
    formed: dict[str, frozenset[str]]  # encounter id -> how it was formed (FORMED_BY)

    @property
    def chips(self) -> list[ScannedChip]:
        """The scanned chips (time source, clip) in the order of `rows`."""
        return self.scan.chips


def content_hashes(scan: Scan, cfg: DataConfig) -> dict[str, int] | None:
    """Perceptual hashes of the chips of individuals that have undated chips (or None)."""
    if cfg.content_grouping not in ("hash", "both"):
        return None
    needed = {c.individual for c in scan.chips if not c.dated(cfg.mtime_encounters)}
    return {
        c.path: perceptual_hash(scan.root / c.path) for c in scan.chips if c.individual in needed
    }


def backbone_similar(scan: Scan, cfg: DataConfig) -> SimilarChips | None:
    """The frozen-backbone near-duplicate test when the config asks for it (needs torch)."""
    if cfg.content_grouping not in ("backbone", "both"):
        return None
    from beartrain.data.content_backbone import BackboneSimilarity

    return BackboneSimilarity(scan.root, cfg.backbone_similarity)


def index_folder(cfg: DataConfig, root: Path | None = None) -> ChipIndex:
    """Walk, date and group the chips of `root` (default: ``cfg.root``)."""
    folder = root if root is not None else cfg.root
    if folder is None:
        raise ChipsFolderError("no chips folder given: pass ROOT or set data.root")
    scan = scan_chips(folder, cfg)
    grouping: Grouping = group_encounters(
        scan.chips, cfg, content_hashes(scan, cfg), backbone_similar(scan, cfg)
    )
    return ChipIndex(scan=scan, rows=grouping.rows, formed=grouping.formed)


def index_chips(cfg: DataConfig, root: Path | None = None) -> list[ChipRow]:
    """The `ChipRow`s of `root` (default: ``cfg.root``), sorted by path."""
    return index_folder(cfg, root).rows
