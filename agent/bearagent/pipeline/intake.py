"""From a complete file to a decoded, dated, preprocessed chip, a rejection, or nothing.

The ledger is consulted twice: by path, size and mtime before reading (cheap), and
by content hash after reading (a rename or re-copy of a processed file). The
ledger look-ups need the database (`check_path`, `check_content`, on the intake
thread's own connection); reading, hashing, decoding, dating and preprocessing
(`read_chip_file`) need none, so a small thread pool runs them side by side
(OpenCV and hashlib release the GIL).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import tzinfo

import numpy as np

from bearagent.chips import (
    CaptureTime,
    ChipRejected,
    FileNamePattern,
    capture_time,
    decode_chip,
    preprocess,
)
from bearagent.ledger import FileIdentity, Ledger, content_sha256
from bearagent.modelcard import InputSpec
from bearagent.watch import ChipSource, WatchConfig, read_chip

#: Reasons that may only mean "still being written": retried while the file is fresh.
RETRYABLE = frozenset({"empty", "truncated", "corrupt", "not_an_image"})


@dataclass(frozen=True)
class Arrival:
    """A complete file handed over by the watcher, with when it was handed over."""

    source: ChipSource
    at: float  # time.monotonic() when the watcher handed it on
    in_order: bool = False  # part of a scan handed on in capture order: no reorder wait


@dataclass(frozen=True)
class Decoded:
    """A chip ready to be embedded: its pixels, capture time and network input."""

    arrival: Arrival
    identity: FileIdentity
    image: np.ndarray
    captured: CaptureTime
    tensor: np.ndarray | None = None  # (3, H, W) float32 per the model card


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


def check_path(arrival: Arrival, ledger: Ledger) -> FileIdentity | Skipped:
    """The file's identity by path, size and mtime, or why there is nothing to do."""
    src = arrival.source
    try:
        st = src.path.stat()
    except OSError:
        return Skipped(arrival, None, "vanished")
    ident = FileIdentity(str(src.root), src.relative, st.st_size, st.st_mtime_ns, None)
    if ledger.seen_path(ident.root, ident.path, ident.size, ident.mtime_ns):
        return Skipped(arrival, ident, "seen")
    return ident


def read_chip_file(
    arrival: Arrival,
    ident: FileIdentity,
    cfg: WatchConfig,
    dating: Dating,
    spec: InputSpec | None = None,
) -> Outcome:
    """Read, hash, decode, date (and, given `spec`, preprocess) one file; no database."""
    src = arrival.source
    fresh = time.time() - ident.mtime_ns / 1e9 < max(cfg.stable_after_s, 1.0) * 5
    try:
        data = read_chip(src, cfg.max_file_bytes)
    except ChipRejected as e:
        if e.reason == "vanished":
            return Skipped(arrival, ident, "vanished")
        return Rejected(arrival, ident, e.reason, str(e), fresh)
    ident = FileIdentity(ident.root, ident.path, ident.size, ident.mtime_ns, content_sha256(data))
    try:
        image = decode_chip(data, source=src.relative, max_pixels=cfg.max_pixels)
    except ChipRejected as e:
        return Rejected(arrival, ident, e.reason, str(e), fresh)
    taken = capture_time(
        src.path,
        src.relative,
        data,
        ident.mtime_ns / 1e9,
        dating.names,
        dating.timezone,
        sidecars=dating.sidecars,
    )
    tensor = preprocess(image, spec) if spec is not None else None
    return Decoded(arrival, ident, image, taken, tensor)


def check_content(outcome: Outcome, ledger: Ledger) -> Outcome:
    """A decoded or rejected file whose content was handled before is a duplicate."""
    sha = outcome.identity.sha256 if outcome.identity is not None else None
    if isinstance(outcome, Decoded | Rejected) and sha and ledger.seen_content(sha):
        return Skipped(outcome.arrival, outcome.identity, "duplicate")
    return outcome


def take_in(
    arrival: Arrival,
    ledger: Ledger,
    cfg: WatchConfig,
    dating: Dating,
    spec: InputSpec | None = None,
) -> Outcome:
    """All of intake for one file, on one thread (`check_path`, `read_chip_file`,
    `check_content`)."""
    ident = check_path(arrival, ledger)
    if isinstance(ident, Skipped):
        return ident
    return check_content(read_chip_file(arrival, ident, cfg, dating, spec), ledger)
