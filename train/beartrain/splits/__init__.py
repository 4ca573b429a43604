"""Burst-aware splits: open set (held-out individuals) and disjoint (unseen individuals)."""

from beartrain.splits.assignment import Assignment, Subset
from beartrain.splits.config import KINDS, SplitConfig
from beartrain.splits.errors import SplitConfigError, SplitImpossible, SplitInputError
from beartrain.splits.make import make_split, split_folder
from beartrain.splits.summary import format_summary, split_summary

__all__ = [
    "KINDS",
    "Assignment",
    "SplitConfig",
    "SplitConfigError",
    "SplitImpossible",
    "SplitInputError",
    "Subset",
    "format_summary",
    "make_split",
    "split_folder",
    "split_summary",
]
