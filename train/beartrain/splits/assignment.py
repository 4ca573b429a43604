"""Which subset each encounter goes to, and which individuals the gallery lacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Subset = Literal["train", "val", "test"]


@dataclass(frozen=True)
class Assignment:
    """The outcome of a split algorithm, before it becomes rows."""

    subset_of: dict[str, Subset]  # encounter id -> subset
    unknown: frozenset[str]  # individuals absent from train (known=0 wherever they appear)
    held_out: tuple[str, ...] = ()  # open split: individuals held out of train on purpose
