"""From a complete file to a decoded chip, a rejection, or nothing (seen before).

The ledger is consulted twice: by path, size and mtime before reading (cheap), and
by content hash after reading (a rename or re-copy of a processed file).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import tzinfo

import numpy as np

from bearagent.chips import CaptureTime, ChipRejected, FileNamePattern, capture_time, decode_chip
from bearagent.ledger import FileIdentity, Ledger, content_sha256
from bearagent.watch import ChipSource, WatchConfig, read_chip

#: Reasons that may only mean "still being written": retried while the file is fresh.
RETRYABLE = frozenset({"empty", "truncated", "corrupt", "not_an_image"})


@dataclass(frozen=True)
class Arrival:
    """A complete file handed over by the watcher, with when it was handed over."""

    source: ChipSource
    at: float  # time.monotonic() when the watcher handed it on


@dataclass(frozen=True)
class Decoded:
    """A chip ready to be preprocessed."""

    arrival: Arrival
    identity: FileIdentity
    image: np.ndarray
    captured: CaptureTime


@dataclass(frozen=True)
class Rejected:
    """A file that will be recorded as rejected, with its reason."""

    arrival: Arrival
    identity: FileIdentity
    reason: str
    message: str
    fresh: bool  # modified moments ago: a retryable reason may mean "not finished yet"


@dataclass(frozen=True)
class Skipped:
    """Nothing to do: processed before, a copy of a processed file, or gone."""

    arrival: Arrival
    identity: FileIdentity | None
    why: str  # "seen", "duplicate", "vanished"


Outcome = Decoded | Rejected | Skipped


@dataclass(frozen=True)
class Dating:
    """How chips are dated: file-name patterns, the timezone of naive times, sidecars."""

    names: FileNamePattern
    timezone: tzinfo
    sidecars: bool = True


def take_in(arrival: Arrival, ledger: Ledger, cfg: WatchConfig, dating: Dating) -> Outcome:
    """Read, identify, decode and date one file (no database writes)."""
    src = arrival.source
    try:
        st = src.path.stat()
    except OSError:
        return Skipped(arrival, None, "vanished")
    ident = FileIdentity(str(src.root), src.relative, st.st_size, st.st_mtime_ns, None)
    if ledger.seen_path(ident.root, ident.path, ident.size, ident.mtime_ns):
        return Skipped(arrival, ident, "seen")
    fresh = time.time() - st.st_mtime < max(cfg.stable_after_s, 1.0) * 5
    try:
        data = read_chip(src, cfg.max_file_bytes)
    except ChipRejected as e:
        if e.reason == "vanished":
            return Skipped(arrival, ident, "vanished")
        return Rejected(arrival, ident, e.reason, str(e), fresh)
    ident = FileIdentity(ident.root, ident.path, ident.size, ident.mtime_ns, content_sha256(data))
    if ledger.seen_content(ident.sha256 or ""):
        return Skipped(arrival, ident, "duplicate")
    try:
        image = decode_chip(data, source=src.relative, max_pixels=cfg.max_pixels)
    except ChipRejected as e:
        return Rejected(arrival, ident, e.reason, str(e), fresh)
    taken = capture_time(
        src.path,
        src.relative,
        data,
        st.st_mtime,
        dating.names,
        dating.timezone,
        sidecars=dating.sidecars,
    )
    return Decoded(arrival, ident, image, taken)
