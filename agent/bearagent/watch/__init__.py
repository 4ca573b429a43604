"""Watching camera-trap folders: which files count, when they are complete, where they came from."""

from bearagent.watch.config import WatchConfig
from bearagent.watch.paths import ChipSource, FileTooLarge, OutsideWatchRoot, PathRules, read_chip
from bearagent.watch.watcher import FolderWatcher

__all__ = [
    "ChipSource",
    "FileTooLarge",
    "FolderWatcher",
    "OutsideWatchRoot",
    "PathRules",
    "WatchConfig",
    "read_chip",
]
