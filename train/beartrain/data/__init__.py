"""Labelled chips on disk: indexing, capture times, encounters, and split files."""

from beartrain.data.config import DataConfig
from beartrain.data.encounters import group_encounters
from beartrain.data.errors import ChipsFolderError, DataConfigError, MetadataError
from beartrain.data.index import ChipIndex, index_chips, index_folder
from beartrain.data.records import ChipRow
from beartrain.data.scan import TIME_SOURCES, Scan, ScannedChip, TimeSource, scan_chips

__all__ = [
    "TIME_SOURCES",
    "ChipIndex",
    "ChipRow",
    "ChipsFolderError",
    "DataConfig",
    "DataConfigError",
    "MetadataError",
    "Scan",
    "ScannedChip",
    "TimeSource",
    "group_encounters",
    "index_chips",
    "index_folder",
    "scan_chips",
]
