"""One labelled chip, as every part of bear-train sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ChipRow:
    """A labelled chip: where it is, whose face it shows, and which burst it belongs to."""

    path: str  # relative to the dataset root, POSIX separators: <individual>/<file>
    individual: str
    camera: str  # "" when unknown
    captured_at: datetime | None  # None when no source could date it
    encounter: str  # the burst (or video clip) it belongs to; never split across subsets
